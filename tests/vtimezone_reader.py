"""Read local times the way Outlook does: from the VTIMEZONE embedded in the file, nothing else.

Python's icalendar resolves a TZID by name through the zone database, so a round trip through it
cannot show whether the VTIMEZONE itself is right. This reader never looks a zone up by name.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dateutil.rrule import rrulestr


def _unfold(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def _offset(value: str) -> timedelta:
    sign = -1 if value[0] == "-" else 1
    return sign * timedelta(hours=int(value[1:3]), minutes=int(value[3:5]))


def vtimezones(text: str) -> dict[str, list[dict[str, str]]]:
    """TZID -> its STANDARD/DAYLIGHT components as raw property maps."""
    zones: dict[str, list[dict[str, str]]] = {}
    tzid, part = None, None
    for line in _unfold(text):
        if line.startswith("TZID:"):
            tzid = line[5:]
            zones[tzid] = []
        elif line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            part = {}
        elif line in ("END:STANDARD", "END:DAYLIGHT"):
            zones[tzid].append(part)
            part = None
        elif part is not None:
            name, _, value = line.partition(":")
            part[name] = value
    return zones


def to_utc(local: datetime, components: list[dict[str, str]]) -> datetime:
    """UTC for a local wall time, using only the VTIMEZONE's rules (latest onset wins)."""
    best: tuple[datetime, timedelta] | None = None
    for part in components:
        start = datetime.strptime(part["DTSTART"], "%Y%m%dT%H%M%S")
        onsets = [start]
        if "RRULE" in part:
            rule = rrulestr(part["RRULE"], dtstart=start)
            onsets = rule.between(start, local, inc=True)
        elif "RDATE" in part:
            onsets += [datetime.strptime(v, "%Y%m%dT%H%M%S") for v in part["RDATE"].split(",")]
        onsets = [o for o in onsets if o <= local]
        if onsets and (best is None or max(onsets) > best[0]):
            best = (max(onsets), _offset(part["TZOFFSETTO"]))
    assert best is not None, "no VTIMEZONE rule covers this time"
    return local - best[1]


def event_starts_utc(text: str) -> list[datetime]:
    """Every VEVENT's DTSTART as UTC, read through the file's own VTIMEZONE."""
    zones = vtimezones(text)
    starts = []
    for line in _unfold(text):
        found = re.match(r"DTSTART;TZID=([^:]+):(\d{8}T\d{6})$", line)
        if found:
            local = datetime.strptime(found.group(2), "%Y%m%dT%H%M%S")
            starts.append(to_utc(local, zones[found.group(1)]))
    return starts
