"""Who a case is about and where it happens: grade groups, kinds of place, short triggers."""

from __future__ import annotations

import re
from typing import Literal

GradeGroup = Literal["foundation", "core", "higher", "gp-trainee", "senior", "other"]
GRADE_GROUPS: tuple[str, ...] = GradeGroup.__args__
GRADE_GROUP_LABELS = {
    "foundation": "foundation doctor (FY1, FY2)",
    "core": "core trainee (CT1–3, IMT, ST1–2)",
    "higher": "higher specialty trainee (ST3+)",
    "gp-trainee": "GP specialty trainee",
    "senior": "consultant or GP partner",
    "other": "other doctor (SAS, locally employed, fellow)",
}

# First match wins, so a "GP specialty trainee (ST2)" is a GP trainee before an ST2 is core,
# and a grade code beats a role word ("ST6 and chief registrar" is higher specialty).
_GRADE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("gp-trainee", r"\bGP\s+(specialty\s+)?(trainee|registrar)\b|\bGPST\s*\d?\b"),
    ("foundation", r"\bF[Y]?[12]\b|\bfoundation\b"),
    ("core", r"\b(CT|IMT|CST|ACCS)\s*[1-3]?\b|\bcore\b|\bST[12]\b"),
    ("higher", r"\bST[3-8]\b|\bhigher specialty\b|\bspecialty registrar\b|\bregistrar\b"),
    ("senior", r"\bconsultant\b|\bpartner\b|\bsalaried GP\b|\bGP principal\b"),
    ("other", r"\bSAS\b|\bspecialty doctor\b|\blocally employed\b|\bfellow\b|\bspecialist\b"),
)
GRADE_HINT = (
    "name the grade, e.g. 'FY1', 'CT2 in psychiatry', 'ST5 in anaesthetics', "
    "'GP specialty trainee (ST2)', 'consultant radiologist', 'GP partner', 'SAS doctor'"
)


def grade_group(protagonist: str) -> str | None:
    """The grade group a protagonist's grade falls in, or None when it names no grade."""
    for group, pattern in _GRADE_PATTERNS:
        if re.search(pattern, protagonist, re.IGNORECASE):
            return group
    return None


Place = Literal[
    "district-general",
    "teaching-tertiary",
    "primary-care",
    "community",
    "mental-health",
    "other",
]
PLACES: tuple[str, ...] = Place.__args__
PLACE_LABELS = {
    "district-general": "district general hospital",
    "teaching-tertiary": "teaching or tertiary hospital",
    "primary-care": "general practice and primary care",
    "community": "community services outside hospital",
    "mental-health": "mental health services",
    "other": "elsewhere (an ICB, a deanery, a public health team, a hospice)",
}

SHORT_TRIGGER_WORDS = 150


def word_count(text: str) -> int:
    """Words in a piece of Markdown, as a reader would count them (numbers count, dashes not)."""
    return len(re.findall(r"[\w’'][\w’'.:/-]*", text))
