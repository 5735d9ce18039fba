"""A member's own page, reached only through their private link (no account): their sessions,
replies, pre-work ticks and actions. Nothing changes on GET: mail scanners follow links."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from toolkit import evaluations, portfolio, replies, self_assessment, sets
from toolkit import members as service
from toolkit.models import Member, utcnow
from toolkit.resources import catalogue
from toolkit.sets import SetError
from toolkit.web import get_db, toolkit

bp = Blueprint("members", __name__, url_prefix="/m")


def _member(token: str) -> Member:
    member = self_assessment.member_by_token(get_db(), token)
    if member is None or not member.active:
        abort(404)
    return member


def _meeting(member: Member, key: str):
    try:
        return service.find_meeting(member, key)
    except SetError:
        abort(404)


@bp.route("/<token>")
def page(token: str):
    """The member's page: sessions, replies, pre-work, actions, past sessions."""
    member = _member(token)
    library = catalogue(get_db(), toolkit().bank)
    shown = service.member_page(get_db(), member, library)
    return render_template(
        "members/page.html",
        token=token,
        p=shown,
        reflected=_reflected(member),
        statuses=sets.ACTION_STATUSES,
        words=replies.WORDS,
    )


def _reflected(member: Member) -> set[str]:
    """Keys of the sessions the member has written a reflection on."""
    written = portfolio.reflections_of(get_db(), member)
    return {m.key for m in member.learning_set.meetings if m.id in written}


@bp.route("/<token>/reply/<key>/<answer>", methods=["GET", "POST"])
def reply(token: str, key: str, answer: str):
    """Ask first (GET only asks), then save the reply with the member's note."""
    member = _member(token)
    meeting = _meeting(member, key)
    if answer not in service.REPLY_WORDS:
        abort(404)
    status, words = service.REPLY_WORDS[answer]
    note = request.form.get("note", "")
    shown = dict(token=token, meeting=meeting, answer=answer, words=words, status=status)
    shown |= dict(when=sets.describe_when(meeting), note=note)
    if not FlaskForm().validate_on_submit():
        return render_template("members/reply.html", error="", **shown)
    try:
        _save_reply(token, key, status, note)
    except SetError as exc:
        return render_template("members/reply.html", error=str(exc), **shown), 400
    said = "you are coming" if status == "attending" else "you can't come"
    flash(f"Thank you: your facilitator knows {said} to {meeting.title}.")
    return redirect(url_for("members.page", token=token, _anchor="sessions"))


def _save_reply(token: str, key: str, status: str, note: str, tries: int = 3) -> None:
    """Record the reply; when another member's reply to the same session changed it at the same
    moment (apologies touch the session), read it again and record this one on top."""
    db = get_db()
    for attempt in range(tries):
        member = _member(token)
        try:
            replies.record_reply(db, _meeting(member, key), member, status, note, "link")
            db.commit()
            return
        except (StaleDataError, IntegrityError):
            db.rollback()
            if attempt == tries - 1:
                raise SetError("Many replies arrived at once: please send yours again.") from None
        except SetError:
            db.rollback()
            raise


@bp.post("/<token>/prework/<key>")
def prework(token: str, key: str):
    """Save the ticks of the next session's pre-work: the boxes ticked are done, the rest not."""
    member = _member(token)
    meeting = _meeting(member, key)
    if not FlaskForm().validate_on_submit():
        abort(400)
    done = set(request.form.getlist("done"))
    db = get_db()
    try:
        for row in [r for r in meeting.resources if r.role == "prework"]:
            service.tick_prework(db, member, meeting, row.resource_id, row.resource_id in done)
        db.commit()
    except IntegrityError:  # the same tick sent twice at once: the other request saved it
        db.rollback()
    flash("Your pre-work ticks are saved.")
    return redirect(url_for("members.page", token=token, _anchor="prework"))


@bp.post("/<token>/actions/<int:action_id>")
def action(token: str, action_id: int):
    """Update one of the member's own actions: its status and what came of it."""
    member = _member(token)
    db = get_db()
    try:
        found = service.own_action(db, member, action_id)
    except SetError:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        sets.update_action(
            db, found, request.form.get("status", ""), request.form.get("outcome", "")
        )
        db.commit()
    except SetError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("members.page", token=token, _anchor=f"action-{action_id}"))
    flash("Your action is updated.")
    return redirect(url_for("members.page", token=token, _anchor=f"action-{action_id}"))


@bp.route("/<token>/new-link", methods=["GET", "POST"])
def new_link(token: str):
    """Replace the private link after asking (GET only asks): the old one stops working."""
    member = _member(token)
    if not FlaskForm().validate_on_submit():
        return render_template("members/new_link.html", token=token, endpoint="members")
    fresh = self_assessment.replace_token(member)
    get_db().commit()
    flash("This is your new private link: bookmark this page. The old link no longer works.")
    return redirect(url_for("members.page", token=fresh))


@bp.route("/<token>/evaluation/<key>", methods=["GET", "POST"])
def evaluation(token: str, key: str):
    """A past session's evaluation: the form (GET), then the answers saved once (POST). A second
    POST, from a double click or another tab, saves nothing more."""
    member = _member(token)
    meeting = _meeting(member, key)
    db = get_db()
    now = utcnow()
    state = evaluations.status(db, meeting, member, now)
    shown = dict(
        token=token,
        meeting=meeting,
        number=sets.meeting_number(meeting),
        when=sets.describe_when(meeting),
        closes=sets.describe_moment(member.learning_set, evaluations.closes_at(db, meeting)),
        state=state,
        groups=evaluations.grouped(),
        scale=evaluations.SCALE,
        refusal=evaluations.REFUSALS.get(state, ""),
        answers=request.form,
    )
    if not FlaskForm().validate_on_submit():
        return render_template("members/evaluation.html", error="", **shown)
    if state == "answered":
        flash(evaluations.REFUSALS["answered"])
        return redirect(url_for("members.page", token=token, _anchor="evaluation"), 303)
    try:
        evaluations.submit(db, meeting, member, request.form.to_dict(), now)
        db.commit()
    except IntegrityError:  # the same member's other tab saved at the same moment
        db.rollback()
        flash(evaluations.REFUSALS["answered"])
        return redirect(url_for("members.page", token=token, _anchor="evaluation"), 303)
    except SetError as exc:
        db.rollback()
        return render_template("members/evaluation.html", error=str(exc), **shown), 400
    flash("Thank you: your answers are saved, without your name.")
    return redirect(url_for("members.page", token=token, _anchor="evaluation"), 303)


@bp.route("/<token>/reflection/<key>", methods=["GET", "POST"])
def reflection(token: str, key: str):
    """The member's own reflection on a session they came to: What? So what? Now what?"""
    member = _member(token)
    meeting = _meeting(member, key)
    if meeting not in portfolio.attended(member):
        abort(404)
    db = get_db()
    written = portfolio.reflections_of(db, member).get(meeting.id, portfolio.Written())
    values = request.form if request.method == "POST" else vars(written)
    shown = dict(
        token=token,
        meeting=meeting,
        number=sets.meeting_number(meeting),
        when=sets.describe_when(meeting),
        parts=portfolio.PARTS,
        values=values,
    )
    if not FlaskForm().validate_on_submit():
        return render_template("members/reflection.html", error="", **shown)
    try:
        portfolio.save_reflection(db, member, meeting, request.form.to_dict())
        db.commit()
    except IntegrityError:  # the same reflection saved twice at once: the other one stands
        db.rollback()
    except SetError as exc:
        db.rollback()
        return render_template("members/reflection.html", error=str(exc), **shown), 400
    flash("Your reflection is saved. Only you can see it.")
    return redirect(url_for("members.page", token=token, _anchor="record"), 303)


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _record_name(member: Member) -> str:
    return f"learning-set-record-{member.learning_set.slug}"


@bp.get("/<token>/record.pdf")
def record_pdf(token: str):
    """The member's learning set record as a PDF (a GET that changes nothing)."""
    member = _member(token)
    kit = toolkit()
    record = portfolio.build_record(get_db(), member, kit.bank, kit.frameworks)
    return _download(portfolio.record_pdf(record), "application/pdf", _record_name(member) + ".pdf")


@bp.get("/<token>/record.txt")
def record_txt(token: str):
    """The same record as plain text, to paste into an ePortfolio."""
    member = _member(token)
    kit = toolkit()
    record = portfolio.build_record(get_db(), member, kit.bank, kit.frameworks)
    text = portfolio.record_text(record).encode("utf-8")
    return _download(text, "text/plain", _record_name(member) + ".txt")  # charset: utf-8


@bp.get("/<token>/certificate/<key>.pdf")
def certificate(token: str, key: str):
    """The member's certificate of attendance for a session they came to."""
    member = _member(token)
    kit = toolkit()
    pdf = portfolio.certificate_pdf(get_db(), member, key, kit.bank, kit.frameworks)
    if pdf is None:
        abort(404)
    number = sets.meeting_number(_meeting(member, key))
    return _download(pdf, "application/pdf", f"certificate-session-{number}.pdf")
