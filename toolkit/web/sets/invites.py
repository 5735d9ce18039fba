"""Invites on the web: review what will go to whom, send it, the send log, feed and downloads."""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select

from toolkit import invites, members
from toolkit.jobs.compose import PREVIEW_TOKEN
from toolkit.letters import Section
from toolkit.mail import Transport, transport_for
from toolkit.models import LearningSet
from toolkit.resources import catalogue
from toolkit.web import get_db, public_url, toolkit
from toolkit.web.sets.messages import queue_send, session_numbers
from toolkit.web.sets.routes import bp, find_meeting, find_set

feeds = Blueprint("feeds", __name__)
FEED_MAX_AGE = 300  # seconds a subscriber may reuse the feed without asking again


def _config() -> invites.InviteSettings:
    kit = toolkit()
    return invites.InviteSettings.from_settings(kit.settings, catalogue(get_db(), kit.bank))


def _transport() -> Transport:
    settings = toolkit().settings
    return transport_for(settings.smtp_url, settings.outbox_dir, settings.smtp_timeout)


def _calendar_response(body: bytes, filename: str, download: bool) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if download else {}
    return Response(body, mimetype="text/calendar", headers=headers)


def _preview_replies(p: invites.Pending) -> Section | None:
    """The reply lines as an invite carries them, with a stand-in for the member's own link."""
    if p.method != "REQUEST":
        return None
    return members.reply_section(toolkit().settings.base_url, PREVIEW_TOKEN, p.meeting)


@bp.route("/<slug>/invites")
def review_invites(slug: str):
    """Exactly what will be sent to whom, before anything is sent; and what was sent."""
    learning_set = find_set(slug)
    db = get_db()
    owed = invites.pending_invites(db, learning_set)
    config = _config()
    feed_url = public_url("feeds.feed", token=learning_set.feed_token)
    return render_template(
        "sets/invites.html",
        s=learning_set,
        owed=owed,
        letter_of=lambda p: invites.letter(p, config.library, _preview_replies(p)),
        out_of_date=invites.out_of_date_members(owed),
        log=invites.send_log(db, learning_set),
        members={m.id: m for m in learning_set.members},
        number_of_meeting=session_numbers(learning_set),
        transport=_transport(),
        sender=config.sender,
        feed_url=feed_url,
        webcal_url="webcal://" + feed_url.split("://", 1)[1],
        csrf_form=FlaskForm(),
    )


@bp.post("/<slug>/invites/send")
def send_invites(slug: str):
    """Queue every owed message, then show the send's progress; a second click (or another tab)
    queues nothing new, because each message's claim is taken once."""
    learning_set = find_set(slug)
    owed = invites.pending_invites(get_db(), learning_set)
    batch = secrets.token_urlsafe(12)
    queue_send(learning_set, [invites.draft(p) for p in owed], batch)
    return redirect(url_for("sets.sending", slug=slug, batch=batch))


@bp.post("/<slug>/feed-token")
def new_feed_token(slug: str):
    """Replace the feed's secret address; the old address stops working at once."""
    learning_set = find_set(slug)
    learning_set.feed_token = secrets.token_urlsafe(32)
    get_db().commit()
    flash("The feed has a new address. Anyone using the old one must subscribe again.")
    return redirect(url_for("sets.review_invites", slug=slug, _anchor="feed"))


@bp.route("/<slug>/sessions/<key>/calendar.ics")
def session_calendar(slug: str, key: str):
    """One session as an .ics file for the facilitator's own calendar (METHOD:PUBLISH)."""
    meeting = find_meeting(slug, key)
    body = invites.single(meeting, _config())
    return _calendar_response(body, f"{slug}-{key}.ics", download=True)


@feeds.route("/feeds/<token>.ics")
def feed(token: str):
    """The set's subscribable feed; the long random token is the only key."""
    if len(token) < 20:
        abort(404)
    learning_set = get_db().scalar(select(LearningSet).where(LearningSet.feed_token == token))
    if learning_set is None:
        abort(404)
    published = invites.published_feed(learning_set, _config())
    response = _calendar_response(published.body, "feed.ics", download=False)
    response.set_etag(published.etag)
    response.last_modified = published.last_modified
    # private: the address holds the feed's secret token, so no shared cache should keep it
    response.cache_control.private = True
    response.cache_control.max_age = FEED_MAX_AGE
    return response.make_conditional(request)  # 304 on a matching ETag or date
