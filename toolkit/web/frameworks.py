"""Framework pages: every area of HLM, MLCF and GPC with the cases and prompts that cover it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from toolkit.casebank import covering
from toolkit.web import toolkit

bp = Blueprint("frameworks", __name__, url_prefix="/frameworks")


@bp.route("/")
def index():
    """All three frameworks with how many cases and prompts cover each area."""
    kit = toolkit()
    counts = kit.once("framework-counts", lambda: _counts(kit.bank, kit.frameworks))
    return render_template("frameworks/index.html", counts=counts)


def _counts(bank, frameworks) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (fw.key, area.id): tuple(len(x) for x in covering(bank, fw.key, area.id))
        for fw in frameworks
        for area in fw.areas
    }


@bp.route("/<key>/<area_id>")
def area(key: str, area_id: str):
    """One framework area with the cases and prompts tagged to it."""
    kit = toolkit()
    if key not in ("hlm", "mlcf", "gpc"):
        abort(404)
    framework = kit.frameworks.by_key(key)
    found = framework.get(area_id)
    if found is None:
        abort(404)
    cases, prompts = covering(kit.bank, key, area_id)
    return render_template(
        "frameworks/area.html",
        framework=framework,
        area=found,
        cases=cases,
        prompts=prompts,
        elements=framework.children(area_id),
    )
