"""The presenter rota: who presents at each session, following earlier ones unless set by hand."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from toolkit.models import (
    AgendaBlock,
    LearningSet,
    Meeting,
)
from toolkit.planning import (
    propose_rota,
)
from toolkit.sets.base import SetError, active_members, meetings_in_order, touch


def presenter_rounds(meeting: Meeting) -> list[AgendaBlock]:
    """The agenda's presenter rounds, in agenda order."""
    return [b for b in sorted(meeting.blocks, key=lambda b: b.position) if b.kind == "presenter"]


def in_rota(meeting: Meeting) -> bool:
    """Whether a session counts in the rota: not cancelled and not deleted."""
    return meeting.status != "cancelled" and meeting.deleted_at is None


def presented(meeting: Meeting) -> list[int]:
    """Who presents at a session: its presenters less any who sent apologies or were absent."""
    away = {a.member_id for a in meeting.attendance if a.status != "present"}
    return [
        b.presenter_id for b in presenter_rounds(meeting) if b.presenter_id not in away | {None}
    ]


def past_presenters(meeting: Meeting) -> list[list[int]]:
    """Who presented at the set's earlier sessions that count, oldest first."""
    earlier = [
        m
        for m in meetings_in_order(meeting.learning_set)
        if m.starts_at < meeting.starts_at and in_rota(m)
    ]
    return [presented(m) for m in earlier]


def apologies(meeting: Meeting) -> set[int]:
    """Members who have sent apologies for this meeting."""
    return {a.member_id for a in meeting.attendance if a.status == "apologies"}


def proposed_presenters(meeting: Meeting, count: int) -> list[int]:
    """The rota's proposal for this meeting: fewest turns first, skipping apologies."""
    members = [m.id for m in active_members(meeting.learning_set)]
    return propose_rota(members, past_presenters(meeting), apologies(meeting), count)


def follows_rota(meeting: Meeting, now: datetime | None = None) -> bool:
    """Whether the rota still chooses this session's presenters: not set by hand, not started."""
    now = now or datetime.now(UTC)
    return in_rota(meeting) and not meeting.presenters_by_hand and meeting.starts_at > now


def refresh_rota(
    db: Session,
    learning_set: LearningSet,
    since: datetime | None = None,
    now: datetime | None = None,
    also: Collection[Meeting] = (),
) -> list[Meeting]:
    """Re-propose presenters for the sessions from `since` on (all when None) that follow the rota.

    Sessions go in start order, so each sees the presenters just chosen for the ones before it;
    call this after any change to the rota's inputs. Returns the sessions whose presenters changed.
    Sessions in `also` (just added, their presenters not yet proposed) are proposed even if they
    have started, as adding them one by one would have done.
    """
    now = now or datetime.now(UTC)
    members = [m.id for m in active_members(learning_set)]
    history: list[list[int]] = []
    changed: list[Meeting] = []
    extra = {id(m) for m in also}
    for meeting in filter(in_rota, meetings_in_order(learning_set)):
        due = (since is None or meeting.starts_at >= since) and follows_rota(meeting, now)
        due = due or (id(meeting) in extra and not meeting.presenters_by_hand)
        if due and _assign(meeting, _proposal(meeting, members, history)):
            changed.append(meeting)
        history.append(presented(meeting))
    db.flush()
    return changed


def _proposal(meeting: Meeting, members: list[int], history: list[list[int]]) -> list[int]:
    count = len(presenter_rounds(meeting))
    return propose_rota(members, history, apologies(meeting), count)


def _assign(meeting: Meeting, chosen: Sequence[int | None]) -> bool:
    """Give the presenter rounds `chosen` in order (the rest nobody); True if anything changed."""
    rounds = presenter_rounds(meeting)
    wanted = [*chosen, *[None] * len(rounds)][: len(rounds)]
    if [b.presenter_id for b in rounds] == wanted:
        return False
    for block, member_id in zip(rounds, wanted, strict=True):
        block.presenter_id = member_id
    touch(meeting)
    return True


def use_rota(db: Session, meeting: Meeting) -> None:
    """Let the rota choose this session's presenters again, as it does for later sessions."""
    meeting.presenters_by_hand = False
    _assign(meeting, proposed_presenters(meeting, len(presenter_rounds(meeting))))
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)


def set_presenters(db: Session, meeting: Meeting, presenters: Sequence[int | None]) -> None:
    """Override the rota: assign presenters to the rounds in order; later sessions follow suit."""
    members = {m.id for m in active_members(meeting.learning_set)}
    for block, member_id in zip(presenter_rounds(meeting), presenters, strict=False):
        if member_id is not None and member_id not in members:
            raise SetError("presenters must be members of this set")
        block.presenter_id = member_id
    meeting.presenters_by_hand = True
    touch(meeting)
    db.flush()
    refresh_rota(db, meeting.learning_set, meeting.starts_at)
