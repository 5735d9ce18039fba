"""`make bench`: every benchmark in one table. Figures, not pass/fail; the README quotes them."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench import cold, load, mix_cpu, packs, pages, reminders  # noqa: E402
from toolkit import collector, invites, sets  # noqa: E402
from toolkit import db as database  # noqa: E402
from toolkit.accounts import create_user  # noqa: E402
from toolkit.casebank import CaseFilter, filter_cases, load_bank  # noqa: E402
from toolkit.config import REPO_ROOT, Settings  # noqa: E402
from toolkit.mail import Smtp  # noqa: E402
from toolkit.models import LearningSet  # noqa: E402
from toolkit.planning import local_start  # noqa: E402
from toolkit.session_templates import load_session_templates  # noqa: E402

ROWS: list[tuple[str, str]] = []


def row(name: str, figure: str) -> None:
    ROWS.append((name, figure))
    print(f"  {name}: {figure}", flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def case_search() -> None:
    """p50/p95 of a search over a generated bank of 10,000 cases (its index built first)."""
    bank = load_bank(REPO_ROOT / "casebank")
    big = pages.big_bank(bank, 10_000)
    index = _timed(lambda: getattr(big, "index", None))  # (none before the index was added)
    row("case bank index, 10,000 cases (built once per process)", ms(index))
    queries = [
        CaseFilter(search="handover escalation"),
        CaseFilter(stage="foundation", hlm="engaging-the-team"),
        CaseFilter(mlcf="working-with-others", setting="acute"),
        CaseFilter(search="rota", gpc="gpc-6"),
    ]
    times = []
    for n in range(10):
        for query in queries:
            query = replace(query, search=f"{query.search} {n}" if query.search else None)
            started = time.perf_counter()
            filter_cases(big, query)
            times.append(time.perf_counter() - started)
    p95 = sorted(times)[int(len(times) * 0.95)]
    label = "case search, 10,000 cases (p50 / p95; goal p95 <= 5 ms)"
    row(label, f"{ms(statistics.median(times))} / {ms(p95)}")


def feed_and_invites(folder: Path) -> None:
    """Feed for a set with 100 sessions; invites for 8 members x 6 sessions over loopback SMTP."""
    os.environ["TOOLKIT_DATA_DIR"] = str(folder)
    settings = Settings.from_env()
    engine = database.make_engine(settings.database_url)
    database.upgrade(engine)
    factory = database.session_factory(engine)
    templates = load_session_templates(REPO_ROOT / "session_templates")
    start = local_start(date(2037, 1, 8), clock(14), "Europe/London")
    with database.transaction(factory) as db:
        owner = create_user(db, "bench@example.org", None, "Bench")
        big = sets.create_set(db, owner, "big", "Big set")
        sets.add_series(db, big, start, 1, 100, templates["case-discussion"])
        small = sets.create_set(db, owner, "small", "Small set")
        for n in range(8):
            sets.add_member(db, small, f"Member {n}", f"m{n}@example.nhs.uk", "FY1")
        sets.add_series(db, small, start, 6, 6, templates["action-learning-set"])
    config = invites.InviteSettings.from_settings(settings)
    with factory() as db:
        big = db.scalar(select(LearningSet).where(LearningSet.slug == "big"))
        times = [_timed(lambda b=big: invites.feed(b, config)) for _ in range(3)]
        row("feed build, 100 sessions", ms(min(times)))
    sys.path.insert(0, str(REPO_ROOT))
    from tests.smtp_server import SmtpServer

    with SmtpServer() as server, factory() as db:
        small = db.scalar(select(LearningSet).where(LearningSet.slug == "small"))
        owed = invites.pending_invites(db, small)
        started = time.perf_counter()
        outcomes = invites.send_pending(factory, owed, config, Smtp(server.url))
        took = time.perf_counter() - started
        delivered = sum(o.delivered for o in outcomes)
        row("send invites, 8 members x 6 sessions", f"{ms(took)} ({delivered} delivered)")
    engine.dispose()


def _set_file(members: int, sessions: int) -> str:
    """A learning-set file of the given size, every session on the classic template."""
    head = "id: big\ntitle: Big\nfacilitator: {name: F, email: f@example.org}\nmembers:\n"
    people = "".join(f"  - {{name: M{i}, email: m{i}@example.org}}\n" for i in range(members))
    dates = [f"2030-{1 + i // 28:02}-{1 + i % 28:02} 14:00" for i in range(sessions)]
    meetings = "".join(f"  - {{start: {d}, template: action-learning-set}}\n" for d in dates)
    return head + people + "sessions:\n" + meetings


def set_file_import(folder: Path) -> None:
    """Importing a set file into an empty database at two sizes (10 times the members and
    sessions), then ten of the bigger files into one database: the cost is linear."""
    from toolkit.setfile import import_file

    bank = load_bank(REPO_ROOT / "casebank")
    templates = load_session_templates(REPO_ROOT / "session_templates")
    for members, sessions in ((5, 10), (50, 100)):
        engine = database.make_engine(f"sqlite:///{folder}/import-{members}-{sessions}.sqlite3")
        database.upgrade(engine)
        path = folder / f"set-{members}-{sessions}.yaml"
        path.write_text(_set_file(members, sessions), "utf-8")
        factory = database.session_factory(engine)
        seconds = _timed(lambda: import_file(factory, path, bank, templates))  # noqa: B023
        goal = " (goal <= 1 s)" if members == 50 else ""
        row(f"set file import, {members} members x {sessions} sessions{goal}", ms(seconds))
        engine.dispose()
    engine = database.make_engine(f"sqlite:///{folder}/import-ten.sqlite3")
    database.upgrade(engine)
    factory = database.session_factory(engine)
    text = _set_file(50, 100)
    times = []
    for n in range(10):
        path = folder / f"ten-{n}.yaml"
        path.write_text(text.replace("id: big", f"id: big-{n}", 1), "utf-8")
        times.append(_timed(lambda p=path: import_file(factory, p, bank, templates)))
    figures = f"{times[-1]:.2f} s the tenth; {sum(times):.1f} s in all"
    row("set file import, 10 files of 50 x 100 into one database", figures)
    engine.dispose()


def named_handouts(folder: Path) -> None:
    """The handout with one named copy for each of 50 members, rendered (not from the cache)."""
    pack = packs.build(folder, members=[f"Member {n} Surname" for n in range(50)])
    from toolkit.packs import render_document

    seconds = _timed(lambda: render_document(pack, "handouts-named"))
    row("named handouts, 50 members (goal <= 5 s)", f"{seconds:.2f} s")


def cold_pack() -> None:
    ours, bare = cold.run()
    row("`toolkit pack` from cold, a session's documents", f"{ours:.2f} s")
    row("bare WeasyPrint from cold, the same HTML (goal: ours <= 1.3x)",
        f"{bare:.2f} s (ours {ours / bare:.2f}x)")  # fmt: skip


def single_client() -> None:
    found = pages.run()
    goals = {"session page": 10, "set page": 8, "frameworks page": 3}
    for name, seconds in found["pages"].items():
        goal = f" (goal <= {goals[name]} ms)" if name in goals else ""
        row(f"one client, p50: {name}{goal}", ms(seconds))
    for label, figures in found["sizes"]:
        row(f"one client, p50, {label}", " / ".join(f"{k} {ms(v)}" for k, v in figures.items()))


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def mix_cpu_row() -> None:
    """CPU per request of the load test's mix in one process: the ceiling on its throughput."""
    found = mix_cpu.run()
    each = mix_cpu.per_request(found)
    cores = len(os.sched_getaffinity(0))
    parts = " / ".join(f"{ms(seconds)}" for seconds in found.values())
    row(
        "load test's mix, CPU per request in one process (" + " / ".join(found) + ")",
        f"{parts}; {ms(each)} a request: at most {cores / each:.0f} requests/s on {cores} cores",
    )


def under_load(seconds: float) -> None:
    timings, summary = load.run(20, seconds)
    row("20 clients, the load test's mix (goal >= 150 requests/s, 0 errors, 0 lost)", summary)
    for name in ("set page", "session page", "case search", "frameworks", "add block"):
        values = timings.get(name, [0.0])
        p95 = load.percentile(values, 0.95)
        row(f"{name}, 20 clients (p50 / p95)", f"{ms(statistics.median(values))} / {ms(p95)}")


def main() -> int:
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    collector.tune()  # as every `toolkit` command does first
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("packs (8 members, 2 cases):", flush=True)
    totals = packs.main()
    overhead = (totals["ours"] - totals["bare"]) / totals["bare"] * 100
    row("all documents of a session, rendered", ms(totals["ours"]))
    row("the same HTML, bare WeasyPrint", f"{ms(totals['bare'])} (ours {overhead:+.0f}%)")
    row("all documents, cached repeat", ms(totals["cached"]))
    cold_pack()
    with tempfile.TemporaryDirectory() as tmp:
        named_handouts(Path(tmp))
    print("pages:", flush=True)
    single_client()
    print("other measurements:", flush=True)
    case_search()
    with tempfile.TemporaryDirectory() as tmp:
        feed_and_invites(Path(tmp))
        set_file_import(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        took, arrived = reminders.run(Path(tmp))
        label = f"reminders, {reminders.SETS} sets x {reminders.MEMBERS} members, queue on SQLite"
        row(f"{label}, {reminders.WORKERS} workers", f"{ms(took)} ({arrived} delivered)")
    mix_cpu_row()
    under_load(seconds)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("\n| measurement | figure |\n| --- | --- |")
    for name, figure in ROWS:
        print(f"| {name} | {figure} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
