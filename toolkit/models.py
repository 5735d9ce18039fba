"""The database schema for the whole product, as SQLAlchemy 2 models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from toolkit import limits


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC, so SQLite and PostgreSQL give back the same instant."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with named constraints, so migrations work on SQLite and PostgreSQL."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    """A facilitator or admin who signs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL), unique=True)
    name: Mapped[str] = mapped_column(String(limits.NAME))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # no longer read (each signed-in browser is a row in sign_ins); kept so old backups restore
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SetFacilitator(Base):
    """Which users facilitate which learning sets."""

    __tablename__ = "set_facilitators"

    set_id: Mapped[int] = mapped_column(
        ForeignKey("learning_sets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Programme(Base):
    """A programme (a deanery's or trust's year of learning sets) under one or more leads."""

    __tablename__ = "programmes"

    id: Mapped[str] = mapped_column(String(limits.SLUG), primary_key=True)  # a short slug
    title: Mapped[str] = mapped_column(String(limits.PROGRAMME))
    year: Mapped[str] = mapped_column(String(limits.PROGRAMME_YEAR), default="")
    # members whose attendance rate (percent) falls below this are listed to follow up
    follow_up_below: Mapped[int] = mapped_column(Integer, default=75, server_default="75")
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking

    leads: Mapped[list[User]] = relationship(secondary="programme_leads", order_by="User.name")
    sets: Mapped[list[LearningSet]] = relationship(
        back_populates="programme", order_by="LearningSet.title"
    )


class ProgrammeLead(Base):
    """Which users lead which programmes (they see, read-only, every set of it)."""

    __tablename__ = "programme_leads"

    programme_id: Mapped[str] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class LearningSet(Base):
    """A learning set: a small group meeting several times with a facilitator.

    `meetings` leaves out deleted sessions, so nothing a user sees needs to filter them; only the
    invites code reads `deleted_meetings`, to send their cancellations before they are purged.
    """

    __tablename__ = "learning_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(limits.SLUG), unique=True)
    title: Mapped[str] = mapped_column(String(limits.TITLE))
    programme_id: Mapped[str | None] = mapped_column(
        ForeignKey("programmes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    venue: Mapped[str] = mapped_column(Text, default="")
    video_url: Mapped[str] = mapped_column(String(limits.URL), default="")
    time_zone: Mapped[str] = mapped_column(String(limits.TIME_ZONE), default="Europe/London")
    ground_rules: Mapped[str] = mapped_column(Text, default="")  # one rule per line
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # every UPDATE of the row sets it (and every change to a child touches the row): the feed's
    # LAST-MODIFIED for the set's events
    changed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=True
    )
    # automatic messages: a reminder `reminder_days` before each session at `reminder_at`, a
    # follow-up `follow_up_days` after it at `follow_up_at` (None: off), both in the set's zone;
    # and the self-assessment invitations at the programme's start and end
    reminder_days: Mapped[int | None] = mapped_column(Integer, nullable=True, default=2)
    reminder_at: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    follow_up_days: Mapped[int | None] = mapped_column(Integer, nullable=True, default=1)
    follow_up_at: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    assessment_mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    __mapper_args__ = {"version_id_col": version}  # optimistic locking

    @property
    def programme_title(self) -> str:
        """The programme's title, or "" for a set in no programme."""
        return self.programme.title if self.programme else ""

    # collections load with their parent, one query per kind ("selectin"), so a page listing
    # sessions does not ask the database once per session (tests/test_query_counts.py)
    facilitators: Mapped[list[User]] = relationship(secondary="set_facilitators", lazy="selectin")
    programme: Mapped[Programme | None] = relationship(back_populates="sets")
    members: Mapped[list[Member]] = relationship(
        back_populates="learning_set",
        cascade="all, delete-orphan",
        order_by="Member.id",
        lazy="selectin",
    )
    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="learning_set",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Meeting.starts_at",
        primaryjoin="and_(LearningSet.id == Meeting.set_id, Meeting.deleted_at.is_(None))",
    )
    deleted_meetings: Mapped[list[Meeting]] = relationship(
        viewonly=True,
        order_by="Meeting.starts_at",
        primaryjoin="and_(LearningSet.id == Meeting.set_id, Meeting.deleted_at.is_not(None))",
    )


class Member(Base):
    """A trainee in a learning set."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("learning_sets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(limits.NAME))
    email: Mapped[str] = mapped_column(String(limits.EMAIL))
    grade: Mapped[str] = mapped_column(String(limits.GRADE), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the member's private self-assessment link; only the member holds it
    assessment_token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)

    learning_set: Mapped[LearningSet] = relationship(back_populates="members")
    __table_args__ = (UniqueConstraint("set_id", "email"),)


class Meeting(Base):
    """One meeting (a "session") of a set; `uid` stays the same across every edit."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("learning_sets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(
        String(limits.KEY)
    )  # stable id within the set (learning-set file)
    title: Mapped[str] = mapped_column(String(limits.TITLE))
    template_id: Mapped[str] = mapped_column(String(limits.TEMPLATE_ID), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(Text, default="")
    video_url: Mapped[str] = mapped_column(String(limits.URL), default="")
    status: Mapped[str] = mapped_column(
        String(limits.STATUS), default="scheduled"
    )  # or "cancelled"
    cancel_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # presenters chosen by the facilitator: the rota leaves them alone when earlier sessions change
    presenters_by_hand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # deleted by the facilitator; kept only until the members invited to it have their CANCEL
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic locking
    # members who were present and whose personal data was later deleted
    anonymous_present: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # set by every UPDATE of the row, and `sets.touch` makes each change to a block, case,
    # resource or attendance one: when anything an invite or the feed shows last changed
    changed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=True
    )
    __mapper_args__ = {"version_id_col": version}

    # a plain many-to-one (the set's `meetings` leaves deleted ones out): found in the session's
    # identity map without a query
    learning_set: Mapped[LearningSet] = relationship(
        back_populates="meetings", primaryjoin="Meeting.set_id == LearningSet.id"
    )
    blocks: Mapped[list[AgendaBlock]] = relationship(
        cascade="all, delete-orphan", order_by="AgendaBlock.position", lazy="selectin"
    )
    cases: Mapped[list[MeetingCase]] = relationship(
        cascade="all, delete-orphan", order_by="MeetingCase.position", lazy="selectin"
    )
    prompts: Mapped[list[MeetingPrompt]] = relationship(
        cascade="all, delete-orphan", order_by="MeetingPrompt.position", lazy="selectin"
    )
    attendance: Mapped[list[Attendance]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    resources: Mapped[list[MeetingResource]] = relationship(
        cascade="all, delete-orphan", order_by="MeetingResource.position", lazy="selectin"
    )
    changes: Mapped[list[MeetingChange]] = relationship(
        cascade="all, delete-orphan", order_by="MeetingChange.id"
    )
    rsvps: Mapped[list[Rsvp]] = relationship(
        cascade="all, delete-orphan", order_by="Rsvp.id", lazy="selectin"
    )
    __table_args__ = (UniqueConstraint("set_id", "key"),)


class MeetingChange(Base):
    """What changed about a meeting's time, place or status, and when."""

    __tablename__ = "meeting_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[str] = mapped_column(Text, default="")


class AgendaBlock(Base):
    """One timed block of a meeting's agenda."""

    __tablename__ = "agenda_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(limits.TITLE))
    kind: Mapped[str] = mapped_column(String(40))
    minutes: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")  # facilitator only
    handout: Mapped[bool] = mapped_column(Boolean, default=True)
    presenter_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )


class MeetingCase(Base):
    """A case from the bank attached to a meeting."""

    __tablename__ = "meeting_cases"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(String(limits.BANK_ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class MeetingPrompt(Base):
    """A prompt from the bank attached to a meeting."""

    __tablename__ = "meeting_prompts"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    prompt_id: Mapped[str] = mapped_column(String(limits.BANK_ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Attendance(Base):
    """Whether a member came to a meeting: present, apologies or absent."""

    __tablename__ = "attendance"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))


class Action(Base):
    """An action a member commits to at a meeting and reports back on later."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("learning_sets.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    due: Mapped[str] = mapped_column(String(limits.DUE), default="")
    support: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(
        String(limits.STATUS), default="open"
    )  # open, done, dropped
    outcome: Mapped[str] = mapped_column(Text, default="")


class SentInvite(Base):
    """The send log: one e-mail to one member, tied to the session it is about (a calendar
    invite, a reminder, a follow-up, or a self-assessment invitation due by that session).

    A row is written, holding its `claim`, before the message is queued; a worker moves it from
    queued to sending (the one that moves it sends it), then to delivered or failed."""

    __tablename__ = "sent_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    email: Mapped[str] = mapped_column(String(limits.EMAIL))
    kind: Mapped[str] = mapped_column(String(20), default="invite", server_default="invite")
    method: Mapped[str] = mapped_column(String(10))  # REQUEST or CANCEL; "" for other kinds
    sequence: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    transport: Mapped[str] = mapped_column(String(10))  # smtp or outbox
    result: Mapped[str] = mapped_column(Text, default="")
    delivered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    batch: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # held while a message is queued or being sent (and kept once delivered), so two senders
    # cannot both send it: an invite's is "<meeting>:<member>:<method>:<sequence>:<resend
    # number>", other kinds' "<kind>:<meeting>:<member>:<what makes it due>"
    claim: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)


class MeetingResource(Base):
    """A resource from the library set as pre-work or further reading for a meeting."""

    __tablename__ = "meeting_resources"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[str] = mapped_column(String(limits.BANK_ID), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True)  # prework or reading
    position: Mapped[int] = mapped_column(Integer, default=0)


class CustomResource(Base):
    """A resource a facilitator added to the library themselves."""

    __tablename__ = "custom_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(limits.BANK_ID), unique=True)
    title: Mapped[str] = mapped_column(String(limits.RESOURCE_TITLE))
    url: Mapped[str] = mapped_column(String(limits.RESOURCE_URL))
    kind: Mapped[str] = mapped_column(String(20))
    minutes: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    hlm: Mapped[str] = mapped_column(Text, default="")  # space-separated framework ids
    mlcf: Mapped[str] = mapped_column(Text, default="")
    gpc: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class SelfRating(Base):
    """A member's own rating of one HLM dimension at the start or end of the programme."""

    __tablename__ = "self_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(10))  # start or end
    dimension: Mapped[str] = mapped_column(String(60))
    level: Mapped[int] = mapped_column(Integer)  # 1 essential .. 4 exemplary
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("member_id", "phase", "dimension"),)


class AssessmentPhase(Base):
    """One point of a set's self-assessment (start or end): when answers close, and the anonymous
    totals frozen when they did, so that no later answer or deletion changes what was shown."""

    __tablename__ = "assessment_phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("learning_sets.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(10))  # start or end
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # facilitator's
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # frozen then
    counted: Mapped[int] = mapped_column(Integer, default=0)  # answers in the frozen totals
    # {"dimension": [members at level 1, 2, 3, 4]} as JSON; empty when too few
    # members who came to a session had answered for the totals to be shown
    totals: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("set_id", "phase"),)


class LoginThrottle(Base):
    """Failed sign-ins counted under one key (an account at an address, or an address alone), so
    each further attempt waits longer; shared by every worker, and claimed atomically."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # a SHA-256, never the e-mail
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)  # no attempt is checked earlier
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignIn(Base):
    """One signed-in browser: its cookie holds a token whose hash is here; signing out deletes
    the row, so a copy of the cookie stops working too."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordReset(Base):
    """A single-use, expiring link to set a new password; only the token's hash is kept."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Rsvp(Base):
    """A member's reply to a session's invitation (coming, apologies or maybe); the latest wins.

    `source` says where it came from: the member's page (link), their calendar's iTIP REPLY
    (calendar) or a learning-set file (import); `sequence` is the invite SEQUENCE a calendar
    reply answered, so an answer to an invitation since replaced is recognised as stale."""

    __tablename__ = "rsvps"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(limits.STATUS))  # attending, apologies, tentative
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(10), default="link")  # link, calendar, import
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),)


class PreworkTick(Base):
    """A member has done one item of a session's pre-work (ticked on their own page)."""

    __tablename__ = "prework_ticks"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[str] = mapped_column(String(limits.BANK_ID), primary_key=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationAnswerer(Base):
    """Who has answered a session's evaluation: only that they did, never what, and no time, so
    that no row here can be tied to a row of `evaluation_answers` by order or by moment. Stored
    without SQLite's hidden row number, in (session, member) order."""

    __tablename__ = "evaluation_answerers"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    __table_args__ = {"sqlite_with_rowid": False}


class EvaluationAnswer(Base):
    """One anonymous evaluation form as answered: no member, no time. Its key is random and the
    table has no hidden row number on SQLite, so reading it in key order is a shuffle."""

    __tablename__ = "evaluation_answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, never a sequence
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    answers: Mapped[str] = mapped_column(Text)  # JSON: {question id: 1..5 or text}
    __table_args__ = {"sqlite_with_rowid": False}


class EvaluationClosure(Base):
    """A session's evaluation closed early by the facilitator (otherwise it closes 14 days after
    the session ends)."""

    __tablename__ = "evaluation_closures"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reflection(Base):
    """A member's own reflection on a session they came to (What? So what? Now what?), for their
    portfolio record only: no facilitator page, pack or set file ever shows it."""

    __tablename__ = "reflections"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    what: Mapped[str] = mapped_column(Text, default="")
    so_what: Mapped[str] = mapped_column(Text, default="")
    now_what: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
