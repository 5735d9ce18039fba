"""Forms for learning sets and their sessions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from toolkit import limits
from toolkit.casebank import SLUG
from toolkit.sets import check_zone
from toolkit.web import ValidEmail


def _zone(_form, field) -> None:
    try:
        check_zone(field.data)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _https(label: str) -> StringField:
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=limits.URL),
            Regexp(r"^https://\S+$", message="Enter a link starting https://"),
        ],
    )


class VersionedForm(FlaskForm):
    """A form that edits one set or session, carrying the version it was opened at."""

    version = HiddenField()  # optimistic locking: see sets.check_version


class SetForm(VersionedForm):
    title = StringField(
        "Title", validators=[DataRequired("Enter a title"), Length(max=limits.TITLE)]
    )
    slug = StringField(
        "Short id",
        description="Lower-case letters, digits and hyphens, e.g. kss-fy-2027-a. Used in links.",
        validators=[
            DataRequired("Enter a short id"),
            Length(max=limits.SLUG),
            Regexp(SLUG, message="Use lower-case letters, digits and single hyphens only"),
        ],
    )
    programme = StringField(
        "Programme or cohort (optional)", validators=[Length(max=limits.PROGRAMME)]
    )
    venue = TextAreaField("Venue (optional)", validators=[Length(max=limits.VENUE)])
    video_url = _https("Video link (optional)")
    time_zone = StringField(
        "Time zone",
        default="Europe/London",
        validators=[
            DataRequired("Enter a time zone, for example Europe/London"),
            Length(max=limits.TIME_ZONE),
            _zone,
        ],
    )


class GroundRulesForm(VersionedForm):
    ground_rules = TextAreaField(
        "Ground rules",
        description="One rule per line.",
        validators=[Length(max=limits.GROUND_RULES)],
    )


class MemberForm(VersionedForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the member's name"), Length(max=limits.NAME)]
    )
    email = EmailField(
        "E-mail address",
        validators=[
            DataRequired("Enter the member's e-mail address"),
            Length(max=limits.EMAIL),
            ValidEmail(),
        ],
    )
    grade = StringField(
        "Grade", description="For example FY1, CT2, ST4.", validators=[Length(max=limits.GRADE)]
    )


def _template_field(label: str = "Session template") -> SelectField:
    return SelectField(label, validators=[DataRequired("Choose a session template")])


class ScheduleForm(FlaskForm):
    first_date = DateField("Date of the first session", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    every_weeks = IntegerField(
        "Every how many weeks",
        default=6,
        validators=[DataRequired("Enter a number of weeks"), NumberRange(1, 26)],
    )
    count = IntegerField(
        "Number of sessions",
        default=6,
        validators=[DataRequired("Enter how many sessions"), NumberRange(1, 20)],
    )
    template = _template_field()


class SessionForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    template = _template_field()


class SessionDetailsForm(VersionedForm):
    title = StringField(
        "Title", validators=[DataRequired("Enter a title"), Length(max=limits.TITLE)]
    )
    date = DateField("Date", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    minutes = IntegerField(
        "Length in minutes", validators=[DataRequired("Enter the length"), NumberRange(15, 600)]
    )
    venue = TextAreaField("Venue", validators=[Length(max=limits.VENUE)])
    video_url = _https("Video link")


class TemplateForm(VersionedForm):
    template = _template_field("Rebuild the agenda from")
    take_length = BooleanField("Also make the session as long as the template's slot", default=True)


class BlockForm(VersionedForm):
    title = StringField(
        "Block title", validators=[DataRequired("Enter a title"), Length(max=limits.TITLE)]
    )
    kind = SelectField("Kind")
    minutes = IntegerField(
        "Minutes", validators=[DataRequired("Enter the minutes"), NumberRange(1, 300)]
    )
    notes = TextAreaField("Facilitator notes", validators=[Length(max=limits.NOTES)])
    handout = BooleanField("Show on the participant handout", default=True)


class ActionForm(VersionedForm):
    member = SelectField("Member", coerce=int)
    text = TextAreaField(
        "Action", validators=[DataRequired("Describe the action"), Length(max=limits.ACTION)]
    )
    due = StringField("By when", validators=[Length(max=limits.DUE)])
    support = StringField("Support needed", validators=[Length(max=limits.SUPPORT)])


class ImportForm(FlaskForm):
    file = FileField(
        "Learning-set file (YAML)",
        description="The same format `toolkit sets export` writes.",
        validators=[FileRequired("Choose a learning-set file to upload")],
    )
