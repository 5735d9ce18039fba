"""The programme map: which framework areas a set's sessions cover, and what would fill the gaps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from toolkit.case_search import SetProfile, fit, set_profile
from toolkit.casebank import Bank, Case, Tags
from toolkit.frameworks import Frameworks
from toolkit.models import LearningSet, Meeting
from toolkit.sets import meetings_in_order


@dataclass(frozen=True)
class Coverage:
    """Which framework areas each meeting touches, through its attached cases and prompts."""

    meetings: list[Meeting]
    areas: dict[str, list[tuple[str, str]]]  # framework key -> [(area id, label)]
    hits: dict[tuple[int, str, str], int]  # (meeting id, framework, area id) -> count

    def total(self, key: str, area_id: str) -> int:
        """How many tags across the programme point at this area."""
        return sum(n for (m, k, a), n in self.hits.items() if k == key and a == area_id)

    def gaps(self, key: str) -> list[str]:
        """Area ids of a framework that no meeting covers yet."""
        return [a for a, _ in self.areas[key] if self.total(key, a) == 0]


def coverage(learning_set: LearningSet, bank: Bank, frameworks: Frameworks) -> Coverage:
    """The programme map: meetings × HLM dimensions, MLCF domains and GPC domains."""
    meetings = [m for m in meetings_in_order(learning_set) if m.status != "cancelled"]
    areas = {
        "hlm": [(a.id, a.label) for a in frameworks.hlm.areas],
        "mlcf": [(a.id, a.label) for a in frameworks.mlcf.top_level()],
        "gpc": [(a.id, a.label) for a in frameworks.gpc.areas],
    }
    hits: dict[tuple[int, str, str], int] = {}
    for meeting in meetings:
        for tags in _meeting_tags(meeting, bank):
            for area_id in tags.hlm:
                hits[(meeting.id, "hlm", area_id)] = hits.get((meeting.id, "hlm", area_id), 0) + 1
            for area_id in {t.split(".")[0] for t in tags.mlcf}:
                hits[(meeting.id, "mlcf", area_id)] = hits.get((meeting.id, "mlcf", area_id), 0) + 1
            for area_id in tags.gpc:
                hits[(meeting.id, "gpc", area_id)] = hits.get((meeting.id, "gpc", area_id), 0) + 1
    return Coverage(meetings, areas, hits)


def _meeting_tags(meeting: Meeting, bank: Bank) -> Iterator[Tags]:
    for c in meeting.cases:
        if c.case_id in bank.cases:
            yield bank.cases[c.case_id].tags
    for p in meeting.prompts:
        if p.prompt_id in bank.prompts:
            yield bank.prompts[p.prompt_id].tags


def suggest_cases(
    learning_set: LearningSet, bank: Bank, frameworks: Frameworks, limit: int = 5
) -> list[Case]:
    """Cases that cover HLM dimensions and MLCF domains the programme has not reached yet,
    those suiting the set's setting and its members' stages first."""
    cover = coverage(learning_set, bank, frameworks)
    profile = profile_of(learning_set)
    gaps_hlm, gaps_mlcf = set(cover.gaps("hlm")), set(cover.gaps("mlcf"))
    used = {c.case_id for m in learning_set.meetings for c in m.cases}

    def gain(case) -> int:
        return len(gaps_hlm & set(case.tags.hlm)) + len(
            gaps_mlcf & {t.split(".")[0] for t in case.tags.mlcf}
        )

    found = [c for c in bank.cases.values() if c.id not in used and gain(c) > 0]
    found.sort(key=lambda c: (-fit(c, profile), -gain(c), c.title))
    return found[:limit]


def profile_of(learning_set: LearningSet) -> SetProfile:
    """What the set's cases should suit: its active members' grades, its title and programme."""
    grades = [m.grade for m in learning_set.members if m.active and m.grade]
    return set_profile(grades, learning_set.title, learning_set.programme_title)


CELL, HEADER, CHAR = 28, 70, 7  # CHAR: a wide average character at 13 px
PREFIXES = {"hlm": "HLM", "mlcf": "MLCF", "gpc": "GPC"}  # the heat map's rows, in order
SHADES = ("#ffffff", "#c8dcf0", "#7fa9d8", "#2f6db5", "#003087")  # 0, 1, 2, 3, 4+ tags


def coverage_svg(cover: Coverage) -> str:
    """A heat map (rows: framework areas; columns: sessions) as a standalone, accessible SVG."""
    rows = [(key, area_id, label) for key in PREFIXES for area_id, label in cover.areas[key]]
    labels = [f"{PREFIXES[key]} {label}" for key, _, label in rows]
    label_width = CHAR * max(map(len, labels), default=0) + 12
    width = label_width + CELL * max(len(cover.meetings), 1) + 10
    height = HEADER + CELL * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="map-title">',
        '<title id="map-title">Framework areas covered by each session; darker means more '
        "cases and prompts</title>",
    ]
    for col in range(len(cover.meetings)):
        x = label_width + CELL * col + CELL // 2
        parts.append(
            f'<text x="{x}" y="{HEADER - 10}" font-size="13" text-anchor="middle">{col + 1}</text>'
        )
    for row, (key, area_id, label) in enumerate(rows):
        y = HEADER + CELL * row
        parts.append(f'<text x="0" y="{y + 19}" font-size="13">{escape(labels[row])}</text>')
        for col, meeting in enumerate(cover.meetings):
            n = cover.hits.get((meeting.id, key, area_id), 0)
            parts.append(
                f'<rect x="{label_width + CELL * col}" y="{y}" width="{CELL - 2}" '
                f'height="{CELL - 2}" fill="{SHADES[min(n, 4)]}" stroke="#768692">'
                f"<title>Session {col + 1}, {escape(label)}: {n}</title></rect>"
            )
    parts.append(f'<text x="{label_width}" y="18" font-size="13">Sessions →</text></svg>')
    return "".join(parts)
