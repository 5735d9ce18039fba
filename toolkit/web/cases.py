"""Browse and search the case bank; read a case as the facilitator or as a participant handout."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from toolkit import sets
from toolkit.case_profile import PLACE_LABELS
from toolkit.case_search import STAGE_HINT
from toolkit.casebank import SETTINGS, STAGES, CaseFilter, filter_cases
from toolkit.models import LearningSet
from toolkit.text import render_markdown
from toolkit.web import get_db, toolkit

bp = Blueprint("cases", __name__, url_prefix="/cases")
FILTER_FIELDS = ("hlm", "mlcf", "gpc", "stage", "setting", "search")


@bp.route("/")
def index():
    """List cases, filtered by framework area, stage, setting and free text."""
    kit = toolkit()
    chosen = {f: (request.args.get(f) or "").strip() or None for f in FILTER_FIELDS}
    found = filter_cases(kit.bank, CaseFilter(**chosen))
    return render_template(
        "cases/index.html",
        cases=found,
        total=len(kit.bank.cases),
        chosen=chosen,
        filtering=any(chosen.values()),
        stages=STAGES,
        stage_hint=STAGE_HINT,
        settings=SETTINGS,
    )


def _case(case_id: str):
    case = toolkit().bank.cases.get(case_id)
    if case is None:
        abort(404)
    return case


@bp.route("/<case_id>")
def show(case_id: str):
    """The facilitator's view of a case, notes included and clearly marked."""
    case = _case(case_id)
    return render_template(
        "cases/show.html",
        case=case,
        md=render_markdown,
        upcoming=_upcoming(),
        number_of=sets.meeting_number,
        starts=sets.describe_start,
        place_labels=PLACE_LABELS,
    )


def _upcoming() -> list[tuple[LearningSet, list]]:
    """The user's sets that have sessions still to come, each with those sessions."""
    found = [(s, sets.upcoming_meetings(s)) for s in sets.sets_for(get_db(), current_user.user)]
    return [(s, meetings) for s, meetings in found if meetings]


@bp.route("/<case_id>/handout")
def handout(case_id: str):
    """The participant view of a case: scenario and questions, never the facilitator notes."""
    case = _case(case_id).for_participants()
    return render_template("cases/handout.html", case=case, md=render_markdown)
