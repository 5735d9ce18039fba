"""Writing a set as a learning-set file: everything a facilitator made, nothing a member owns."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import object_session

from toolkit import sets
from toolkit.models import AgendaBlock, CustomResource, LearningSet, Meeting
from toolkit.setfile.schema import START_FORMAT


def export_set(learning_set: LearningSet) -> str:
    """The set as a learning-set file (`sessions` form) that imports back unchanged.

    Self-assessment ratings are left out: they belong to the member.
    """
    data: dict[str, Any] = {"id": learning_set.slug, "title": learning_set.title}
    data |= _optional(programme=learning_set.programme_id or "")
    data["timezone"] = learning_set.time_zone
    data["facilitator"] = _owner(learning_set)
    data |= _optional(venue=learning_set.venue, video_url=learning_set.video_url)
    data["ground_rules"] = [r.strip() for r in learning_set.ground_rules.splitlines() if r.strip()]
    data["messages"] = _messages(learning_set)
    data |= _listed(resources=_resources(learning_set))
    data["members"] = [_member(m) for m in learning_set.members]
    emails = {m.id: m.email for m in learning_set.members}
    data["sessions"] = [_session(m, emails) for m in sets.meetings_in_order(learning_set)]
    data |= _listed(actions=_actions(learning_set, emails))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=4096)


def _messages(learning_set: LearningSet) -> dict[str, Any]:
    """The set's automatic messages (`false` for one that is off)."""
    reminder = learning_set.reminder_days
    follow_up = learning_set.follow_up_days
    return {
        "reminder": {"days_before": reminder, "at": learning_set.reminder_at}
        if reminder is not None
        else False,
        "follow_up": {"days_after": follow_up, "at": learning_set.follow_up_at}
        if follow_up is not None
        else False,
        "self_assessment": learning_set.assessment_mail,
    }


def _optional(**fields: Any) -> dict[str, Any]:
    """The fields whose values are set (non-empty strings, non-zero numbers, True)."""
    return {key: value for key, value in fields.items() if value}


def _listed(**fields: Any) -> dict[str, Any]:
    """The fields whose lists or mappings are not empty."""
    return {key: value for key, value in fields.items() if value}


def _owner(learning_set: LearningSet) -> dict[str, str]:
    """The facilitator who has had an account longest (co-facilitators are not exported)."""
    owner = min(learning_set.facilitators, key=lambda u: u.id)
    return {"name": owner.name, "email": owner.email}


def _member(member) -> dict[str, Any]:
    data = {"name": member.name, "email": member.email} | _optional(grade=member.grade)
    return data | ({} if member.active else {"active": False})


def _resources(learning_set: LearningSet) -> list[dict[str, Any]]:
    """The facilitator-added resources the set's sessions use, so the file imports anywhere."""
    used = {r.resource_id for m in learning_set.meetings for r in m.resources}
    db = object_session(learning_set)
    if not used or db is None:
        return []
    query = select(CustomResource).where(CustomResource.slug.in_(used))
    return [_resource(row) for row in db.scalars(query.order_by(CustomResource.slug))]


def _resource(row: CustomResource) -> dict[str, Any]:
    data: dict[str, Any] = {"id": row.slug, "title": row.title, "url": row.url}
    data |= {"kind": row.kind, "minutes": row.minutes} | _optional(description=row.description)
    return data | _listed(hlm=row.hlm.split(), mlcf=row.mlcf.split(), gpc=row.gpc.split())


def _session(meeting: Meeting, emails: dict[int, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": meeting.key,
        "start": sets.local(meeting).strftime(START_FORMAT),
        "template": meeting.template_id,
        "title": meeting.title,
        "minutes": meeting.minutes,
    }
    data |= _optional(venue=meeting.venue, video_url=meeting.video_url)
    if meeting.status == "cancelled":
        data |= {"status": "cancelled"} | _optional(cancel_reason=meeting.cancel_reason)
    blocks = sorted(meeting.blocks, key=lambda b: b.position)
    data["agenda"] = [_block(b) for b in blocks]
    data |= _presenters(meeting, blocks, emails)
    data["cases"] = [c.case_id for c in sorted(meeting.cases, key=lambda c: c.position)]
    data["prompts"] = [p.prompt_id for p in sorted(meeting.prompts, key=lambda p: p.position)]
    for role in ("prework", "reading"):
        rows = sorted((r for r in meeting.resources if r.role == role), key=lambda r: r.position)
        data |= _listed(**{role: [r.resource_id for r in rows]})
    return data | _attendance(meeting, emails)


def _block(block: AgendaBlock) -> dict[str, Any]:
    data: dict[str, Any] = {"title": block.title, "kind": block.kind, "minutes": block.minutes}
    data |= _optional(notes=block.notes)
    return data | ({} if block.handout else {"handout": False})


def _presenters(
    meeting: Meeting, blocks: list[AgendaBlock], emails: dict[int, str]
) -> dict[str, Any]:
    """Presenters in round order (null for a round with nobody), and who chose them.

    Written for every agenda with presenter rounds, even with nobody in them, so an import
    never fills rounds the facilitator or the rota left empty.
    """
    rounds = [emails.get(b.presenter_id) for b in blocks if b.kind == "presenter"]
    if not rounds:
        return {}
    while rounds and rounds[-1] is None:
        rounds.pop()
    data: dict[str, Any] = {"presenters": rounds}
    return data | ({} if meeting.presenters_by_hand else {"presenters_from": "rota"})


def _attendance(meeting: Meeting, emails: dict[int, str]) -> dict[str, Any]:
    """Attendance in the order members joined, presences whose names were deleted, and the
    members' replies (their notes stay out: they are for the facilitator, not the file)."""
    order = {member_id: n for n, member_id in enumerate(emails)}
    rows = sorted(
        (a for a in meeting.attendance if a.member_id in emails), key=lambda a: order[a.member_id]
    )
    data = _listed(attendance={emails[a.member_id]: a.status for a in rows})
    data |= _optional(present_anonymously=meeting.anonymous_present)
    replies = sorted(
        (r for r in meeting.rsvps if r.member_id in emails), key=lambda r: order[r.member_id]
    )
    return data | _listed(rsvp={emails[r.member_id]: r.status for r in replies})


def _actions(learning_set: LearningSet, emails: dict[int, str]) -> list[dict[str, Any]]:
    """Every action of the set, oldest first, with its owner and what came of it."""
    db = object_session(learning_set)
    if db is None:
        return []
    keys = {m.id: m.key for m in learning_set.meetings}
    return [_action(a, keys, emails) for a in sets.actions_for(db, learning_set)]


def _action(action, keys: dict[int, str], emails: dict[int, str]) -> dict[str, Any]:
    data: dict[str, Any] = _optional(
        session=keys.get(action.meeting_id), owner=emails.get(action.member_id)
    )
    data |= {"text": action.text} | _optional(due=action.due, support=action.support)
    return data | {"status": action.status} | _optional(outcome=action.outcome)
