"""`toolkit worker` and `toolkit jobs …`: run the task queue and look after it."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from toolkit.config import Settings

if TYPE_CHECKING:
    from toolkit.jobs.queue import Queue


def build_queue(settings: Settings) -> Queue:
    """The queue with what its tasks need, built on first use."""
    from toolkit import db as database
    from toolkit.casebank import load_bank
    from toolkit.frameworks import load_frameworks
    from toolkit.jobs.compose import Content
    from toolkit.jobs.queue import Queue, Worker

    def worker() -> Worker:
        engine = database.make_engine(settings.database_url)
        database.check_schema(engine)
        frameworks = load_frameworks()
        content = Content(settings, load_bank(settings.casebank_dir, frameworks), frameworks)
        return Worker(database.session_factory(engine), content)

    return Queue(settings, worker)


def _queue() -> Queue:
    from toolkit import db as database
    from toolkit.datafiles import DataFileError

    settings = Settings.from_env()
    queue = build_queue(settings)
    try:
        queue.worker  # noqa: B018  (fail here, cleanly, on a bad schema or bank)
    except (database.SchemaOutOfDate, DataFileError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    return queue


@click.command()
@click.option("--workers", default=2, show_default=True, help="Threads sending at once.")
@click.option("--burst", is_flag=True, help="Do what is due and queued, then stop.")
def worker(workers: int, burst: bool) -> None:
    """Run the task queue's workers (on any number of machines sharing TOOLKIT_QUEUE_URL)."""
    queue = _queue()
    where = queue.settings.queue_url or str(queue.settings.queue_file)
    if burst:
        recovered = queue.recover()
        due = queue.run_due(datetime.now().astimezone())
        done = queue.burst()
        click.echo(f"{due} message(s) due, {recovered} taken up again; {done} task(s) run")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"Working on the queue at {where} with {workers} thread(s) (Ctrl+C to stop)")
    queue.consumer(workers).run()


@click.group()
def jobs() -> None:
    """The task queue: what is queued, scheduled and failed; run what is due; retry."""


@jobs.command("list")
def jobs_list() -> None:
    """Tasks queued and scheduled (retries wait there), and messages that failed for good."""
    from toolkit.jobs.outgoing import failed_rows

    queue = _queue()
    pending, scheduled = queue.huey.pending(), queue.huey.scheduled()
    click.echo(f"queued: {len(pending)}")
    for task in pending:
        click.echo(f"  {task.id}  {task.name}{tuple(task.args)}")
    click.echo(f"scheduled: {len(scheduled)}")
    for task in scheduled:
        click.echo(f"  {task.id}  {task.name}{tuple(task.args)}  at {task.eta:%Y-%m-%d %H:%M} UTC")
    with queue.worker.sessions() as db:
        failed = failed_rows(db)
        click.echo(f"failed: {len(failed)}")
        for row in failed:
            click.echo(f"  {row.id}  {row.kind:20} {row.email:32} {row.result}")


@jobs.command("run-due")
@click.option("--at", "moment", required=True, help='"YYYY-MM-DD HH:MM", in each set\'s zone.')
def jobs_run_due(moment: str) -> None:
    """Queue every automatic message the schedule says is due at that moment (again: nothing)."""
    try:
        at = datetime.strptime(moment, "%Y-%m-%d %H:%M")
    except ValueError:
        click.echo(f'error: --at must look like "2027-01-12 09:00", not {moment!r}', err=True)
        sys.exit(1)
    queue = _queue()
    click.echo(f"queued {queue.run_due(at)} message(s) due at {moment} (each set's local time)")


@jobs.command("retry")
@click.argument("message_id", type=int)
def jobs_retry(message_id: int) -> None:
    """Queue a message that failed for good once more (its number from `toolkit jobs list`)."""
    from toolkit.jobs.outgoing import retry_failed

    queue = _queue()
    problem = retry_failed(queue.worker.sessions, message_id)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    queue.send([message_id])
    click.echo(f"queued message {message_id} again")
