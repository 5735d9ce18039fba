"""One client, in process (Flask's test client, no network): the main pages' p50, and how it
changes with the set's size (members, sessions) and the case bank's size (cases)."""

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

from bench.load import PASSWORD  # noqa: E402

ROUNDS = 40


def big_bank(bank, size: int):
    """The bank with `size` cases: copies of the real ones under new ids and titles."""
    from toolkit.casebank import Bank

    base = list(bank.cases.values())
    if size <= len(base):
        return Bank(dict(list(bank.cases.items())[:size]), bank.prompts, bank.resources,
                    bank.statements)  # fmt: skip
    many = {}
    for n in range(size):
        case = base[n % len(base)]
        many[f"{case.id}-{n}"] = replace(case, id=f"{case.id}-{n}", title=f"{case.title} {n}")
    return Bank(many, bank.prompts, bank.resources, bank.statements)


def _build(app, slug: str, members: int, sessions: int) -> None:
    from sqlalchemy import select

    from toolkit import db as database
    from toolkit import sets
    from toolkit.models import User
    from toolkit.planning import local_start

    kit = app.extensions["toolkit"]
    start = local_start(date(2037, 1, 8), clock(14), "Europe/London")
    with database.transaction(kit.sessions) as db:
        owner = db.scalar(select(User))
        s = sets.create_set(db, owner, slug, slug)
        for n in range(members):
            sets.add_member(db, s, f"Member {n}", f"{slug}-{n}@example.nhs.uk", "FY2")
        sets.add_series(db, s, start, 1, sessions, kit.templates["action-learning-set"])
        first = sets.meetings_in_order(s)[0]
        for case_id in list(kit.bank.cases)[:2]:
            sets.attach(db, first, kit.bank, case_id=case_id)


def p50(client, url: str) -> float:
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> dict:
    """{"pages": {name: p50}, "sizes": [(label, {page: p50})]}"""
    from toolkit import db as database
    from toolkit.accounts import create_user
    from toolkit.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TOOLKIT_DATA_DIR"] = tmp
        os.environ.pop("TOOLKIT_DATABASE_URL", None)
        engine = database.make_engine(Settings.from_env().database_url)
        database.upgrade(engine)
        with database.transaction(database.session_factory(engine)) as db:
            create_user(db, "bench@example.org", PASSWORD, "Bench")
        engine.dispose()
        from toolkit.web import create_app

        app = create_app()
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": PASSWORD})
        sizes = [(6, 6), (50, 6), (6, 100), (50, 100)]
        for members, sessions in sizes:
            _build(app, f"s{members}x{sessions}", members, sessions)
        pages = {
            "session page": p50(client, "/sets/s6x6/sessions/session-1"),
            "set page": p50(client, "/sets/s6x6"),
            "frameworks page": p50(client, "/frameworks/"),
            "case search": p50(client, "/cases/?search=handover"),
            "sign-in page, signed out (reference)": p50(app.test_client(), "/login"),
        }
        table = []
        for members, sessions in sizes:
            slug = f"s{members}x{sessions}"
            table.append(
                (
                    f"{members} members, {sessions} sessions",
                    {
                        "set": p50(client, f"/sets/{slug}"),
                        "session": p50(client, f"/sets/{slug}/sessions/session-1"),
                    },
                )
            )
        kit = app.extensions["toolkit"]
        real = kit.bank
        for size in (40, 1_000, 10_000):
            kit.bank = big_bank(real, size)
            getattr(kit, "derived", {}).clear()  # views of the bank made from the old one
            table.append(
                (
                    f"bank of {size:,} cases",
                    {
                        "session": p50(client, "/sets/s6x6/sessions/session-1"),
                        "case search": p50(client, "/cases/?search=handover"),
                        "frameworks": p50(client, "/frameworks/"),
                    },
                )
            )
        kit.bank = real
        return {"pages": pages, "sizes": table}


if __name__ == "__main__":
    found = run()
    for name, seconds in found["pages"].items():
        print(f"{name}: {seconds * 1000:.1f} ms")
    for label, figures in found["sizes"]:
        print(label, ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in figures.items()))
