"""Turn a queued row of the send log into its e-mail, from the database as it is when the worker
takes it: a message whose session has moved, been cancelled, or left it behind is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from toolkit import evaluations, invites, members, packs, self_assessment, sets
from toolkit.calendar import Person
from toolkit.casebank import Bank
from toolkit.config import Settings
from toolkit.frameworks import Frameworks
from toolkit.jobs.letters import FollowUp, Reminder, follow_up_letter, reminder_letter
from toolkit.jobs.outgoing import Composed, Drop
from toolkit.letters import Section
from toolkit.mail import SERVICE, Letter, compose_plain
from toolkit.models import Meeting, Member, SentInvite
from toolkit.resources import catalogue
from toolkit.sets.rota import presented

FOLLOW_UP_DOCUMENTS = ("reflection", "evaluation")
PREVIEW_TOKEN = "…your-private-link…"  # what a preview shows for a member's private token


@dataclass(frozen=True)
class Content:
    """What a worker needs besides the database: settings, the bank, the frameworks."""

    settings: Settings
    bank: Bank
    frameworks: Frameworks


def member_link(settings: Settings, token: str) -> str:
    """A member's private self-assessment address (the web's `self_assessment.member` route)."""
    return f"{settings.base_url}/self-assessment/{token}"


class Composer:
    """Composes any kind of queued message (see `toolkit.jobs.outgoing.Composer`)."""

    def __init__(self, content: Content) -> None:
        self.content = content

    def __call__(self, db: Session, row: SentInvite, now: datetime) -> Composed | Drop:
        meeting = db.get(Meeting, row.meeting_id)
        member = db.get(Member, row.member_id) if row.member_id is not None else None
        if meeting is None or member is None:
            return Drop("the session or the member has been deleted")
        if row.kind == "invite":
            return self._invite(db, row, meeting)
        why_not = _unwanted(db, row, meeting, member, now)
        if why_not:
            return Drop(why_not)
        return getattr(self, "_" + row.kind.replace("-", "_"))(db, row, meeting, member)

    def _invite(self, db: Session, row: SentInvite, meeting: Meeting) -> Composed | Drop:
        config = invites.InviteSettings.from_settings(
            self.content.settings, catalogue(db, self.content.bank)
        )

        def replies(p: invites.Pending) -> Section | None:
            if p.method != "REQUEST":
                return None  # a cancellation asks nothing
            self_assessment.ensure_token(p.member)
            db.commit()
            return self.reply_links(meeting, p.member.assessment_token)

        return invites.compose_row(db, row, config, replies)

    def reply_links(self, meeting: Meeting, token: str | None) -> Section | None:
        """ "I can come" and "I can't come" to the member's page, once they have a private link."""
        if not token:
            return None
        return members.reply_section(self.content.settings.base_url, token, meeting)

    def reminder_letter(
        self, db: Session, meeting: Meeting, member: Member, token: str = PREVIEW_TOKEN
    ) -> Letter:
        """The reminder: the member's open actions from earlier meetings, whether they present,
        and their reply links (with `token`; a preview shows a stand-in, never the real one)."""
        earlier = [a for a in sets.actions_to_review(db, meeting) if a.member_id == member.id]
        presenting = member.id in presented(meeting)
        facts = Reminder(
            meeting,
            member,
            invites.organizer(meeting).name,
            tuple(earlier),
            presenting,
            self.reply_links(meeting, token),
        )
        return reminder_letter(facts, catalogue(db, self.content.bank))

    def follow_up_letter(
        self,
        db: Session,
        meeting: Meeting,
        member: Member,
        attachments: bool,
        token: str = PREVIEW_TOKEN,
    ) -> Letter:
        """The follow-up: how the member attended, their actions from this meeting."""
        attended = {a.member_id: a.status for a in meeting.attendance}.get(member.id)
        mine = [
            a
            for a in sets.actions_for(db, meeting.learning_set)
            if a.meeting_id == meeting.id and a.member_id == member.id
        ]
        titles = tuple(packs.DOCUMENTS[s].title for s in FOLLOW_UP_DOCUMENTS) if attachments else ()
        came = attended not in evaluations.NOT_THERE
        facts = FollowUp(
            meeting,
            member,
            invites.organizer(meeting).name,
            attended,
            tuple(mine),
            titles,
            evaluation=(
                members.evaluation_url(self.content.settings.base_url, token, meeting)
                if came
                else None
            ),
            closes=sets.describe_moment(meeting.learning_set, evaluations.closes_at(db, meeting)),
        )
        return follow_up_letter(facts)

    def assessment_letter(self, meeting: Meeting, member: Member, url: str, nudge: bool) -> Letter:
        return self_assessment.link_letter(member, meeting.learning_set, url, nudge=nudge)

    def _reminder(self, db: Session, row: SentInvite, meeting: Meeting, member: Member) -> Composed:
        token = self_assessment.ensure_token(member)
        db.commit()
        letter = self.reminder_letter(db, meeting, member, token)
        return self._plain(meeting, member, letter, f"reminder-{row.id}")

    def _follow_up(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member
    ) -> Composed:
        token = self_assessment.ensure_token(member)
        db.commit()
        letter = self.follow_up_letter(db, meeting, member, attachments=True, token=token)
        composed = self._plain(meeting, member, letter, f"follow-up-{row.id}")
        number = sets.meeting_number(meeting)
        pack = packs.build_pack(db, meeting, self.content.bank, self.content.frameworks)
        cache: Path = self.content.settings.pdf_cache_dir
        for stem in FOLLOW_UP_DOCUMENTS:
            pdf = packs.render_document(pack, stem, cache).pdf
            composed.email.add_attachment(
                pdf, maintype="application", subtype="pdf", filename=f"session-{number}-{stem}.pdf"
            )
        return composed

    def _assessment(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member
    ) -> Composed:
        return self._link(db, row, meeting, member, nudge=False)

    def _assessment_reminder(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member
    ) -> Composed:
        return self._link(db, row, meeting, member, nudge=True)

    def _assessment_link(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member
    ) -> Composed:
        return self._link(db, row, meeting, member, nudge=False)

    def _member_link(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member
    ) -> Composed:
        """The member's private link to their own page, sent again by the facilitator."""
        token = self_assessment.ensure_token(member)
        db.commit()
        url = members.page_url(self.content.settings.base_url, token)
        letter = members.link_letter(member, meeting.learning_set, url)
        return self._plain(meeting, member, letter, f"member-link-{member.id}")

    def _link(
        self, db: Session, row: SentInvite, meeting: Meeting, member: Member, nudge: bool
    ) -> Composed:
        token = self_assessment.ensure_token(member)
        db.commit()
        url = member_link(self.content.settings, token)
        letter = self.assessment_letter(meeting, member, url, nudge)
        name = "self-assessment-reminder" if nudge else "self-assessment"
        return self._plain(meeting, member, letter, f"{name}-{member.id}")

    def _plain(self, meeting: Meeting, member: Member, letter: Letter, name: str) -> Composed:
        settings = self.content.settings
        facilitator = invites.organizer(meeting)
        email = compose_plain(
            Person(SERVICE, settings.mail_from),
            facilitator,
            Person(member.name, member.email),
            letter,
            settings.host,
        )
        return Composed(email, name)


def _unwanted(db: Session, row: SentInvite, meeting: Meeting, member: Member, now: datetime) -> str:
    """Why an automatic message is no longer wanted, or "" when it still is."""
    if not member.active:
        return "the member has left the set"
    gone = meeting.deleted_at is not None or meeting.status == "cancelled"
    if gone and row.kind in ("reminder", "follow-up"):
        return "the session was cancelled"
    if row.kind == "reminder":
        if row.claim and not row.claim.endswith(f":{meeting.starts_at:%Y%m%dT%H%M}"):
            return "the session moved; a reminder for its new time is due instead"
        if meeting.starts_at <= now:
            return "the session has started"
    if row.kind in ("assessment", "assessment-reminder"):
        phase = (row.claim or "::").split(":")[1]
        learning_set = meeting.learning_set
        answered = self_assessment.answered_by(db, learning_set).get(phase, set())
        if member.id in answered:
            return "the member has answered already"
        row_ = self_assessment.phase_row(db, learning_set, phase)
        if self_assessment.is_closed(row_, learning_set, answered, now):
            return "answers for that phase have closed"
    return ""
