"""The programme report's charts, drawn by pygal as SVG (no script, nothing to fetch) from the
same numbers as the page."""

from __future__ import annotations

import pygal
from pygal.style import Style

from toolkit.programmes.report import ProgrammeReport

FONT = "Liberation Sans, DejaVu Sans, Arial, sans-serif"
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#212b32",
    foreground_strong="#212b32",
    foreground_subtle="#768692",
    colors=("#005eb8", "#ffb81c", "#007f3b", "#8a1538", "#330072", "#ed8b00"),
    font_family=FONT,
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=12,
    value_label_font_size=12,
    legend_font_size=13,
    title_font_size=16,
    guide_stroke_color="#d8dde0",
    major_guide_stroke_color="#aeb7bd",
    stroke_width=3,
)


def _config(**options) -> dict:
    return {
        "style": STYLE,
        "js": [],  # pygal would otherwise link its script from the internet
        "disable_xml_declaration": True,
        "width": 800,
        "height": 360,
        "print_values": True,
        "show_legend": True,
        "legend_at_bottom": True,
        "truncate_label": -1,
        "truncate_legend": -1,
        "stroke_style": {"width": 3},
        **options,
    }


def _svg(chart) -> str:
    return chart.render(is_unicode=True)


def attendance_by_set(report: ProgrammeReport) -> str:
    """Attendance rate of each set (present of those recorded), as horizontal bars."""
    chart = pygal.HorizontalBar(
        **_config(
            title="Attendance by set (present, of those recorded)",
            range=(0, 100),
            show_legend=False,
            value_formatter=lambda v: f"{v:.0f}%",
            height=120 + 46 * max(len(report.sets), 1),
        )
    )
    top_down = report.sets[::-1]  # pygal draws horizontal bars from the bottom up
    chart.x_labels = [s.title for s in top_down]
    chart.add("Attendance", [None if s.rate is None else s.rate * 100 for s in top_down])
    return _svg(chart)


def attendance_by_session(report: ProgrammeReport) -> str:
    """Each set's attendance rate session by session, one line per set."""
    longest = max((len(s.sessions) for s in report.sets), default=0)
    chart = pygal.Line(
        **_config(
            title="Attendance by session",
            range=(0, 100),
            value_formatter=lambda v: f"{v:.0f}%",
            print_values=False,
            dots_size=4,
        )
    )
    chart.x_labels = [f"Session {n}" for n in range(1, longest + 1)]
    for s in report.sets:
        chart.add(s.title, [None if f.rate is None else f.rate * 100 for f in s.sessions])
    return _svg(chart)


def coverage_by_framework(report: ProgrammeReport, framework: str, title: str) -> str:
    """Tags across every set's sessions per area of one framework (gaps show as 0)."""
    rows = [r for r in report.coverage if r.framework == framework][::-1]  # first on top
    top = max([4, *(r.total for r in rows)])  # whole numbers on the axis
    chart = pygal.HorizontalBar(
        **_config(
            title=title,
            show_legend=False,
            height=110 + 30 * len(rows),
            range=(0, top),
            y_labels=list(range(top + 1)),
        )
    )
    chart.x_labels = [r.label for r in rows]
    chart.add("Cases and prompts", [r.total for r in rows])
    return _svg(chart)


def self_assessment_change(report: ProgrammeReport) -> str | None:
    """Mean self-rating per HLM dimension at the start and the end (None when not shown)."""
    change = report.assessment
    if change is None:
        return None
    chart = pygal.HorizontalBar(
        **_config(
            title="Self-assessment: mean level (1 to 4), start and end",
            range=(0, 4),
            value_formatter=lambda v: f"{v:.2f}",
            height=130 + 38 * len(report.dimensions),
        )
    )
    top_down = report.dimensions[::-1]  # first dimension on top
    chart.x_labels = [label for _, label in top_down]
    chart.add("Start", [change.start(d) for d, _ in top_down])
    chart.add("End", [change.end(d) for d, _ in top_down])
    return _svg(chart)


def evaluation_means(report: ProgrammeReport) -> str | None:
    """Mean agreement (1 to 5) with each evaluation statement across the programme (None when
    no session's results are released)."""
    found = report.evaluation
    if found is None:
        return None
    chart = pygal.HorizontalBar(
        **_config(
            title="Evaluation: mean agreement, 1 (strongly disagree) to 5 (strongly agree)",
            range=(0, 5),
            show_legend=False,
            value_formatter=lambda v: f"{v:.2f}",
            height=110 + 36 * len(found.ratings),
        )
    )
    top_down = found.ratings[::-1]
    chart.x_labels = [line.text for line in top_down]
    chart.add("Programme", [line.mean for line in top_down])
    return _svg(chart)
