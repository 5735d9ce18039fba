"""Reminders for 50 sets x 8 members through the task queue, with two `toolkit worker` processes
sharing it, to a loopback SMTP server: from `run-due` to the last message accepted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.jobs.cli import build_queue
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

SETS, MEMBERS, WORKERS = 50, 8, 2
FIRST = date(2037, 2, 12)


def _make_sets(settings: Settings) -> None:
    engine = database.make_engine(settings.database_url)
    database.upgrade(engine)
    factory = database.session_factory(engine)
    template = load_session_templates(REPO_ROOT / "session_templates")["action-learning-set"]
    start = local_start(FIRST, clock(14), "Europe/London")
    with database.transaction(factory) as db:
        owner = create_user(db, "bench@example.org", None, "Bench")
        for n in range(SETS):
            s = sets.create_set(db, owner, f"set-{n}", f"Set {n}")
            s.assessment_mail = False
            for m in range(MEMBERS):
                sets.add_member(db, s, f"Member {m}", f"m{n}-{m}@example.nhs.uk", "FY1")
            sets.add_series(db, s, start, 6, 1, template)
    engine.dispose()


def run(folder: Path, queue_url: str | None = None) -> tuple[float, int]:
    """Seconds from queueing every reminder to the last one delivered, and how many arrived."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.smtp_server import SmtpServer

    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    environ["TOOLKIT_DATA_DIR"] = str(folder)
    if queue_url:
        environ["TOOLKIT_QUEUE_URL"] = queue_url
    with SmtpServer() as server:
        environ["TOOLKIT_SMTP_URL"] = server.url
        settings = Settings.from_env(environ)
        _make_sets(settings)
        started = time.perf_counter()
        queued = build_queue(settings).run_due(
            datetime.combine(FIRST - timedelta(days=2), clock(9))
        )
        toolkit = str(Path(sys.executable).parent / "toolkit")
        workers = [
            subprocess.Popen([toolkit, "worker", "--burst"], env=environ) for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.wait(600)
        took = time.perf_counter() - started
        assert queued == SETS * MEMBERS, queued
        return took, len(server.recorder.messages)
