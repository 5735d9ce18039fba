"""The facilitator's side of the self-assessment: send private links, set when answers close,
and see the anonymous totals frozen then."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from toolkit import self_assessment as service
from toolkit.calendar import Person
from toolkit.casebank import LEVELS
from toolkit.clock_changes import long_day
from toolkit.mail import SERVICE, MailError, compose_plain, send_with_retry, transport_for
from toolkit.sets import SetError, active_members
from toolkit.web import get_db, public_url, toolkit
from toolkit.web.sets.forms import ClosingDateForm
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
    """E-mail every active member their own private link."""
    learning_set = find_set(slug)
    kit = toolkit()
    db = get_db()
    members = active_members(learning_set)
    links = {m.id: service.ensure_token(m) for m in members}
    db.commit()
    facilitator = min(learning_set.facilitators, key=lambda u: u.id)
    reply_to = Person(facilitator.name, facilitator.email)
    sender = Person(SERVICE, kit.settings.mail_from)
    settings = kit.settings
    transport = transport_for(settings.smtp_url, settings.outbox_dir, settings.smtp_timeout)
    sent = 0
    try:
        for m in members:
            url = public_url("self_assessment.member", token=links[m.id])
            letter = service.link_letter(m, learning_set, url)
            message = compose_plain(
                sender, reply_to, Person(m.name, m.email), letter, kit.settings.host
            )
            try:
                send_with_retry(transport, message, f"self-assessment-{m.id}")
                sent += 1
            except MailError as exc:
                flash(f"Not delivered to {m.email}: {exc}", "error")
    finally:
        transport.close()
    flash(f"Sent {sent} private link(s) through {transport.describe()}.")
    return redirect(url_for("sets.assessment", slug=slug))
