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

from toolkit.casebank import SLUG
from toolkit.sets import check_zone
from toolkit.web import ValidEmail


def _zone(_form, field) -> None:
    try:
        check_zone(field.data)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class SetForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title"), Length(max=200)])
    slug = StringField(
        "Short id",
        description="Lower-case letters, digits and hyphens, e.g. kss-fy-2027-a. Used in links.",
        validators=[
            DataRequired("Enter a short id"),
            Regexp(SLUG, message="Use lower-case letters, digits and single hyphens only"),
            Length(max=80),
        ],
    )
    programme = StringField("Programme or cohort (optional)", validators=[Length(max=200)])
    venue = TextAreaField("Venue (optional)", validators=[Length(max=500)])
    video_url = StringField(
        "Video link (optional)",
        validators=[Optional(), Regexp(r"^https://\S+$", message="Enter a link starting https://")],
    )
    time_zone = StringField(
        "Time zone",
        default="Europe/London",
        validators=[DataRequired("Enter a time zone, for example Europe/London"), _zone],
    )
    version = HiddenField()  # optimistic locking: the version the form was opened at


class GroundRulesForm(FlaskForm):
    ground_rules = TextAreaField(
        "Ground rules", description="One rule per line.", validators=[Length(max=5000)]
    )


class MemberForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the member's name"), Length(max=200)]
    )
    email = EmailField(
        "E-mail address",
        validators=[
            DataRequired("Enter the member's e-mail address"),
            ValidEmail(),
        ],
    )
    grade = StringField(
        "Grade", description="For example FY1, CT2, ST4.", validators=[Length(max=40)]
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


class SessionDetailsForm(FlaskForm):
    version = HiddenField()  # optimistic locking: the version the form was opened at
    title = StringField("Title", validators=[DataRequired("Enter a title"), Length(max=200)])
    date = DateField("Date", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    minutes = IntegerField(
        "Length in minutes", validators=[DataRequired("Enter the length"), NumberRange(15, 600)]
    )
    venue = TextAreaField("Venue", validators=[Length(max=500)])
    video_url = StringField(
        "Video link",
        validators=[Optional(), Regexp(r"^https://\S+$", message="Enter a link starting https://")],
    )


class TemplateForm(FlaskForm):
    template = _template_field("Rebuild the agenda from")
    take_length = BooleanField("Also make the session as long as the template's slot", default=True)


class BlockForm(FlaskForm):
    title = StringField("Block title", validators=[DataRequired("Enter a title"), Length(max=200)])
    kind = SelectField("Kind")
    minutes = IntegerField(
        "Minutes", validators=[DataRequired("Enter the minutes"), NumberRange(1, 300)]
    )
    notes = TextAreaField("Facilitator notes", validators=[Length(max=5000)])
    handout = BooleanField("Show on the participant handout", default=True)


class ActionForm(FlaskForm):
    member = SelectField("Member", coerce=int)
    text = TextAreaField(
        "Action", validators=[DataRequired("Describe the action"), Length(max=2000)]
    )
    due = StringField("By when", validators=[Length(max=40)])
    support = StringField("Support needed", validators=[Length(max=500)])


class ImportForm(FlaskForm):
    file = FileField(
        "Learning-set file (YAML)",
        description="The same format `toolkit sets export` writes.",
        validators=[FileRequired("Choose a learning-set file to upload")],
    )
