"""The facilitator's side of the self-assessment: send private links; see anonymous totals."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm

from toolkit import self_assessment as service
from toolkit.calendar import Person
from toolkit.casebank import LEVELS
from toolkit.mail import SERVICE, MailError, compose_plain, send_with_retry, transport_for
from toolkit.sets import active_members
from toolkit.web import get_db, public_url, toolkit
from toolkit.web.sets.routes import bp, find_set


@bp.route("/<slug>/self-assessment")
def assessment(slug: str):
    """How many members have answered, and the set's totals once four have."""
    learning_set = find_set(slug)
    kit = toolkit()
    dims = [a.id for a in kit.frameworks.hlm.areas]
    return render_template(
        "sets/assessment.html",
        s=learning_set,
        totals=service.set_totals(get_db(), learning_set, dims),
        minimum=service.MIN_ANSWERS,
        levels=LEVELS,
        csrf_form=FlaskForm(),
    )


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
