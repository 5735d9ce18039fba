"""Session planning arithmetic: series dates, timed agendas, over-runs and the presenter rota."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from toolkit.session_templates import SessionTemplate


def local_start(day: date, clock: time, zone: str) -> datetime:
    """An aware datetime for a wall-clock time on a day in a zone (14:00 means 14:00 local)."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(zone))


def series_starts(first: datetime, every_weeks: int, count: int) -> list[datetime]:
    """Start times of a series that keeps its local clock time across clock changes (and, where
    that time happens twice, the reading `first` was given: its `fold`)."""
    if first.tzinfo is None:
        raise ValueError("the first start needs a time zone")
    if every_weeks < 1 or count < 1:
        raise ValueError("every_weeks and count must be at least 1")
    zone = first.tzinfo
    wall = first.replace(tzinfo=None)
    return [
        (wall + timedelta(weeks=every_weeks * i)).replace(tzinfo=zone, fold=first.fold)
        for i in range(count)
    ]


@dataclass(frozen=True)
class PlannedBlock:
    """One agenda block before it is timed; `presenter` is a member id for presenter rounds."""

    title: str
    kind: str
    minutes: int
    notes: str = ""
    handout: bool = True
    presenter: int | None = None


@dataclass(frozen=True)
class TimedBlock:
    """An agenda block with its clock times."""

    block: PlannedBlock
    start: datetime
    end: datetime
    over: bool  # ends after the slot


def expand_template(
    template: SessionTemplate, presenters: Sequence[int | None], first: bool = False
) -> list[PlannedBlock]:
    """The template's blocks, `repeat: presenters` blocks expanded to one round each; the
    `first` session of a set has no earlier actions, so no action-review block."""
    blocks: list[PlannedBlock] = []
    for b in template.blocks:
        if first and b.kind == "action-review":
            continue
        base = PlannedBlock(b.title, b.kind, b.minutes, b.notes, b.handout)
        if not b.repeat:
            blocks.append(base)
            continue
        for n, presenter in enumerate(presenters, 1):
            blocks.append(replace(base, title=f"{b.title} {n}", presenter=presenter))
    return blocks


def timed_agenda(
    start: datetime, slot_minutes: int, blocks: Iterable[PlannedBlock]
) -> list[TimedBlock]:
    """Give each block its start and end clock time, flagging blocks that end after the slot."""
    slot_end = start + timedelta(minutes=slot_minutes)
    timed, clock = [], start
    for block in blocks:
        end = clock + timedelta(minutes=block.minutes)
        timed.append(TimedBlock(block, clock, end, end > slot_end))
        clock = end
    return timed


@dataclass(frozen=True)
class Overrun:
    """How far an agenda runs past its slot, and the first block that ends late."""

    minutes: int
    first_late: str
    planned_end: datetime
    slot_end: datetime

    def message(self) -> str:
        """A sentence for the facilitator, with clock times in the agenda's own zone."""
        return (
            f"The agenda runs {self.minutes} min over the slot: it would end at "
            f"{self.planned_end:%H:%M} instead of {self.slot_end:%H:%M}. "
            f"'{self.first_late}' is the first block that ends late; shorten or remove blocks, "
            "or lengthen the session."
        )


def check_overrun(
    start: datetime, slot_minutes: int, blocks: Iterable[PlannedBlock]
) -> Overrun | None:
    """None when the blocks fit the slot, else by how much and where they do not."""
    timed = timed_agenda(start, slot_minutes, blocks)
    late = [t for t in timed if t.over]
    if not late:
        return None
    slot_end = start + timedelta(minutes=slot_minutes)
    over = int((timed[-1].end - slot_end).total_seconds() // 60)
    return Overrun(over, late[0].block.title, timed[-1].end, slot_end)


def propose_rota(
    members: Sequence[int], history: Sequence[Sequence[int]], unavailable: Iterable[int], count: int
) -> list[int]:
    """Choose `count` presenters so that everyone presents before anyone presents twice.

    `history` lists earlier sessions' presenters, oldest first. Members with fewest turns go
    first; ties go to whoever presented longest ago (never counts as longest), then to the order
    of `members`. Members in `unavailable` (apologies) are skipped.
    """
    turns = {m: 0 for m in members}
    last = {m: -1 for m in members}
    for index, session in enumerate(history):
        for m in session:
            if m in turns:
                turns[m] += 1
                last[m] = index
    skip = set(unavailable)
    order = {m: i for i, m in enumerate(members)}
    candidates = sorted(
        (m for m in members if m not in skip), key=lambda m: (turns[m], last[m], order[m])
    )
    return candidates[:count]
