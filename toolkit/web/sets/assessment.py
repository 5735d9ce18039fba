"""The facilitator's side of the self-assessment: send private links, set when answers close,
and see the anonymous totals frozen then."""

from __future__ import annotations

import secrets
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from toolkit import self_assessment as service
from toolkit import sets
from toolkit.casebank import LEVELS
from toolkit.clock_changes import long_day
from toolkit.jobs.outgoing import Draft
from toolkit.sets import SetError, active_members
from toolkit.web import get_db, toolkit
from toolkit.web.sets.forms import ClosingDateForm
from toolkit.web.sets.messages import queue_send
from toolkit.web.sets.routes import bp, find_set


def _dims() -> list[str]:
    return [a.id for a in toolkit().frameworks.hlm.areas]


@bp.route("/<slug>/self-assessment")
def assessment(slug: str):
    """How many members have answered, when answers close, and the totals frozen then."""
    return _assessment_page(find_set(slug))


def _assessment_page(learning_set, status: int = 200, form: ClosingDateForm | None = None):
    """The page; a phase whose answers have just closed is frozen as it is first shown."""
    db = get_db()
    totals = service.published_totals(db, learning_set, _dims())
    db.commit()
    forms = {phase: ClosingDateForm(prefix=phase) for phase in service.PHASES}
    if form is not None:
        forms[form.phase] = form
    page = render_template(
        "sets/assessment.html",
        send_id=secrets.token_urlsafe(12),
        s=learning_set,
        totals=totals,
        forms=forms,
        form=form,
        zone=ZoneInfo(learning_set.time_zone),
        last_open_day=service.last_open_day,
        long_day=long_day,
        minimum=service.MIN_ANSWERS,
        levels=LEVELS,
        csrf_form=FlaskForm(),
    )
    return page, status


@bp.post("/<slug>/self-assessment/closes")
def assessment_closes(slug: str):
    """Set the date at the end of which answers for the start (or the end) close."""
    learning_set = find_set(slug)
    phase = request.form.get("phase", "")
    if phase not in service.PHASES:
        abort(400, "Choose the start or the end of the programme.")
    form = ClosingDateForm(prefix=phase)
    form.phase = phase
    if not form.validate_on_submit():
        return _assessment_page(learning_set, 400, form)
    db = get_db()
    try:
        service.set_closing_date(db, learning_set, phase, form.closes_on.data)
        db.commit()
    except SetError as exc:
        db.rollback()
        form.closes_on.errors.append(str(exc))
        return _assessment_page(learning_set, 400, form)
    flash(f"Answers for the {phase} of the programme close at the end of that day.")
    return redirect(url_for("sets.assessment", slug=slug, _anchor=phase))


@bp.post("/<slug>/self-assessment/send")
def send_assessment_links(slug: str):
    """Queue every active member's e-mail with their own private link, then show the send's
    progress. The form's own id is part of each claim: submitting it twice sends once."""
    learning_set = find_set(slug)
    first = next(iter(sets.meetings_in_order(learning_set)), None)
    if first is None:
        flash("Add the set's first session before sending the links.", "error")
        return redirect(url_for("sets.assessment", slug=slug))
    send_id = request.form.get("send_id") or secrets.token_urlsafe(12)
    if not send_id.replace("-", "").replace("_", "").isalnum() or len(send_id) > 40:
        abort(400)
    drafts = [
        Draft(first.id, m.id, m.email, "assessment-link", f"assessment-link:{m.id}:{send_id}")
        for m in active_members(learning_set)
    ]
    queue_send(learning_set, drafts, send_id)
    return redirect(url_for("sets.sending", slug=slug, batch=send_id))


@bp.post("/<slug>/members/<int:member_id>/send-link")
def send_member_link(slug: str, member_id: int):
    """Queue one member's e-mail with their private link to their page (the same key as their
    self-assessment), then show its progress. The form's own id makes a double click send once."""
    learning_set = find_set(slug)
    member = next((m for m in active_members(learning_set) if m.id == member_id), None)
    if member is None:
        abort(404)
    meeting = sets.next_meeting(learning_set) or next(
        iter(sets.meetings_in_order(learning_set)), None
    )
    if meeting is None:
        flash("Add the set's first session before sending the link.", "error")
        return redirect(url_for("sets.show", slug=slug, _anchor="members"))
    send_id = request.form.get("send_id") or secrets.token_urlsafe(12)
    if not send_id.replace("-", "").replace("_", "").isalnum() or len(send_id) > 40:
        abort(400)
    claim = f"member-link:{meeting.id}:{member.id}:{send_id}"
    queue_send(
        learning_set, [Draft(meeting.id, member.id, member.email, "member-link", claim)], send_id
    )
    return redirect(url_for("sets.sending", slug=slug, batch=send_id))
