"""The `toolkit` command: serve the app, migrate the database, manage users and the case bank."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from toolkit import collector
from toolkit import db as database
from toolkit.casebank import (
    QUESTION_STAGES,
    RESOURCE_KINDS,
    SETTINGS,
    STAGES,
    CaseFilter,
    filter_cases,
    load_bank,
)
from toolkit.config import Settings
from toolkit.datafiles import DataFileError
from toolkit.frameworks import load_frameworks
from toolkit.private_files import PRIVATE_UMASK
from toolkit.session_templates import load_session_templates
from toolkit.sets import SetError


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _engine(settings: Settings, check: bool = True):
    """The database engine; unless `check` is off, exit cleanly when the schema is out of date."""
    engine = database.make_engine(settings.database_url)
    if check:
        try:
            database.check_schema(engine)
        except database.SchemaOutOfDate as exc:
            _fail(str(exc))
    return engine


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Learning-set toolkit: build, print and invite leadership learning sets."""
    collector.tune()
    os.umask(PRIVATE_UMASK)  # everything it writes holds personal data: for this user alone


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Threads in each process.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Processes to serve from [default: one per core]."
)
def serve(host: str, port: int, threads: int, workers: int | None) -> None:
    """Serve the web app with waitress, in one process per core."""
    from toolkit.web import create_app
    from toolkit.web.serving import default_workers, listen
    from toolkit.web.serving import serve as run

    try:
        app = create_app()
    except (database.SchemaOutOfDate, DataFileError) as exc:
        _fail(str(exc))
    try:
        sock = listen(host, port)
    except OSError as exc:
        _fail(
            f"cannot listen on {host}:{port} ({exc.strerror}): stop the other server or use --port"
        )
    address = f"http://{host}:{port}"
    token = app.config.get("SETUP_TOKEN")
    if token:
        click.echo(f"First run: create the admin account at {address}/setup")
        click.echo(f"  (from another machine: {address}/setup?token={token})")
    workers = workers or default_workers()
    processes = f"{workers} processes" if workers > 1 else "one process"
    click.echo(f"Serving the learning-set toolkit on {address} ({processes}; Ctrl+C to stop)")
    sys.stdout.flush()
    run(app, sock, threads, workers, _embedded_consumer)
    click.echo("stopped")


def _embedded_consumer(app):
    """Without TOOLKIT_QUEUE_URL the queue is a file in the data folder and its workers run in
    this process, so one command does everything; with it, `toolkit worker` runs them."""
    from toolkit.jobs.queue import EmbeddedConsumer
    from toolkit.web import toolkit

    queue = toolkit(app).queue
    if queue.settings.queue_url:
        click.echo("Messages and printing wait for `toolkit worker` (TOOLKIT_QUEUE_URL is set)")
        return None
    consumer = EmbeddedConsumer(queue.huey, workers=2, worker_type="thread", shutdown_timeout=20)
    consumer.start()
    click.echo(f"Running the task queue ({queue.settings.queue_file}) in this process")
    return consumer


def _add_job_commands() -> None:
    from toolkit.jobs.cli import jobs, worker

    main.add_command(worker)
    main.add_command(jobs)


_add_job_commands()


def _add_reply_commands() -> None:
    from toolkit.replies.cli import replies

    main.add_command(replies)


_add_reply_commands()


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (safe to run again)."""
    settings = Settings.from_env()
    engine = _engine(settings, check=False)
    database.upgrade(engine)
    current, _head = database.schema_revisions(engine)
    click.echo(f"database is at revision {current}")


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def backup(output: Path) -> None:
    """Write every set, session, attendance, action, send log and user to a JSON backup."""
    from toolkit.backup import write_backup

    counts = write_backup(_engine(Settings.from_env()), output)
    click.echo(f"wrote {output}: {sum(counts.values())} rows in {len(counts)} tables")
    click.echo(
        "It holds personal data (names, addresses, password hashes, members' private links and "
        "ratings) and is readable only by you: keep it that way, and delete it when not needed."
    )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(file: Path) -> None:
    """Restore a backup into an empty database (all or nothing)."""
    from toolkit.backup import BackupError, read_backup, restore_backup

    engine = _engine(Settings.from_env())
    try:
        counts = restore_backup(engine, read_backup(file, engine))
    except BackupError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        _fail(f"{exc}; nothing was changed")
    click.echo(f"restored {sum(counts.values())} rows from {file}")


@main.group()
def users() -> None:
    """Facilitator and admin accounts."""


@users.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the part before @).")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.password_option(help="Password (asked for when not given).")
def users_add(email: str, name: str, admin: bool, password: str) -> None:
    """Add a facilitator (or, with --admin, an admin) account."""
    from toolkit.accounts import AccountError, create_user

    settings = Settings.from_env()
    engine = _engine(settings)
    try:
        with database.transaction(database.session_factory(engine)) as session:
            user = create_user(session, email, password, name, admin)
    except AccountError as exc:
        _fail(str(exc))
    click.echo(f"added {'admin' if admin else 'facilitator'} {user.email}")


@main.group()
def cases() -> None:
    """The case bank and prompt bank."""


@cases.command("validate")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def cases_validate(folder: Path | None) -> None:
    """Check every case and prompt file; list every problem and exit non-zero if any."""
    folder = folder or Settings.from_env().casebank_dir
    try:
        bank = load_bank(folder)
    except DataFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(exc.problems)} problem(s) in {folder}")
    click.echo(f"{folder}: {len(bank.cases)} cases and {len(bank.prompts)} prompts, all valid")


@cases.command("coverage")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def cases_coverage(folder: Path | None) -> None:
    """Print coverage of grades, places, kinds of case and frameworks; exit 1 if one is missed."""
    from toolkit.bank_coverage import coverage_report

    folder = folder or Settings.from_env().casebank_dir
    try:
        bank = load_bank(folder)
    except DataFileError as exc:
        _fail(f"the case bank is invalid:\n{exc}")
    report = coverage_report(bank, load_frameworks())
    group = None
    for target in report:
        if target.group != group:
            group = target.group
            click.echo(f"\n{group}")
        mark = "ok  " if target.met else ("LOW " if target.count < target.minimum else "HIGH")
        click.echo(f"  {mark}{target.count:4} / {target.limit:<4} {target.label}")
    missed = [t for t in report if not t.met]
    click.echo(f"\n{len(report) - len(missed)} of {len(report)} targets met")
    for target in missed:
        click.echo(f"missed: {target.group}: {target.label} ({target.count}, needs {target.limit})")
    if missed:
        sys.exit(1)


def _choice(values: tuple[str, ...]) -> click.Choice:
    return click.Choice(values, case_sensitive=False)


@cases.command("list")
@click.option("--hlm", help="HLM dimension id, e.g. engaging-the-team.")
@click.option("--mlcf", help="MLCF domain or element id, e.g. working-with-others.")
@click.option("--gpc", help="GPC domain id, gpc-1 to gpc-9.")
@click.option("--stage", type=_choice(STAGES), help="Career stage.")
@click.option("--setting", type=_choice(SETTINGS), help="Clinical setting.")
@click.option("--search", help="Words that must all appear in the case.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cases_list(as_json: bool, **filters: str | None) -> None:
    """List cases, optionally filtered by framework area, stage, setting or text."""
    frameworks = load_frameworks()
    for key in ("hlm", "mlcf", "gpc"):
        if filters[key] and frameworks.by_key(key).get(filters[key]) is None:
            _fail(f"unknown --{key} id '{filters[key]}' (see `toolkit frameworks list`)")
    bank = _bank()
    found = filter_cases(bank, CaseFilter(**filters))
    if as_json:
        click.echo(json.dumps([c.summary_dict() for c in found], indent=2, ensure_ascii=False))
        return
    for case in found:
        click.echo(f"{case.id:40} {case.minutes:3} min  {case.title}")
    click.echo(f"{len(found)} of {len(bank.cases)} cases", err=True)


def _bank():
    try:
        return load_bank(Settings.from_env().casebank_dir)
    except DataFileError as exc:
        _fail(f"the case bank is invalid:\n{exc}\n(run `toolkit cases validate` for the full list)")


@main.group()
def prompts() -> None:
    """The prompt bank."""


@prompts.command("list")
@click.option("--stage", type=_choice(QUESTION_STAGES), help="Questioning stage.")
def prompts_list(stage: str | None) -> None:
    """List prompts, optionally for one questioning stage."""
    for prompt in _bank().prompts.values():
        if not stage or prompt.stage == stage:
            click.echo(f"{prompt.stage:15} {prompt.id:45} {prompt.text}")


@main.group("resources")
def resources_group() -> None:
    """The resource library (pre-work and further reading)."""


@resources_group.command("list")
@click.option("--kind", type=_choice(RESOURCE_KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def resources_list(kind: str | None, as_json: bool) -> None:
    """List the library: the bank's resources and those facilitators added."""
    from toolkit.resources import catalogue, filter_resources

    settings = Settings.from_env()
    bank = _bank()
    with database.session_factory(_engine(settings))() as session:
        found = filter_resources(catalogue(session, bank), kind=kind)
    if as_json:
        rows = [
            {"id": r.id, "title": r.title, "url": r.url, "kind": r.kind, "minutes": r.minutes,
             "hlm": list(r.tags.hlm), "mlcf": list(r.tags.mlcf), "gpc": list(r.tags.gpc),
             "description": r.description}
            for r in found
        ]  # fmt: skip
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in found:
        click.echo(f"{r.kind:12} {r.minutes:4} min  {r.id:45} {r.title}")


@main.group()
def templates() -> None:
    """Session templates."""


@templates.command("list")
def templates_list() -> None:
    """List session templates with their slot and planned minutes."""
    try:
        found = load_session_templates(Settings.from_env().session_templates_dir)
    except DataFileError as exc:
        _fail(str(exc))
    for t in found.values():
        click.echo(
            f"{t.id:28} {t.minutes:4} min slot, {t.planned_minutes():4} min planned  {t.name}"
        )


@main.group("sets")
def sets_group() -> None:
    """Learning sets from and to learning-set files."""


def _content(settings: Settings):
    """The case bank and templates, or a clean exit naming what is wrong."""
    try:
        return load_bank(settings.casebank_dir), load_session_templates(
            settings.session_templates_dir
        )
    except DataFileError as exc:
        _fail(f"the case bank or a session template is invalid:\n{exc}")


def import_file(settings: Settings, path: Path) -> tuple[str, list[str]]:
    """Validate a learning-set file and apply it in one transaction; nothing changes on error."""
    from toolkit import setfile

    bank, templates = _content(settings)
    engine = _engine(settings)
    return setfile.import_file(database.session_factory(engine), path, bank, templates)


@sets_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def sets_import(file: Path) -> None:
    """Create or update a set from a learning-set file (all or nothing); prints the set id."""
    try:
        slug, notes = import_file(Settings.from_env(), file)
    except DataFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(exc.problems)} problem(s) in {file}; nothing was changed")
    except SetError as exc:
        _fail(f"{exc}; nothing was changed")
    for note in notes:
        click.echo(note, err=True)
    click.echo(slug)


def _find_set(session, slug: str):
    from sqlalchemy import select

    from toolkit.models import LearningSet

    found = session.scalar(select(LearningSet).where(LearningSet.slug == slug))
    if found is None:
        _fail(f"no learning set with the id '{slug}' (see `toolkit sets list`)")
    return found


@sets_group.command("export")
@click.argument("set_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
def sets_export(set_id: str, output: Path | None) -> None:
    """Write a set as a learning-set file (to standard output unless -o is given)."""
    from toolkit.setfile import export_set

    settings = Settings.from_env()
    with database.session_factory(_engine(settings))() as session:
        text = export_set(_find_set(session, set_id))
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, "utf-8")
    click.echo(f"wrote {output}", err=True)


@sets_group.command("list")
def sets_list() -> None:
    """List every set with its member count and next session."""
    from sqlalchemy import select

    from toolkit.models import LearningSet
    from toolkit.sets import active_members, describe_when, next_meeting

    settings = Settings.from_env()
    with database.session_factory(_engine(settings))() as session:
        for s in session.scalars(select(LearningSet).order_by(LearningSet.slug)):
            upcoming = next_meeting(s)
            when = describe_when(upcoming) if upcoming else "no session ahead"
            click.echo(f"{s.slug:30} {len(active_members(s)):2} members  next: {when}  {s.title}")


@main.group("programmes")
def programmes_group() -> None:
    """Programmes: many learning sets under a programme lead."""


@programmes_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Write JSON instead of a table.")
def programmes_list(as_json: bool) -> None:
    """List every programme: id, title, year and its sets."""
    from toolkit.programmes.records import all_programmes

    settings = Settings.from_env()
    with database.session_factory(_engine(settings))() as session:
        found = [
            {"id": p.id, "title": p.title, "year": p.year, "sets": [s.slug for s in p.sets]}
            for p in all_programmes(session)
        ]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for p in found:
        click.echo(f"{p['id']:30} {p['year']:8} {len(p['sets']):2} sets  {p['title']}")


@main.command()
@click.argument("programme_id")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def report(programme_id: str, out: Path) -> None:
    """Write a programme's report.pdf, attendance.csv, attendance-summary.csv and
    attendance.xlsx into a folder (all of them or none)."""
    from toolkit.models import Programme, utcnow
    from toolkit.programmes.files import report_files, write_files

    settings = Settings.from_env()
    bank, _templates = _content(settings)
    with database.session_factory(_engine(settings))() as session:
        programme = session.get(Programme, programme_id)
        if programme is None:
            _fail(f"no programme '{programme_id}' (see `toolkit programmes list`)")
        files = report_files(session, programme, bank, load_frameworks(), utcnow())
        session.commit()  # self-assessment phases that have closed are frozen when first read
    try:
        written = write_files(out, files)
    except OSError as exc:
        _fail(f"cannot write the report into {out}: {exc.strerror or exc}; nothing was written")
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("set_id")
@click.option("--session", "number", type=int, required=True, help="Session number, from 1.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--html", "with_html", is_flag=True, help="Also write each document's HTML.")
def pack(set_id: str, number: int, out: Path, with_html: bool) -> None:
    """Write a session's printable documents (PDF) into a folder."""
    from toolkit.frameworks import load_frameworks
    from toolkit.packs import build_pack, render_all, write_all
    from toolkit.sets import meetings_in_order

    settings = Settings.from_env()
    bank, _templates = _content(settings)
    with database.session_factory(_engine(settings))() as session:
        meetings = meetings_in_order(_find_set(session, set_id))
        if not 1 <= number <= len(meetings):
            _fail(f"session {number} does not exist: '{set_id}' has {len(meetings)} session(s)")
        content = build_pack(session, meetings[number - 1], bank, load_frameworks())
    if content.overrun:
        click.echo(f"warning: {content.overrun}", err=True)
    written = write_all(render_all(content, settings.pdf_cache_dir), out, with_html)
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("set_id")
@click.option("--session", "number", type=int, help="Only this session number.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write .eml files.")
@click.option("--send", is_flag=True, help="Send through TOOLKIT_SMTP_URL (or the outbox).")
@click.option("--all", "resend", is_flag=True, help="Include invites already delivered.")
def invites(set_id: str, number: int | None, out: Path | None, send: bool, resend: bool) -> None:
    """Write or send the calendar invites a set's members are owed (new or out of date)."""
    from toolkit import invites as service
    from toolkit.mail import Outbox, transport_for
    from toolkit.sets import meetings_in_order

    if bool(out) == send:
        _fail("choose one of --out DIR or --send")
    from toolkit.resources import catalogue

    settings = Settings.from_env()
    bank, _templates = _content(settings)
    factory = database.session_factory(_engine(settings))
    with factory() as session:
        config = service.InviteSettings.from_settings(settings, catalogue(session, bank))
        learning_set = _find_set(session, set_id)
        meetings = meetings_in_order(learning_set)
        only = None
        if number is not None:
            if not 1 <= number <= len(meetings):
                _fail(f"session {number} does not exist: '{set_id}' has {len(meetings)}")
            only = meetings[number - 1]
        owed = service.pending_invites(session, learning_set, only, resend)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "feed.ics").write_bytes(service.feed(learning_set, config))
            for p in owed:
                Outbox(out).send(service.message(p, config), service.file_stem(p))
            click.echo(f"wrote {len(owed)} message(s) and feed.ics to {out}")
            return
        transport = transport_for(settings.smtp_url, settings.outbox_dir, settings.smtp_timeout)
        click.echo(f"sending {len(owed)} message(s) through {transport.describe()}")
        outcomes = service.send_pending(factory, owed, config, transport, _print_outcome)
    failed = [o for o in outcomes if not o.delivered and not o.skipped]
    skipped = [o for o in outcomes if o.skipped]
    delivered = len(outcomes) - len(failed) - len(skipped)
    also = f", {len(skipped)} left to another send already sending them" if skipped else ""
    click.echo(f"{delivered} delivered, {len(failed)} failed{also}")
    if failed:
        sys.exit(1)


def _print_outcome(outcome) -> None:
    p = outcome.pending
    mark = "ok  " if outcome.delivered else "skip" if outcome.skipped else "FAIL"
    click.echo(f"{mark} {p.method:7} seq {p.sequence}  {p.member.email:32} {outcome.detail}")


@main.group()
def demo() -> None:
    """Demo content."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Only when the database has no learning sets.")
def demo_load(if_empty: bool) -> None:
    """Load the example learning set (examples/learning-set.yaml) as demo content."""
    from sqlalchemy import func, select

    from toolkit.config import REPO_ROOT
    from toolkit.models import LearningSet

    settings = Settings.from_env()
    with database.session_factory(_engine(settings))() as session:
        existing = session.scalar(select(func.count(LearningSet.id)))
    if if_empty and existing:
        click.echo("demo content not loaded: the database already has learning sets")
        return
    try:
        slug, _notes = import_file(settings, REPO_ROOT / "examples" / "learning-set.yaml")
    except (DataFileError, SetError) as exc:
        _fail(str(exc))
    click.echo(f"loaded the demo learning set '{slug}'")


@main.group()
def frameworks() -> None:
    """The leadership frameworks cases and prompts are tagged with."""


@frameworks.command("list")
def frameworks_list() -> None:
    """List every framework id with its number and name."""
    for fw in load_frameworks():
        click.echo(f"{fw.name} ({fw.key})")
        for area in fw.areas:
            click.echo(f"  {area.id:60} {area.label}")
