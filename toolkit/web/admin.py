"""Admin pages: the accounts of facilitators and admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from toolkit import limits
from toolkit.accounts import AccountError, create_user, start_reset
from toolkit.mail import MailError
from toolkit.models import User, utcnow
from toolkit.web import get_db
from toolkit.web.auth import PASSWORD_HINT, email_field, new_password_field, send_reset_link

bp = Blueprint("admin", __name__, url_prefix="/admin")


class UserForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter their name"), Length(max=limits.NAME)]
    )
    email = email_field("Enter their e-mail address")
    password = new_password_field(f"{PASSWORD_HINT} Give it to them in person or by phone.")
    admin = BooleanField("Admin (sees every set and can add accounts)")


@bp.before_request
def _admins_only():
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(404)


@bp.route("/users", methods=["GET", "POST"])
def users():
    """Every account; add a facilitator or admin."""
    form = UserForm()
    db = get_db()
    if form.validate_on_submit():
        try:
            create_user(db, form.email.data, form.password.data, form.name.data, form.admin.data)
            db.commit()
        except AccountError as exc:
            db.rollback()
            form.email.errors.append(str(exc))
        else:
            flash(f"Account added for {form.email.data}.")
            return redirect(url_for("admin.users"))
    accounts = db.scalars(select(User).order_by(User.name)).all()
    status = 400 if form.errors else 200
    return render_template("admin/users.html", form=form, accounts=accounts), status


@bp.post("/users/<int:user_id>/reset")
def send_reset(user_id: int):
    """E-mail an account a single-use link to set a new password (its current one still works
    until then)."""
    form = FlaskForm()
    db = get_db()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not form.validate_on_submit():
        abort(400, "The form has expired: go back to Users and try again.")
    link = start_reset(db, user, utcnow())
    db.commit()
    try:
        how = send_reset_link(link, current_user.user)
    except MailError as exc:
        flash(f"The link to set a new password was not sent to {user.email}: {exc}", "error")
    else:
        flash(f"Sent {user.email} a link to set a new password ({how}).")
    return redirect(url_for("admin.users"))
