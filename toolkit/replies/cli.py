"""`toolkit replies import FILE…`: read calendars' answers to our invites from e-mail files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit.config import Settings


@click.group()
def replies() -> None:
    """Members' replies to invites, as their calendars sent them (iTIP REPLY)."""


@replies.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def replies_import(files: tuple[Path, ...]) -> None:
    """Record the replies in .eml, .ics or mbox files (one line per reply: accepted or why
    refused); exits non-zero if any was refused or could not be read."""
    from toolkit import db as database
    from toolkit.replies import import_replies, read_path

    settings = Settings.from_env()
    engine = database.make_engine(settings.database_url)
    try:
        database.check_schema(engine)
    except database.SchemaOutOfDate as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sessions = database.session_factory(engine)
    found = [item for path in files for item in read_path(path)]
    outcomes = import_replies(sessions, found, settings.host)
    for outcome in outcomes:
        click.echo(str(outcome))
    accepted = sum(1 for o in outcomes if o.accepted)
    click.echo(f"{accepted} accepted, {len(outcomes) - accepted} refused")
    if accepted < len(outcomes):
        sys.exit(1)
