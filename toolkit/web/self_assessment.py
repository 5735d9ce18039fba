"""A member's own self-assessment, reached only through their private link (no account)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from toolkit import self_assessment as service
from toolkit.casebank import LEVELS
from toolkit.sets import SetError
from toolkit.web import get_db, toolkit

bp = Blueprint("self_assessment", __name__, url_prefix="/self-assessment")


def _member(token: str):
    member = service.member_by_token(get_db(), token)
    if member is None:
        abort(404)
    return member


@bp.route("/<token>", methods=["GET", "POST"])
def member(token: str):
    """Rate yourself at the start or end of the programme, and see your before/after chart."""
    found = _member(token)
    areas = toolkit().frameworks.hlm.areas
    dims = [a.id for a in areas]
    phase = request.values.get("phase", "start")
    if not FlaskForm().validate_on_submit():
        return _page(found, token, phase)
    ratings = {d: _level(request.form.get(d)) for d in dims}
    missing = service.unanswered(ratings, dims)
    if missing:  # every answer given stays; the summary links to each one still to do
        names = {a.id: a.name for a in areas}
        errors = {d: f"Choose a level for {names[d]}" for d in missing}
        return _page(found, token, phase, ratings, errors), 400
    db = get_db()
    try:
        service.save_ratings(db, found, phase, ratings, dims)
        db.commit()
    except SetError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _page(found, token, phase, ratings), 400
    flash("Your ratings are saved. Only you can see them.")
    return redirect(url_for("self_assessment.member", token=token))


def _page(found, token: str, phase: str, typed: dict | None = None, errors: dict | None = None):
    """The member's page; `typed` are the levels just sent, `errors` the dimensions missing."""
    kit = toolkit()
    mine = service.ratings_of(get_db(), found)
    return render_template(
        "self_assessment/member.html",
        member=found,
        token=token,
        phase=phase,
        mine=mine,
        chosen=typed if typed is not None else mine.get(phase, {}),
        errors=errors or {},
        error_list=[{"text": text, "href": f"#{d}"} for d, text in (errors or {}).items()],
        levels=LEVELS,
        statements=kit.bank.statements,
        chart=service.chart_svg(mine, kit.frameworks) if mine else "",
        privacy=service.PRIVACY,
    )


def _level(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) == 1 else 0


@bp.post("/<token>/delete")
def delete(token: str):
    """Delete every rating the member made; the link stays theirs."""
    found = _member(token)
    dims = [a.id for a in toolkit().frameworks.hlm.areas]
    count = service.delete_ratings(get_db(), found, dims)
    get_db().commit()
    flash(f"Deleted {count} rating(s). Nothing of your self-assessment is kept.")
    return redirect(url_for("self_assessment.member", token=token))


@bp.route("/<token>/new-link", methods=["GET", "POST"])
def new_link(token: str):
    """Replace the private link after asking (GET only asks): the old one stops working."""
    found = _member(token)
    if not FlaskForm().validate_on_submit():
        return render_template("members/new_link.html", token=token, endpoint="self_assessment")
    fresh = service.replace_token(found)
    get_db().commit()
    flash(
        "This is your new private link: bookmark this page. The old link no longer works, "
        "and your ratings are still here."
    )
    return redirect(url_for("self_assessment.member", token=fresh))
