"""The task queue (Huey): an SQLite file in the data folder by default, nothing to install or start;
Redis (`TOOLKIT_QUEUE_URL=redis://…`) when workers on several machines share the work.

The tasks are few: deliver one message of the send log, print a bundle of documents, every
minute queue what the schedule says is due (and whatever a dead worker left unfinished), and
every 5 minutes read members' calendar replies from a mailbox, when TOOLKIT_IMAP_URL names one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from toolkit.config import Settings
from toolkit.jobs import outgoing, schedule
from toolkit.mail import transport_for
from toolkit.models import LearningSet, Meeting, SentInvite
from toolkit.private_files import create_private_file

if TYPE_CHECKING:
    from toolkit.jobs.compose import Content

log = logging.getLogger("toolkit.jobs")
CLAIM_CHUNK = 500  # claims looked up per query


@dataclass
class Worker:
    """What a task needs to run: the database and the content (built once per process)."""

    sessions: sessionmaker[Session]
    content: Content


def make_huey(settings: Settings) -> Huey:
    """Huey on Redis when `TOOLKIT_QUEUE_URL` names it, else on the data folder's SQLite file."""
    if settings.queue_url:
        return RedisHuey("toolkit", url=settings.queue_url, results=False)
    create_private_file(settings.queue_file)
    return SqliteHuey("toolkit", filename=str(settings.queue_file), results=False)


class Queue:
    """The queue and its tasks, for one configuration; `worker` builds what tasks need, lazily
    (the web only enqueues, so it never needs it)."""

    def __init__(self, settings: Settings, worker: Callable[[], Worker]) -> None:
        self.settings = settings
        self.huey = make_huey(settings)
        self._worker = functools.cache(worker)
        self.deliver = self.huey.task(name="deliver", context=False)(self._deliver)
        self.tick = self.huey.periodic_task(crontab(), name="tick")(self._tick)
        self.bundle = self.huey.task(name="bundle")(self._bundle)
        every_5 = crontab(minute="*/5")
        self.poll_replies = self.huey.periodic_task(every_5, name="poll_replies")(self._poll)

    @property
    def worker(self) -> Worker:
        return self._worker()

    def _deliver(self, row_id: int) -> str:
        from toolkit.jobs.compose import Composer  # WeasyPrint: only where mail is composed

        worker, settings = self.worker, self.settings
        transport = transport_for(settings.smtp_url, settings.outbox_dir, settings.smtp_timeout)
        try:
            return outgoing.deliver(worker.sessions, row_id, Composer(worker.content), transport)
        except outgoing.Retry as retry:
            raise RetryTask(delay=retry.delay) from None
        finally:
            transport.close()

    def _bundle(self, set_ids: list[int], bundle_id: str, only: str | None = None) -> str:
        from toolkit.jobs import bundles  # WeasyPrint: only where printing happens

        return bundles.run(self, set_ids, bundle_id, only)

    def _tick(self) -> None:
        """Every minute: queue what is due now, and what a dead worker left unfinished."""
        self.recover()
        self.run_due(datetime.now(UTC))
        self.purge()
        from toolkit.jobs import bundles

        bundles.purge(self.settings.data_dir)

    def _poll(self) -> int:
        """Every 5 minutes, with TOOLKIT_IMAP_URL: import the calendar replies in the mailbox."""
        if not self.settings.imap_url:
            return 0
        from toolkit.replies.imap import MailboxError, poll

        try:
            outcomes = poll(self.worker.sessions, self.settings.imap_url, self.settings.host)
        except MailboxError as exc:
            log.warning("calendar replies not read: %s", exc)
            return 0
        return len(outcomes)

    def purge(self) -> None:
        """Delete for good the deleted sessions whose cancellations have all gone."""
        from toolkit import invites

        with self.worker.sessions() as db:
            ids = set(db.scalars(select(Meeting.set_id).where(Meeting.deleted_at.is_not(None))))
        invites.purge_sets(self.worker.sessions, ids)

    def send(self, ids: Iterable[int]) -> None:
        """Queue a delivery task for each row of the send log."""
        for row_id in ids:
            self.deliver(row_id)

    def recover(self) -> int:
        ids = outgoing.recover(self.worker.sessions, self.settings.lease)
        self.send(ids)
        return len(ids)

    def run_due(self, at: datetime) -> int:
        """Queue every automatic message due at `at` (an aware time: that instant; a naive one:
        that wall-clock time in each set's own zone); how many were queued."""
        sessions = self.worker.sessions
        drafts = due_drafts(sessions, at)
        kind = "smtp" if self.settings.smtp_url else "outbox"
        ids = outgoing.queue_rows(sessions, drafts, kind)
        self.send(ids)
        return len(ids)

    def consumer(self, workers: int, periodic: bool = True) -> Consumer:
        """A Huey consumer with `workers` threads (mail waits on the network, not the CPU)."""
        return Consumer(self.huey, workers=workers, periodic=periodic, worker_type="thread")

    def burst(self) -> int:
        """Run what is queued (and retries now due) in this process until nothing is left."""
        done = 0
        while True:
            for task in self.huey.read_schedule(datetime.now(UTC).replace(tzinfo=None)):
                self.huey.enqueue(task)
            task = self.huey.dequeue()
            if task is None:
                return done
            self.huey.execute(task)
            done += 1


def due_drafts(sessions: sessionmaker[Session], at: datetime) -> list[outgoing.Draft]:
    """Drafts of the automatic messages due at `at` that nobody has claimed yet."""
    with sessions() as db:
        drafts = []
        for learning_set in db.scalars(select(LearningSet).order_by(LearningSet.id)):
            now = at if at.tzinfo else at.replace(tzinfo=ZoneInfo(learning_set.time_zone))
            drafts += [_draft(due) for due in schedule.due_messages(db, learning_set, now)]
        taken = _claimed(db, [d.claim for d in drafts])
    return [d for d in drafts if d.claim not in taken]


def _draft(due: schedule.Due) -> outgoing.Draft:
    return outgoing.Draft(due.meeting.id, due.member.id, due.member.email, due.kind, due.claim)


def _claimed(db: Session, claims: list[str]) -> set[str]:
    taken: set[str] = set()
    for i in range(0, len(claims), CLAIM_CHUNK):
        chunk = claims[i : i + CLAIM_CHUNK]
        taken |= set(db.scalars(select(SentInvite.claim).where(SentInvite.claim.in_(chunk))))
    return taken


class EmbeddedConsumer(Consumer):
    """A consumer run inside `toolkit serve`: the web server keeps the signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass
