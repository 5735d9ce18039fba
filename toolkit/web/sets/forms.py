"""Forms for learning sets and their sessions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from toolkit import limits
from toolkit.casebank import SLUG
from toolkit.clock_changes import TwiceQuestion, missing_time_problem, twice_question
from toolkit.programmes.records import all_programmes
from toolkit.session_templates import SessionTemplate
from toolkit.sets import check_zone
from toolkit.web import ValidEmail, get_db


def _zone(_form, field) -> None:
    try:
        check_zone(field.data)
    except ValueError:
        raise ValidationError("Choose a time zone from the list, e.g. Europe/London") from None


def _https(label: str) -> StringField:
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=limits.URL),
            Regexp(r"^https://\S+$", message="Enter a link starting https://"),
        ],
    )


class LocalStartForm(FlaskForm):
    """A form with a date and a start time in the set's time zone (`zone`): a time the clocks
    skip is a form error, and a time they pass twice needs `which` to say which is meant."""

    which = RadioField(
        "Which time do you mean?",
        choices=[("first", "The first"), ("second", "The second")],
        validators=[Optional()],
    )
    day_field = "date"  # the name of the form's date field

    def __init__(self, *args, zone: ZoneInfo | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone

    def walls(self) -> list[datetime]:
        """Every start the form asks for, as naive local times (empty while one is missing)."""
        day, clock = self[self.day_field], self.start_time
        if day.data is None or clock.data is None or day.errors or clock.errors:
            return []
        return [datetime.combine(day.data, clock.data)]

    def twice(self) -> TwiceQuestion | None:
        """The question to show when a start happens twice (the clocks go back that day)."""
        return twice_question(self.walls(), self.zone) if self.zone else None

    def start(self) -> datetime:
        """The first start, aware, in the reading chosen where it happens twice."""
        fold = 1 if self.which.data == "second" else 0
        return self.walls()[0].replace(tzinfo=self.zone, fold=fold)

    def instant(self) -> datetime:
        """The first start in UTC: it compares equal to a stored start at the same moment, even
        one the clocks pass twice (an aware time in the fold never equals one in another zone)."""
        return self.start().astimezone(UTC)

    def validate(self, extra_validators: dict | None = None) -> bool:
        valid = super().validate(extra_validators)
        problem = missing_time_problem(self.walls(), self.zone) if self.zone else None
        if problem:
            self.start_time.errors.append(problem)
            return False
        question = self.twice()
        if question and self.which.data not in ("first", "second"):
            self.which.errors.append(f"Choose {question.first} or {question.second}")
            return False
        return valid


class VersionedForm(FlaskForm):
    """A form that edits one set or session, carrying the version it was opened at."""

    version = HiddenField()  # optimistic locking: see sets.check_version


def programme_choices() -> list[tuple[str, str]]:
    """None first, then every programme by year and title."""
    found = all_programmes(get_db())
    return [("", "None"), *((p.id, f"{p.title} ({p.year})" if p.year else p.title) for p in found)]


def zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone by name, Europe/London first (most sets meet in the UK)."""
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    first = ["Europe/London", "Europe/Dublin", "UTC"]
    return [(z, z) for z in first] + [(z, z) for z in zones if z not in first]


class SetForm(VersionedForm):
    title = StringField(
        "Title", validators=[DataRequired("Enter a title"), Length(max=limits.TITLE)]
    )
    slug = StringField(
        "Short id",
        description=(
            "Used in links. Made from the title unless you change it: lower-case letters, "
            "digits and hyphens, for example kss-fy-2027-a."
        ),
        validators=[
            Optional(),
            Length(max=limits.SLUG, message=f"Keep the short id within {limits.SLUG} characters"),
            Regexp(SLUG, message="Use only lower-case letters, digits and single hyphens"),
        ],
    )
    programme = SelectField(
        "Programme (optional)",
        description="An admin adds programmes and names their leads (Programmes).",
        choices=programme_choices,
        validate_choice=False,  # the core names an unknown programme
        validators=[Length(max=limits.SLUG)],
    )
    venue = TextAreaField("Venue (optional)", validators=[Length(max=limits.VENUE)])
    video_url = _https("Video link (optional)")
    time_zone = SelectField(
        "Time zone",
        default="Europe/London",
        description="The zone the sessions' dates and times are in.",
        choices=zone_choices,
        validate_choice=False,  # `_zone` says what is wrong in words
        validators=[DataRequired("Choose a time zone, for example Europe/London"), _zone],
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


class MemberListForm(VersionedForm):
    members = TextAreaField(
        "Paste a list of members",
        description=(
            "One member per line: name, e-mail address and grade, separated by commas. "
            "Rows copied from a spreadsheet (name, e-mail and grade columns) work too."
        ),
        validators=[
            DataRequired("Paste at least one member: name, e-mail address and grade"),
            Length(
                max=limits.MEMBER_LIST,
                message=f"Paste at most {limits.MEMBER_LIST:,} characters at a time",
            ),
        ],
    )


def _template_field(label: str = "Session template") -> SelectField:
    return SelectField(label, validators=[DataRequired("Choose a session template")])


class ScheduleForm(LocalStartForm):
    day_field = "first_date"
    first_date = DateField("Date of the first session", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    every_weeks = IntegerField(
        "Every how many weeks",
        default=6,
        validators=[
            DataRequired("Enter a number of weeks"),
            NumberRange(1, 26, message="Enter a number of weeks from 1 to 26"),
        ],
    )
    count = IntegerField(
        "Number of sessions",
        default=6,
        validators=[
            DataRequired("Enter how many sessions"),
            NumberRange(1, 20, message="Enter a number of sessions from 1 to 20"),
        ],
    )
    first_template = SelectField("First session", validators=[Optional()])
    template = _template_field("Sessions in between")
    last_template = SelectField("Last session", validators=[Optional()])
    minutes = IntegerField(
        "Length of each session in minutes (optional)",
        description="Leave blank and each session is as long as its template's slot.",
        validators=[
            Optional(),
            NumberRange(15, 600, message="Enter a length from 15 to 600 minutes"),
        ],
    )

    def others(self, templates: Mapping[str, SessionTemplate]) -> dict[int, SessionTemplate]:
        """The first and last sessions' own templates, by place in the series."""
        ends = {0: self.first_template.data, (self.count.data or 1) - 1: self.last_template.data}
        return {n: templates[t] for n, t in ends.items() if t in templates}

    def walls(self) -> list[datetime]:
        """Every session of the series, so a clock change on any of their dates is caught."""
        first = super().walls()
        if not first or self.every_weeks.errors or self.count.errors:
            return first
        step = timedelta(weeks=self.every_weeks.data or 1)
        return [first[0] + step * n for n in range(self.count.data or 1)]


class SessionForm(LocalStartForm):
    date = DateField("Date", validators=[DataRequired("Enter a date")])
    start_time = TimeField("Start time", validators=[DataRequired("Enter a start time")])
    template = _template_field()


class SessionDetailsForm(VersionedForm, LocalStartForm):
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


class ClosingDateForm(FlaskForm):
    closes_on = DateField(
        "Answers close at the end of",
        description="For example, the day after the first (or last) session.",
        validators=[DataRequired("Enter the date answers close")],
    )
    phase = "start"  # which point in the programme the form is for
