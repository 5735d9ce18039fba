"""The send log on the task queue: each e-mail's row is written, holding its claim, before it is
queued; then a worker delivers it once (queued, then sending, then delivered or failed).

A worker takes a row only by moving it from queued to sending in one UPDATE, so two workers, or a
message queued twice, still send it once. A row left sending by a worker that died is released
after the lease and sent again; one whose temporary failure is being retried waits, queued, until
its next attempt is due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from toolkit.db import transaction
from toolkit.mail import MailError, Outbox, Transport, send_with_retry
from toolkit.models import SentInvite

# seconds to wait before each further attempt after a temporary failure; then it has failed
BACK_OFF = (30.0, 120.0, 600.0, 1800.0)
FINISHED = ("delivered", "failed", "dropped")


@dataclass(frozen=True)
class Draft:
    """A message about to be queued: to whom, about which session, and the claim that makes
    queueing it twice (two clicks, two `run-due`s) queue it once."""

    meeting_id: int
    member_id: int
    email: str
    kind: str
    claim: str
    method: str = ""
    sequence: int = 0


@dataclass(frozen=True)
class Composed:
    """A message ready for a transport, with the name an outbox file takes."""

    email: EmailMessage
    name: str


@dataclass(frozen=True)
class Drop:
    """Why a queued message is no longer wanted (its session moved or was cancelled, say)."""

    reason: str


# how a worker turns a row into its message, from the database as it is now
Composer = Callable[[Session, SentInvite, datetime], Composed | Drop]


class Retry(Exception):
    """A temporary failure: try again after `delay` seconds (the queue schedules it)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:g} s")
        self.delay = delay


def transport_kind(transport: Transport) -> str:
    return "outbox" if isinstance(transport, Outbox) else "smtp"


def queue_rows(
    sessions: sessionmaker[Session], drafts: list[Draft], kind: str, batch: str | None = None
) -> list[int]:
    """Write a queued row for each draft nobody has claimed; the ids of the rows written."""
    ids = []
    now = datetime.now(UTC)
    for draft in drafts:
        row = SentInvite(
            meeting_id=draft.meeting_id,
            member_id=draft.member_id,
            email=draft.email,
            kind=draft.kind,
            method=draft.method,
            sequence=draft.sequence,
            transport=kind,
            result="queued",
            state="queued",
            batch=batch,
            claim=draft.claim,
            claimed_at=now,
            sent_at=now,
        )
        try:
            with transaction(sessions) as db:
                db.add(row)
        except IntegrityError:
            continue  # already queued, sending or sent
        ids.append(row.id)
    return ids


def _take(sessions: sessionmaker[Session], row_id: int, now: datetime) -> bool:
    """Move the row from queued to sending; False if another worker has it, or it is done."""
    take = (
        update(SentInvite)
        .where(SentInvite.id == row_id, SentInvite.state == "queued")
        .values(state="sending", attempts=SentInvite.attempts + 1, claimed_at=now)
    )
    with transaction(sessions) as db:
        return db.execute(take).rowcount == 1


def deliver(
    sessions: sessionmaker[Session],
    row_id: int,
    compose: Composer,
    transport: Transport,
    now: datetime | None = None,
    back_off: tuple[float, ...] | None = None,
    delays: tuple[float, ...] = (),
) -> str:
    """Send one queued message once and log the outcome; return its state ("skipped" when the
    row was not queued). After a temporary failure it raises Retry with the next of `back_off`
    (the queue waits, then runs it again) until those run out; `delays` are waits for retries
    within this call, for a caller with no queue to wait for it."""
    now = now or datetime.now(UTC)
    if not _take(sessions, row_id, now):
        return "skipped"
    with sessions() as db:
        row = db.get(SentInvite, row_id)
        if row is None:  # its session was deleted for good meanwhile
            return "dropped"
        attempts = row.attempts
        try:
            made = compose(db, row, now)
        except Exception as exc:  # a fault of ours: logged on the row rather than retried forever
            made = exc
    if isinstance(made, Exception):
        _finish(sessions, row_id, "failed", f"error: could not compose it ({made!r})", None)
        return "failed"
    if isinstance(made, Drop):
        _finish(sessions, row_id, "dropped", f"not sent: {made.reason}", release=True)
        return "dropped"
    try:
        detail = send_with_retry(transport, made.email, made.name, delays)
    except MailError as exc:
        return _failed(sessions, row_id, exc, attempts, BACK_OFF if back_off is None else back_off)
    _finish(sessions, row_id, "delivered", detail)
    return "delivered"


def _failed(
    sessions: sessionmaker[Session],
    row_id: int,
    exc: MailError,
    attempts: int,
    back_off: tuple[float, ...],
) -> str:
    """Queue the row again for a later attempt, or, out of attempts or refused outright, fail it."""
    if exc.temporary and attempts <= len(back_off):
        delay = back_off[attempts - 1]
        again = datetime.now(UTC) + timedelta(seconds=delay)
        values = {"state": "queued", "claimed_at": again, "result": f"temporary: {exc}"}
        with transaction(sessions) as db:
            db.execute(update(SentInvite).where(SentInvite.id == row_id).values(**values))
        raise Retry(delay)
    state = "temporary" if exc.temporary else "permanent"
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    _finish(sessions, row_id, "failed", f"{state}: {exc}{tries}", release=None)
    return "failed"


def _finish(
    sessions: sessionmaker[Session],
    row_id: int,
    state: str,
    result: str,
    release: bool | None = False,
) -> None:
    """Record the outcome. A dropped message gives up its claim; so does a failed invite (it is
    owed again, for the facilitator to send); other failed kinds keep theirs until retried."""
    values = {"state": state, "result": result, "sent_at": datetime.now(UTC)}
    values["delivered"] = state == "delivered"
    with transaction(sessions) as db:
        row = db.get(SentInvite, row_id)
        if row is None:
            return
        if release or (release is None and row.kind == "invite"):
            values["claim"] = None
        db.execute(update(SentInvite).where(SentInvite.id == row_id).values(**values))


def recover(
    sessions: sessionmaker[Session], lease: float, now: datetime | None = None
) -> list[int]:
    """Rows a dead worker left sending, or queued rows whose task was lost (or whose retry is
    due), past the lease: queue them again; their ids, for the queue."""
    now = now or datetime.now(UTC)
    stale = now - timedelta(seconds=lease)
    abandoned = or_(SentInvite.state == "sending", SentInvite.state == "queued") & (
        SentInvite.claimed_at < stale
    )
    with transaction(sessions) as db:
        ids = list(db.scalars(select(SentInvite.id).where(abandoned)))
        if ids:
            db.execute(
                update(SentInvite)
                .where(SentInvite.id.in_(ids), abandoned)
                .values(state="queued", claimed_at=now, result="queued again: it never finished")
            )
    return ids


def retry_failed(sessions: sessionmaker[Session], row_id: int) -> str | None:
    """Queue a failed message again, if its claim is still free; None when done, else why not."""
    with transaction(sessions) as db:
        row = db.get(SentInvite, row_id)
        if row is None or row.state != "failed":
            return f"message {row_id} has not failed" if row else f"no message {row_id}"
        if row.kind == "invite":
            return "a failed invite is owed again: send the set's invites instead"
        row.state, row.attempts, row.result = "queued", 0, "queued again by hand"
        row.claimed_at = datetime.now(UTC)
    return None


def batch_rows(db: Session, batch: str) -> list[SentInvite]:
    """The rows one send (one click) queued, in the order they were queued."""
    return list(
        db.scalars(select(SentInvite).where(SentInvite.batch == batch).order_by(SentInvite.id))
    )


def failed_rows(db: Session, limit: int = 200) -> list[SentInvite]:
    """Messages that failed for good, newest first."""
    query = select(SentInvite).where(SentInvite.state == "failed").order_by(SentInvite.id.desc())
    return list(db.scalars(query.limit(limit)))
