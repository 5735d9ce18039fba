"""Programmes on the web: the list, the programme page with its report and exports for leads and
admins, and the admin's forms to add programmes and name their leads."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from toolkit import limits, sets
from toolkit.models import Programme, User, utcnow
from toolkit.programmes import exports, pdf, records
from toolkit.programmes.report import ProgrammeReport, percent, programme_report
from toolkit.web import get_db, toolkit
from toolkit.web.sets.routes import attempt, download

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


class ProgrammeForm(FlaskForm):
    id = StringField(
        "Short id",
        description="Used in links and learning-set files: lower-case letters, digits and "
        "hyphens, for example kss-foundation-2026-27.",
        validators=[DataRequired("Give the programme a short id"), Length(max=limits.SLUG)],
    )
    title = StringField(
        "Title",
        validators=[DataRequired("Give the programme a title"), Length(max=limits.PROGRAMME)],
    )
    year = StringField(
        "Year (optional)", validators=[Optional(), Length(max=limits.PROGRAMME_YEAR)]
    )


class EditProgrammeForm(FlaskForm):
    version = HiddenField()
    title = ProgrammeForm.title
    year = ProgrammeForm.year
    leads = SelectMultipleField(
        "Programme leads",
        description="They see every set of the programme, read-only, and its reports.",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )


class ThresholdForm(FlaskForm):
    version = HiddenField()
    follow_up_below = IntegerField(
        "Follow up members whose attendance is below (%)",
        validators=[
            DataRequired("Give a percentage from 1 to 100"),
            NumberRange(1, 100, "Give a percentage from 1 to 100"),
        ],
    )


@bp.app_context_processor
def _menu() -> dict:
    def sees_programmes() -> bool:
        """Whether the menu shows Programmes: to admins and programme leads."""
        user = current_user
        if not user.is_authenticated:
            return False
        return user.is_admin or bool(records.programmes_for(get_db(), user.user))

    return {"sees_programmes": sees_programmes}


def _user() -> User:
    return current_user.user


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(404)


def find_programme(programme_id: str) -> Programme:
    """The programme, if the user leads it or is an admin; otherwise 404."""
    found = get_db().get(Programme, programme_id)
    if found is None or not records.may_see(_user(), found):
        abort(404)
    return found


def _report(programme: Programme) -> ProgrammeReport:
    kit = toolkit()
    db = get_db()
    report = programme_report(db, programme, kit.bank, kit.frameworks, utcnow())
    db.commit()  # self-assessment phases that have closed are frozen the first time anyone asks
    return report


@bp.route("/", methods=["GET", "POST"])
def index():
    """The programmes the user may open; an admin adds programmes here."""
    db = get_db()
    form = ProgrammeForm()
    if form.validate_on_submit():
        _admin_only()
        try:
            created = records.create_programme(db, form.id.data, form.title.data, form.year.data)
            db.commit()
        except sets.SetError as exc:
            db.rollback()
            form.id.errors.append(str(exc))
        else:
            flash("Programme added. Name its leads here.")
            return redirect(url_for("programmes.edit", programme_id=created.id))
    found = records.programmes_for(db, _user())
    status = 400 if form.errors else 200
    return render_template("programmes/index.html", programmes=found, form=form), status


@bp.route("/<programme_id>")
def show(programme_id: str):
    """The programme lead's view: sets, attendance, who to follow up, coverage, evaluation and
    self-assessment, with the report and exports to download."""
    programme = find_programme(programme_id)
    report = _report(programme)
    form = ThresholdForm(version=programme.version, follow_up_below=programme.follow_up_below)
    return _page(programme, report, form)


def _page(programme: Programme, report: ProgrammeReport, form: ThresholdForm, status: int = 200):
    first_set = report.sets[0].slug if report.sets else None
    page = render_template(
        "programmes/show.html",
        p=programme,
        r=report,
        form=form,
        percent=percent,
        frameworks=pdf.FRAMEWORK_NAMES,
        shades=pdf.SHADES,
        first_set=first_set,
        min_answers=pdf.MIN_ANSWERS,
    )
    return page, status


@bp.post("/<programme_id>/threshold")
def threshold(programme_id: str):
    """The attendance rate below which the page lists a member to follow up."""
    programme = find_programme(programme_id)
    form = ThresholdForm()
    if not form.validate_on_submit():
        return _page(programme, _report(programme), form, 400)
    change = lambda: records.set_threshold(  # noqa: E731
        get_db(), programme, form.version.data, form.follow_up_below.data
    )
    status = attempt(change, "Threshold saved.")
    if status is not None:
        return _page(programme, _report(programme), form, status)
    return redirect(url_for("programmes.show", programme_id=programme.id) + "#follow-up")


@bp.route("/<programme_id>/edit", methods=["GET", "POST"])
def edit(programme_id: str):
    """An admin changes a programme's title and year and names its leads."""
    _admin_only()
    db = get_db()
    programme = find_programme(programme_id)
    form = EditProgrammeForm(
        version=programme.version,
        title=programme.title,
        year=programme.year,
        leads=[u.id for u in programme.leads],
    )
    users = list(db.scalars(select(User).order_by(User.name)))
    form.leads.choices = [(u.id, f"{u.name} ({u.email})") for u in users]
    if form.validate_on_submit():
        chosen = [u for u in users if u.id in set(form.leads.data or [])]
        change = lambda: records.change_programme(  # noqa: E731
            db, programme, form.version.data, form.title.data, form.year.data or "", chosen
        )
        status = attempt(change, "Programme saved.")
        if status is None:
            return redirect(url_for("programmes.show", programme_id=programme.id))
        return render_template("programmes/edit.html", p=programme, form=form), status
    status = 400 if form.errors else 200
    return render_template("programmes/edit.html", p=programme, form=form), status


def _stem(report: ProgrammeReport) -> str:
    return report.programme_id


@bp.route("/<programme_id>/report.pdf")
def report_pdf(programme_id: str):
    programme = find_programme(programme_id)
    report = _report(programme)
    leads = [u.name for u in programme.leads]
    body = pdf.report_pdf(report, leads, f"{utcnow():%d %B %Y}")
    return download(body, "application/pdf", f"{_stem(report)}-report.pdf")


@bp.route("/<programme_id>/attendance.csv")
def attendance_csv(programme_id: str):
    report = _report(find_programme(programme_id))
    body = exports.attendance_csv(report)
    return download(body, "text/csv; charset=utf-8", f"{_stem(report)}-attendance.csv")


@bp.route("/<programme_id>/attendance-summary.csv")
def summary_csv(programme_id: str):
    report = _report(find_programme(programme_id))
    body = exports.summary_csv(report)
    return download(body, "text/csv; charset=utf-8", f"{_stem(report)}-attendance-summary.csv")


@bp.route("/<programme_id>/attendance.xlsx")
def attendance_xlsx(programme_id: str):
    report = _report(find_programme(programme_id))
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(exports.attendance_xlsx(report), kind, f"{_stem(report)}-attendance.xlsx")
