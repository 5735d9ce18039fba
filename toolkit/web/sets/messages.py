"""Messages on the task queue, on the web: a send's live progress, each set's schedule of
automatic messages (with previews), and bulk printing of a whole set."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import Regexp

from toolkit import invites, sets
from toolkit.jobs import bundles, outgoing, schedule
from toolkit.jobs.compose import Composer
from toolkit.mail import Letter
from toolkit.models import LearningSet, Programme, SentInvite
from toolkit.web import get_db, toolkit
from toolkit.web.sets.routes import _user, bp, find_set, save_checked

KIND_LABELS = {
    "invite": "Calendar invite",
    "assessment-link": "Self-assessment link",
    "member-link": "Link to their page",
}
KIND_LABELS |= {k: v for k, v in schedule.LABELS.items()}
DAY_CHOICES = [("off", "Off")] + [(str(n), str(n)) for n in range(schedule.MAX_DAYS + 1)]
CLOCK = Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message="Enter a time like 09:00")


def queue_send(learning_set: LearningSet, drafts: list[outgoing.Draft], batch: str) -> None:
    """Write the send's rows (their claims) and hand them to the queue. If the queue cannot be
    reached, the rows are kept: a worker takes them up once it can (after the lease)."""
    kit = toolkit()
    kind = "smtp" if kit.settings.smtp_url else "outbox"
    ids = outgoing.queue_rows(kit.sessions, drafts, kind, batch)
    try:
        kit.queue.send(ids)
    except Exception as exc:  # Redis down, say: nothing is lost, it only waits
        current_app.logger.warning("could not reach the task queue: %r", exc)
        flash(
            "The task queue could not be reached just now. The messages are saved and will go "
            "once it is back; this page shows them as waiting until then.",
            "error",
        )


def session_numbers(learning_set: LearningSet) -> dict[int, str]:
    """Each session's number as the send pages show it, deleted ones marked as such."""
    return {
        m.id: f"{sets.meeting_number(m)}{' (deleted)' if m.deleted_at else ''}"
        for m in invites.with_deleted(learning_set)
    }


def _batch(learning_set: LearningSet, batch: str) -> list[SentInvite]:
    """The send's rows, if they belong to this set; 404 otherwise (never show another set's)."""
    ids = {m.id for m in invites.with_deleted(learning_set)}
    rows = outgoing.batch_rows(get_db(), batch)
    if any(r.meeting_id not in ids for r in rows):
        abort(404)
    return rows


def _tally(rows: list[SentInvite]) -> dict[str, int]:
    counts = {state: 0 for state in ("queued", "sending", "delivered", "failed", "dropped")}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


@bp.route("/<slug>/sending/<batch>")
def sending(slug: str, batch: str):
    """A send's progress, read from the send log: it survives a reload, and the facilitator can
    leave and come back (the messages go whether or not anyone watches)."""
    learning_set = find_set(slug)
    rows = _batch(learning_set, batch)
    tally = _tally(rows)
    settings = toolkit().settings
    return render_template(
        "sets/sending.html",
        s=learning_set,
        rows=rows,
        tally=tally,
        waiting=tally["queued"] + tally["sending"],
        where="the outbox folder" if not settings.smtp_url else "the mail server",
        outbox=not settings.smtp_url,
        labels=KIND_LABELS,
        members={m.id: m for m in learning_set.members},
        number_of_meeting=session_numbers(learning_set),
    )


@bp.route("/<slug>/sending/<batch>.json")
def sending_json(slug: str, batch: str):
    """The same progress for scripts: counts by state and each message's state."""
    rows = _batch(find_set(slug), batch)
    return jsonify(
        total=len(rows),
        **_tally(rows),
        messages=[{"id": r.id, "state": r.state, "result": r.result} for r in rows],
    )


class PlanForm(FlaskForm):
    """The set's schedule of automatic messages."""

    version = HiddenField()
    reminder_days = SelectField("Reminder: days before each session", choices=DAY_CHOICES)
    reminder_at = StringField("Reminder: at (24-hour clock, the set's time zone)", [CLOCK])
    follow_up_days = SelectField("Follow-up: days after each session", choices=DAY_CHOICES)
    follow_up_at = StringField("Follow-up: at", [CLOCK])
    assessment = BooleanField("Send the self-assessment at the programme's start and end")


def _days(value: str) -> int | None:
    return None if value == "off" else int(value)


def _shown(days: int | None) -> str:
    return "off" if days is None else str(days)


@bp.route("/<slug>/messages", methods=["GET", "POST"])
def messages(slug: str):
    """What goes automatically, when, and to whom; change it, and preview each message."""
    learning_set = find_set(slug)
    plan = schedule.plan_of(learning_set)
    form = PlanForm(
        version=str(learning_set.version),
        reminder_days=_shown(plan.reminder_days),
        reminder_at=plan.reminder_at,
        follow_up_days=_shown(plan.follow_up_days),
        follow_up_at=plan.follow_up_at,
        assessment=plan.assessment,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            wanted = schedule.Plan(
                _days(form.reminder_days.data),
                form.reminder_at.data,
                _days(form.follow_up_days.data),
                form.follow_up_at.data,
                form.assessment.data,
            )
            status = save_checked(
                learning_set,
                form.version.data,
                lambda: schedule.set_plan(learning_set, wanted),
                "Saved the schedule of automatic messages.",
            )
            if status is None:
                return redirect(url_for("sets.messages", slug=slug))
    return _messages_page(learning_set, form, status)


def _messages_page(learning_set: LearningSet, form: PlanForm, status: int):
    now = datetime.now(UTC)
    ids = [m.id for m in invites.with_deleted(learning_set)]
    log = [
        r
        for r in invites.send_log(get_db(), learning_set)
        if r.kind != "invite" and r.meeting_id in ids
    ][:100]
    return (
        render_template(
            "sets/messages.html",
            s=learning_set,
            form=form,
            upcoming=schedule.upcoming(learning_set, now),
            log=log,
            labels=KIND_LABELS,
            members={m.id: m for m in learning_set.members},
            local=sets.local,
            meetings=sets.meetings_in_order(learning_set),
        ),
        status,
    )


@bp.route("/<slug>/messages/preview/<kind>")
def preview(slug: str, kind: str):
    """One automatic message as its first recipient would get it, before it first goes."""
    learning_set = find_set(slug)
    if kind not in ("reminder", "follow-up", "assessment", "assessment-reminder"):
        abort(404)
    members = sets.active_members(learning_set)
    meetings = sets.meetings_in_order(learning_set)
    if not members or not meetings:
        return render_template(
            "sets/preview.html", s=learning_set, kind=kind, letter=None, labels=KIND_LABELS
        )
    meeting = _preview_meeting(learning_set, kind)
    row = SentInvite(
        id=0,
        kind=kind,
        meeting_id=meeting.id,
        member_id=members[0].id,
        claim=f"{kind}:{'end' if meeting is meetings[-1] and kind != 'reminder' else 'start'}:0",
    )
    letter = _letter_for(row, meeting, members[0], kind)
    return render_template(
        "sets/preview.html",
        s=learning_set,
        kind=kind,
        letter=letter,
        labels=KIND_LABELS,
        member=members[0],
        meeting=meeting,
        number=sets.meeting_number(meeting),
    )


def _preview_meeting(learning_set: LearningSet, kind: str):
    """The session the next message of this kind is about (else the first one)."""
    for row in schedule.upcoming(learning_set, datetime.now(UTC)):
        if row.kind == kind.replace("-reminder", "") and row.meeting is not None:
            return row.meeting
    return sets.meetings_in_order(learning_set)[0]


def _letter_for(row: SentInvite, meeting, member, kind: str) -> Letter:
    """The letter alone (no attachments rendered, nothing saved) for the preview."""
    composer = Composer(toolkit().queue.worker.content)
    db = get_db()
    if kind == "reminder":
        return composer.reminder_letter(db, meeting, member)
    if kind == "follow-up":
        return composer.follow_up_letter(db, meeting, member, attachments=True)
    return composer.assessment_letter(meeting, member, "…your-private-link…", kind != "assessment")


@bp.post("/<slug>/bundle")
def new_bundle(slug: str):
    """Queue every document of every session as one zip, or (`programme`) the certificates of
    every set of the set's programme that the user may see; show its progress (printing
    changes nothing, so a programme lead may start it)."""
    learning_set = find_set(slug, change=False)
    kit = toolkit()
    chosen, only, programme = [learning_set], None, None
    if request.form.get("what") == "programme" and learning_set.programme:
        programme = learning_set.programme
        visible = sets.sets_for(get_db(), _user())
        chosen = [s for s in visible if s.programme_id == programme.id]
        only = "certificates"
    bundle_id = bundles.new_bundle(
        kit.settings.data_dir,
        chosen,
        programme.id if programme else "",
        programme.title if programme else "",
    )
    kit.queue.bundle([s.id for s in chosen], bundle_id, only)
    return redirect(url_for("sets.bundle", slug=slug, bundle_id=bundle_id))


def _progress(learning_set: LearningSet, bundle_id: str) -> bundles.Progress:
    """The bundle's progress, for a user who may see every set in it (404 otherwise)."""
    found = bundles.progress(toolkit().settings.data_dir, bundle_id)
    if found is None or learning_set.slug not in found.set_slugs:
        abort(404)
    visible = {s.slug for s in sets.sets_for(get_db(), _user())}
    if not set(found.set_slugs) <= visible:
        abort(404)
    return found


@bp.route("/<slug>/bundles/<bundle_id>")
def bundle(slug: str, bundle_id: str):
    """A bundle's progress, then its download link."""
    learning_set = find_set(slug)
    found = _progress(learning_set, bundle_id)
    return render_template(
        "sets/bundle.html",
        s=learning_set,
        p=found,
        programme=get_db().get(Programme, found.programme_id) if found.programme_id else None,
        bundle_id=bundle_id,
    )


@bp.route("/<slug>/bundles/<bundle_id>.zip")
def bundle_download(slug: str, bundle_id: str):
    learning_set = find_set(slug)
    found = _progress(learning_set, bundle_id)
    if found.state != "ready":
        abort(404)
    path = bundles.zip_path(toolkit().settings.data_dir, bundle_id)
    name = found.name or f"{slug}-all-documents"  # a bundle queued before names were kept
    return send_file(path, as_attachment=True, download_name=f"{name}.zip")
