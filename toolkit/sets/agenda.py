"""A session's agenda: blocks from a template, edits, and the cases and prompts attached."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from toolkit import limits
from toolkit.casebank import Bank, Case, series_parts
from toolkit.models import (
    AgendaBlock,
    Meeting,
    MeetingCase,
    MeetingPrompt,
)
from toolkit.planning import (
    Overrun,
    PlannedBlock,
    TimedBlock,
    check_overrun,
    expand_template,
    timed_agenda,
)
from toolkit.session_templates import SessionTemplate
from toolkit.sets.base import (
    SetError,
    check_room,
    line,
    local,
    meeting_number,
    meetings_in_order,
    next_position,
    text_field,
    touch,
)
from toolkit.sets.rota import proposed_presenters, refresh_rota
from toolkit.text import one_line


def apply_template(
    db: Session,
    meeting: Meeting,
    template: SessionTemplate,
    presenters: Sequence[int | None] | None = None,
    bank: Bank | None = None,
    rota: bool = True,
) -> None:
    """Replace the agenda with the template's blocks; presenter rounds follow the rota, and
    the set's first session leaves out the review of actions (there are none yet).

    With `bank`, attached cases get their case blocks back (see `attach`). With `rota` off the
    rounds are left without presenters and later sessions as they are: for a caller that adds
    many sessions and then runs `refresh_rota` once (each run reads every session).
    """
    touch(meeting)
    meeting.presenters_by_hand = presenters is not None
    if presenters is None:
        chosen = proposed_presenters(meeting, template.presenters) if rota else []
        presenters = chosen + [None] * (template.presenters - len(chosen))
    meeting.template_id = template.id
    if meeting.blocks:  # the old blocks go before the new ones take their positions
        meeting.blocks.clear()
        db.flush()
    first = meeting_number(meeting) == 1
    for position, block in enumerate(expand_template(template, presenters, first)):
        meeting.blocks.append(_row(block, position))
    if bank is not None:
        _restore_case_blocks(db, meeting, bank)
    db.flush()
    if rota:
        refresh_rota(db, meeting.learning_set, meeting.starts_at)


def _row(block: PlannedBlock, position: int) -> AgendaBlock:
    return AgendaBlock(
        position=position,
        title=block.title,
        kind=block.kind,
        minutes=block.minutes,
        notes=block.notes,
        handout=block.handout,
        presenter_id=block.presenter,
    )


def planned_blocks(meeting: Meeting) -> list[PlannedBlock]:
    """The meeting's agenda rows as plain blocks."""
    return [
        PlannedBlock(b.title, b.kind, b.minutes, b.notes, b.handout, b.presenter_id)
        for b in meeting.blocks
    ]


def agenda(meeting: Meeting) -> list[TimedBlock]:
    """The agenda with clock times in the set's zone."""
    return timed_agenda(local(meeting), meeting.minutes, planned_blocks(meeting))


def overrun(meeting: Meeting) -> Overrun | None:
    """How far the agenda runs past the meeting's slot, if it does."""
    return check_overrun(local(meeting), meeting.minutes, planned_blocks(meeting))


def renumber(meeting: Meeting) -> None:
    """Make block positions 0..n-1 in their current order."""
    for position, block in enumerate(sorted(meeting.blocks, key=lambda b: b.position)):
        block.position = position


def move_block(db: Session, meeting: Meeting, block_id: int, step: int) -> None:
    """Move a block up (-1) or down (+1) the agenda."""
    blocks = sorted(meeting.blocks, key=lambda b: b.position)
    index = next((i for i, b in enumerate(blocks) if b.id == block_id), None)
    if index is None:
        raise SetError("that block is not on this agenda")
    target = index + step
    if not 0 <= target < len(blocks):
        return
    blocks[index].position, blocks[target].position = (
        blocks[target].position,
        blocks[index].position,
    )
    touch(meeting)
    db.flush()
    if "presenter" in (blocks[index].kind, blocks[target].kind):
        refresh_rota(db, meeting.learning_set, meeting.starts_at)


def attach(
    db: Session,
    meeting: Meeting,
    bank: Bank,
    case_id: str = "",
    prompt_id: str = "",
    with_block: bool = True,
) -> AgendaBlock | None:
    """Attach a case or prompt from the bank (attaching twice is harmless).

    A case also gets a block of its own minutes just before process review, and that block is
    returned; but the first case fills the agenda's own case blocks (e.g. the case-discussion
    template's) when it has them, and `with_block=False` adds no block (for an importer that
    restores an exact agenda).
    """
    block = _attach_case(db, meeting, bank, case_id, with_block) if case_id else None
    if prompt_id:
        if prompt_id not in bank.prompts:
            raise SetError(f"no prompt '{prompt_id}' in the bank")
        if all(p.prompt_id != prompt_id for p in meeting.prompts):
            check_room(len(meeting.prompts), limits.PROMPTS, "prompts in a session")
            meeting.prompts.append(
                MeetingPrompt(prompt_id=prompt_id, position=next_position(meeting.prompts))
            )
    touch(meeting)
    db.flush()
    return block


def later_parts(meeting: Meeting, bank: Bank, case_id: str) -> list[tuple[Meeting, Case]]:
    """For part 1 of a case in parts: each later part paired with the next session, in order
    (fewer pairs than parts when the set has too few sessions left); nothing for other cases."""
    case = bank.cases.get(case_id)
    if case is None or case.part != 1:
        return []
    following = [
        m
        for m in meetings_in_order(meeting.learning_set)
        if m.starts_at > meeting.starts_at and m.deleted_at is None and m.status != "cancelled"
    ]
    return list(zip(following, series_parts(bank, case)[1:], strict=False))


def attach_with_parts(
    db: Session, meeting: Meeting, bank: Bank, case_id: str = "", prompt_id: str = ""
) -> list[tuple[Meeting, Case]]:
    """`attach`, and for part 1 of a case in parts put each later part on the next session,
    one each, in order; refuse (attaching nothing) when the set has too few sessions left."""
    case = bank.cases.get(case_id)
    later = series_parts(bank, case)[1:] if case is not None and case.part == 1 else []
    pairs = later_parts(meeting, bank, case_id)
    if len(pairs) < len(later):
        missing = len(later) - len(pairs)
        raise SetError(
            f"'{case.title}' is part 1 of {len(later) + 1}, one part per session: add {missing} "
            "more session(s) after this one, then attach it again"
        )
    attach(db, meeting, bank, case_id, prompt_id)
    for later_meeting, part in pairs:
        attach(db, later_meeting, bank, part.id)
    return pairs


def _attach_case(
    db: Session, meeting: Meeting, bank: Bank, case_id: str, with_block: bool
) -> AgendaBlock | None:
    if case_id not in bank.cases:
        raise SetError(f"no case '{case_id}' in the bank")
    if any(c.case_id == case_id for c in meeting.cases):
        return None
    check_room(len(meeting.cases), limits.CASES, "cases in a session")
    needs_block = with_block and not _fills_slot(meeting, case_id)
    meeting.cases.append(MeetingCase(case_id=case_id, position=next_position(meeting.cases)))
    return add_case_block(db, meeting, bank.cases[case_id]) if needs_block else None


def detach(
    db: Session, meeting: Meeting, case_id: str = "", prompt_id: str = "", with_block: bool = True
) -> None:
    """Remove an attached case (and, `with_block`, the block `attach` added for it) or prompt."""
    if case_id and with_block:
        remove_case_block(db, meeting, case_id)
    meeting.cases[:] = [c for c in meeting.cases if c.case_id != case_id]
    meeting.prompts[:] = [p for p in meeting.prompts if p.prompt_id != prompt_id]
    touch(meeting)
    db.flush()


# A case's block names the case in its notes as "(case bank: <id>)"; that is the link
# `detach` follows, so the block may be renamed, moved or re-timed and still goes with its case.
CASE_LINK = re.compile(r"\(case bank: ([^()\s]+)\)")


def case_block_notes(case: Case) -> str:
    """Facilitator notes for a case's agenda block, naming the case so the block stays linked."""
    return (
        f"Work through '{case.title}' (case bank: {case.id}): the scenario and questions are in "
        "the handout, the facilitator notes in the facilitator pack."
    )


def linked_case(block: AgendaBlock) -> str | None:
    """The id of the case a block was added for, if it is such a block."""
    found = CASE_LINK.search(block.notes or "") if block.kind == "case" else None
    return found.group(1) if found else None


def case_block(meeting: Meeting, case_id: str) -> AgendaBlock | None:
    """The block added to the agenda for an attached case, if it has one."""
    return next((b for b in meeting.blocks if linked_case(b) == case_id), None)


def _fills_slot(meeting: Meeting, case_id: str) -> bool:
    """Whether the agenda has case blocks of its own that no other attached case uses yet."""
    slot = any(b.kind == "case" and linked_case(b) is None for b in meeting.blocks)
    others = [c.case_id for c in meeting.cases if c.case_id != case_id]
    return slot and all(case_block(meeting, other) is not None for other in others)


def _case_position(meeting: Meeting) -> int:
    """Where a case block goes: before process review, else before the close, else last."""
    for kind in ("process-review", "close"):
        found = [b.position for b in meeting.blocks if b.kind == kind]
        if found:
            return min(found)
    return len(meeting.blocks)


def add_case_block(db: Session, meeting: Meeting, case: Case) -> AgendaBlock:
    """Put a block for `case`, timed by the case's own minutes, just before process review."""
    renumber(meeting)
    position = _case_position(meeting)
    for b in meeting.blocks:
        b.position += b.position >= position
    title = f"Case: {case.title}"[:200]
    block = _row(PlannedBlock(title, "case", case.minutes, case_block_notes(case)), position)
    meeting.blocks.append(block)
    meeting.blocks.sort(key=lambda b: b.position)
    db.flush()
    return block


def remove_case_block(db: Session, meeting: Meeting, case_id: str) -> None:
    """Take the block added for an attached case off the agenda (none: nothing to do)."""
    block = case_block(meeting, case_id)
    if block is not None:
        meeting.blocks.remove(block)
        renumber(meeting)
        db.flush()


def _restore_case_blocks(db: Session, meeting: Meeting, bank: Bank) -> None:
    """After a rebuild: the first attached case fills the agenda's case blocks, if any."""
    slot_free = any(b.kind == "case" for b in meeting.blocks)
    for row in sorted(meeting.cases, key=lambda c: c.position):
        case = bank.cases.get(row.case_id)
        if case is not None and not slot_free:
            add_case_block(db, meeting, case)
        slot_free = False


PROMPT_STAGES_FOR_KIND = {
    "check-in": {"check-in"},
    "ground-rules": {"contracting"},
    "presenter": {"clarify", "explore", "challenge", "feelings", "options", "action"}
    | {"reflecting-back"},
    "case": {"clarify", "explore", "challenge", "options", "action", "learning", "balint"},
    "process-review": {"process-review", "learning"},
    "action-review": {"learning", "action"},
    "close": {"learning", "check-out", "ending"},
}


def suggest_prompts(meeting: Meeting, bank: Bank, limit: int = 8) -> list:
    """Prompts for this agenda's block kinds, those sharing tags with attached cases first."""
    stages = set().union(*(PROMPT_STAGES_FOR_KIND.get(b.kind, set()) for b in meeting.blocks))
    attached = {p.prompt_id for p in meeting.prompts}
    case_tags = [bank.cases[c.case_id].tags for c in meeting.cases if c.case_id in bank.cases]
    wanted_hlm = {t for tags in case_tags for t in tags.hlm}
    wanted_mlcf = {t.split(".")[0] for tags in case_tags for t in tags.mlcf}

    def score(prompt) -> int:
        return len(wanted_hlm & set(prompt.tags.hlm)) + len(
            wanted_mlcf & {t.split(".")[0] for t in prompt.tags.mlcf}
        )

    found = [p for p in bank.prompts.values() if p.stage in stages and p.id not in attached]
    found.sort(key=lambda p: (-score(p), p.stage, p.id))
    return found[:limit]


def _block(meeting: Meeting, block_id: int) -> AgendaBlock:
    block = next((b for b in meeting.blocks if b.id == block_id), None)
    if block is None:
        raise SetError("that block is not on this agenda")
    return block


def add_block(
    db: Session,
    meeting: Meeting,
    title: str,
    kind: str,
    minutes: int,
    notes: str = "",
    handout: bool = True,
) -> AgendaBlock:
    """Append a block to the agenda."""
    if minutes < 1:
        raise SetError("a block needs at least 1 minute")
    title, notes = line(title, limits.TITLE, "title"), text_field(notes, limits.NOTES, "notes")
    check_room(len(meeting.blocks), limits.BLOCKS, "agenda blocks in a session")
    block = _row(PlannedBlock(title, kind, minutes, notes, handout), 0)
    block.position = max((b.position for b in meeting.blocks), default=-1) + 1
    meeting.blocks.append(block)
    touch(meeting)
    db.flush()
    if kind == "presenter":
        refresh_rota(db, meeting.learning_set, meeting.starts_at)
    return block


def update_block(db: Session, meeting: Meeting, block_id: int, title: str, minutes: str) -> None:
    """Rename a block or change its minutes."""
    block = _block(meeting, block_id)
    if not minutes.strip().isdigit() or not 1 <= int(minutes) <= 600:
        raise SetError("minutes must be a whole number from 1 to 600")
    if not one_line(title):
        raise SetError("a block needs a title")
    block.title, block.minutes = line(title, limits.TITLE, "title"), int(minutes)
    touch(meeting)
    db.flush()


def remove_block(db: Session, meeting: Meeting, block_id: int) -> None:
    """Take a block off the agenda; removing a presenter round re-proposes the rota from here."""
    block = _block(meeting, block_id)
    meeting.blocks.remove(block)
    renumber(meeting)
    touch(meeting)
    db.flush()
    if block.kind == "presenter":
        refresh_rota(db, meeting.learning_set, meeting.starts_at)
