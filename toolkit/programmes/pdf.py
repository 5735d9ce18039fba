"""The programme report for the deanery: the programme page's numbers and charts as an A4,
tagged PDF, through the packs' renderer and print stylesheet."""

from __future__ import annotations

from toolkit import packs
from toolkit.programme_map import SHADES
from toolkit.programmes import charts
from toolkit.programmes.report import ProgrammeReport, percent
from toolkit.self_assessment import MIN_ANSWERS

FRAMEWORK_NAMES = (
    ("hlm", "Healthcare Leadership Model"),
    ("mlcf", "Medical Leadership Competency Framework"),
    ("gpc", "GMC Generic Professional Capabilities"),
)

_env = packs.render.templates("toolkit.programmes")


def report_html(report: ProgrammeReport, leads: list[str], as_at: str) -> str:
    """The report as HTML, its charts inline as SVG."""
    return _env.get_template("report.html").render(
        r=report,
        leads=", ".join(leads),
        lead_count=len(leads),
        as_at=as_at,
        percent=percent,
        frameworks=FRAMEWORK_NAMES,
        shades=SHADES,
        min_answers=MIN_ANSWERS,
        assessed=[s.title for s in report.sets if s.assessment is not None],
        charts={
            "by_set": charts.attendance_by_set(report),
            "by_session": charts.attendance_by_session(report),
            "hlm": charts.coverage_by_framework(
                report, "hlm", "Healthcare Leadership Model: cases and prompts per dimension"
            ),
            "assessment": charts.self_assessment_change(report) or "",
            "evaluation": charts.evaluation_means(report) or "",
        },
    )


def report_pdf(report: ProgrammeReport, leads: list[str], as_at: str) -> bytes:
    """The report as an A4, tagged PDF."""
    return packs.render_pdf(report_html(report, leads, as_at))
