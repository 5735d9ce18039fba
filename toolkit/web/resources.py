"""The resource library on the web: browse, filter, and add your own."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from toolkit import limits
from toolkit.casebank import RESOURCE_KINDS
from toolkit.resources import NewResource, add_resource, catalogue, filter_resources
from toolkit.sets import SetError
from toolkit.web import get_db, toolkit

bp = Blueprint("resources", __name__, url_prefix="/resources")
FILTERS = ("kind", "hlm", "mlcf", "gpc", "search")


class ResourceForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired("Enter a title"), Length(max=limits.RESOURCE_TITLE)]
    )
    url = StringField(
        "Address",
        validators=[
            DataRequired("Enter the address"),
            Length(max=limits.RESOURCE_URL),
            Regexp(r"^https://\S+$", message="Enter an address starting https://"),
        ],
    )
    kind = SelectField("Kind", choices=[(k, k) for k in RESOURCE_KINDS])
    minutes = IntegerField(
        "Typical time in minutes",
        validators=[DataRequired("Enter the minutes"), NumberRange(1, 600)],
    )
    description = TextAreaField(
        "What it is, in a line",
        validators=[DataRequired("Describe it in a line"), Length(max=limits.DESCRIPTION)],
    )
    hlm = SelectField("Healthcare Leadership Model dimension (optional)")


@bp.route("/", methods=["GET", "POST"])
def index():
    """Browse and filter the library; add your own resource."""
    kit = toolkit()
    form = ResourceForm()
    form.hlm.choices = [("", "None")] + [(a.id, a.label) for a in kit.frameworks.hlm.areas]
    if form.validate_on_submit():
        new = NewResource(
            form.title.data,
            form.url.data,
            form.kind.data,
            form.minutes.data,
            form.description.data,
            hlm=(form.hlm.data,) if form.hlm.data else (),
        )
        db = get_db()
        try:
            add_resource(db, kit.bank, kit.frameworks, current_user.user, new)
            db.commit()
        except SetError as exc:
            db.rollback()
            form.url.errors.append(str(exc))
        else:
            flash(f"“{new.title}” added to the library.")
            return redirect(url_for("resources.index"))
    chosen = {f: (request.args.get(f) or "").strip() or None for f in FILTERS}
    library = catalogue(get_db(), kit.bank)
    found = filter_resources(library, **chosen)
    return render_template(
        "resources/index.html",
        resources=found,
        total=len(library),
        chosen=chosen,
        kinds=RESOURCE_KINDS,
        form=form,
    ), (400 if form.errors else 200)
