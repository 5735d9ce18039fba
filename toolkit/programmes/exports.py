"""Attendance exports as CSV and XLSX, safe to open in a spreadsheet: a cell a spreadsheet would
read as a formula (beginning =, +, -, @, tab or CR) always stays text."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import xlsxwriter

from toolkit.programmes.report import AttendanceRow, MemberFigures, ProgrammeReport

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROW_HEADINGS = ("Programme", "Set", "Session", "Date", "Member", "E-mail", "Status", "Hours")
SUMMARY_HEADINGS = (
    "Programme",
    "Set",
    "Member",
    "E-mail",
    "Sessions held",
    "Recorded",
    "Attended",
    "Hours",
    "Rate",
)
# a fixed date in the file's properties, so the same numbers give the same bytes
FIXED_CREATED = datetime(2000, 1, 1)


def safe_text(value: str) -> str:
    """Text a spreadsheet cannot take for a formula: a leading ' where it might (OWASP's rule
    for CSV files)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _row(row: AttendanceRow) -> tuple:
    return (
        row.programme,
        row.set_title,
        row.session,
        row.date,
        row.name,
        row.email,
        row.status,
        row.hours,
    )


def _summary(report: ProgrammeReport, member: MemberFigures) -> tuple:
    rate = member.rate
    return (
        report.title,
        member.set_title,
        member.name,
        member.email,
        member.held,
        member.recorded,
        member.attended,
        member.hours,
        "" if rate is None else round(rate, 4),
    )


def _csv(headings: tuple[str, ...], rows: list[tuple]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings)
    for row in rows:
        writer.writerow([safe_text(v) if isinstance(v, str) else v for v in row])
    return out.getvalue().encode("utf-8-sig")  # the mark tells Excel it is UTF-8


def attendance_csv(report: ProgrammeReport) -> bytes:
    """One row per member per held session."""
    return _csv(ROW_HEADINGS, [_row(r) for r in report.attendance])


def summary_csv(report: ProgrammeReport) -> bytes:
    """One row per member: sessions held, recorded and attended, hours and rate."""
    return _csv(SUMMARY_HEADINGS, [_summary(report, m) for m in report.members])


def attendance_xlsx(report: ProgrammeReport) -> bytes:
    """A workbook with the sheets "Attendance" (member × session) and "Members" (the summary);
    every text is written as a string cell, never a formula."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    book.set_properties({"title": f"Attendance: {report.title}", "created": FIXED_CREATED})
    bold = book.add_format({"bold": True})
    rate = book.add_format({"num_format": "0%"})
    _sheet(book, "Attendance", ROW_HEADINGS, [_row(r) for r in report.attendance], bold, None)
    rows = [_summary(report, m) for m in report.members]
    _sheet(book, "Members", SUMMARY_HEADINGS, rows, bold, rate)
    book.close()
    return out.getvalue()


def _sheet(book, name: str, headings: tuple[str, ...], rows: list[tuple], bold, rate) -> None:
    sheet = book.add_worksheet(name)
    for col, heading in enumerate(headings):
        sheet.write_string(0, col, heading, bold)
    for r, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, col, value)
            elif rate is not None and headings[col] == "Rate":
                sheet.write_number(r, col, value, rate)
            else:
                sheet.write_number(r, col, value)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, len(headings) - 1, 18)
