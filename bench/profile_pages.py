"""Where a page's time goes: SQL queries per page, time per page, and a cProfile of each.

`.venv/bin/python bench/profile_pages.py [--profile]` builds a set like the load test's (6
members, 20 sessions) in a temporary data dir and requests each main page through Flask's test
client, signed in.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load  # noqa: E402

PAGES = {
    "set page": "/sets/load",
    "session page": "/sets/load/sessions/session-1",
    "members page": "/m/{token}",
    "frameworks": "/frameworks/",
    "case search": "/cases/?search=handover",
}


def member_token(app) -> str:
    """The first member's private link token (made on first use)."""
    from sqlalchemy import select

    from toolkit import db as database
    from toolkit.models import Member
    from toolkit.self_assessment import ensure_token

    with database.transaction(app.extensions["toolkit"].sessions) as db:
        return ensure_token(db.scalars(select(Member)).first())


def main() -> int:
    from sqlalchemy import event

    with tempfile.TemporaryDirectory() as tmp:
        load.prepare(Path(tmp), 20)
        os.environ["TOOLKIT_DATA_DIR"] = tmp
        from toolkit.web import create_app

        app = create_app({"WTF_CSRF_ENABLED": False})
        engine = app.extensions["toolkit"].engine
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        client = app.test_client()
        token = member_token(app)
        client.post("/login", data={"email": "load@example.org", "password": load.PASSWORD})
        for name, url in PAGES.items():
            url = url.format(token=token)
            assert client.get(url).status_code == 200, url
            statements.clear()
            client.get(url)
            count = len(statements)
            times = []
            for _ in range(30):
                started = time.perf_counter()
                client.get(url)
                times.append(time.perf_counter() - started)
            print(f"{name:14} {count:4} queries  p50 {statistics.median(times) * 1000:6.1f} ms")
            if "--profile" in sys.argv:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(30):
                    client.get(url)
                profile.disable()
                pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    return 0


if __name__ == "__main__":
    sys.exit(main())
