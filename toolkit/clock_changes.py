"""Wall-clock times at clock changes: the ones that never happen, and the ones that happen twice.

A time the clocks skip (01:30 on the day they go forward in Europe/London) must be refused, not
moved; a time they pass twice (01:30 on the day they go back) must be asked about, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MINUTE = timedelta(minutes=1)


def long_day(day: date | datetime) -> str:
    """A day as people write it: 'Sunday 7 March 2027'."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def wall_time_exists(when: datetime, zone: ZoneInfo) -> bool:
    """False for a wall-clock time (naive) that the clocks skip when they go forward."""
    there = when.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return there.replace(tzinfo=None) == when


def happens_twice(when: datetime, zone: ZoneInfo) -> bool:
    """Whether the clocks pass this wall-clock time (naive) twice, when they go back."""
    first, second = (when.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
    return wall_time_exists(when, zone) and first.utcoffset() != second.utcoffset()


def skipped_from(when: datetime, zone: ZoneInfo) -> datetime:
    """The first wall-clock minute the clocks skip in the gap holding `when`."""
    start = when.replace(second=0, microsecond=0)
    while not wall_time_exists(start - MINUTE, zone):
        start -= MINUTE
    return start


def offset_name(when: datetime) -> str:
    """An aware time's zone as people write it: 'BST, UTC+1', 'GMT, UTC+0', 'IST, UTC+5:30'."""
    minutes = round(when.utcoffset().total_seconds() / 60)
    hours, rest = divmod(abs(minutes), 60)
    sign = "-" if minutes < 0 else "+"
    offset = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    name = when.tzname() or ""
    return offset if name.startswith(("+", "-")) or not name else f"{name}, {offset}"


@dataclass(frozen=True)
class TwiceQuestion:
    """What to ask when a time happens twice: the legend and the two readings to choose from."""

    legend: str
    first: str  # e.g. "the first 01:30 (BST, UTC+1)"
    second: str  # e.g. "the second 01:30 (GMT, UTC+0)"


def missing_time_problem(starts: Sequence[datetime], zone: ZoneInfo) -> str | None:
    """Why the first start (naive, local) that the clocks skip cannot be used, or None."""
    for number, when in enumerate(starts, 1):
        if wall_time_exists(when, zone):
            continue
        which = f" (session {number} of the series)" if len(starts) > 1 else ""
        return (
            f"{when:%H:%M} on {long_day(when)}{which} does not exist in {zone.key}: the clocks "
            f"go forward at {skipped_from(when, zone):%H:%M} that day; choose another time"
        )
    return None


def twice_question(starts: Sequence[datetime], zone: ZoneInfo) -> TwiceQuestion | None:
    """The question to ask when any start (naive, local) happens twice, or None."""
    twice = [when for when in starts if happens_twice(when, zone)]
    if not twice:
        return None
    when = twice[0]
    days = " and ".join(long_day(w) for w in twice)
    first, second = (offset_name(when.replace(tzinfo=zone, fold=fold)) for fold in (0, 1))
    return TwiceQuestion(
        legend=f"The clocks go back on {days}, so {when:%H:%M} happens twice. Which do you mean?",
        first=f"the first {when:%H:%M} ({first})",
        second=f"the second {when:%H:%M} ({second})",
    )
