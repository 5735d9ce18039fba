"""A member's own page, reached only through their private link (no account): their sessions,
replies, pre-work ticks and actions. Nothing changes on GET: mail scanners follow links."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from toolkit import members as service
from toolkit import replies, self_assessment, sets
from toolkit.models import Member
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
        statuses=sets.ACTION_STATUSES,
        words=replies.WORDS,
    )


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
        return render_template("members/new_link.html", token=token)
    fresh = self_assessment.replace_token(member)
    get_db().commit()
    flash("This is your new private link: bookmark this page. The old link no longer works.")
    return redirect(url_for("members.page", token=fresh))
