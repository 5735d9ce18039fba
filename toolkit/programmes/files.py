"""The programme report's files written into a folder: all of them or none."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from toolkit.casebank import Bank
from toolkit.frameworks import Frameworks
from toolkit.models import Programme
from toolkit.programmes import exports, pdf
from toolkit.programmes.report import programme_report

REPORT_FILES = ("report.pdf", "attendance.csv", "attendance-summary.csv", "attendance.xlsx")


def report_files(
    db: Session, programme: Programme, bank: Bank, frameworks: Frameworks, now: datetime
) -> dict[str, bytes]:
    """Every file of the report, from one set of numbers."""
    report = programme_report(db, programme, bank, frameworks, now)
    leads = [u.name for u in programme.leads]
    return {
        "report.pdf": pdf.report_pdf(report, leads, f"{now:%d %B %Y}"),
        "attendance.csv": exports.attendance_csv(report),
        "attendance-summary.csv": exports.summary_csv(report),
        "attendance.xlsx": exports.attendance_xlsx(report),
    }


def write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file under a temporary name first, then rename them all into place: a
    folder that cannot be written (or fills up) gets none of them, and no temporary file stays.
    Raises OSError saying what failed."""
    out.mkdir(parents=True, exist_ok=True)
    partial: dict[str, str] = {}
    try:
        for name, data in files.items():
            handle, partial[name] = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".partial")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
        for name, path in partial.items():
            os.replace(path, out / name)
    except BaseException:
        for path in partial.values():
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    return [out / name for name in files]
