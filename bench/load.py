"""Load test: N concurrent facilitators browse and build sessions against `toolkit serve`.

Each client signs in, then for the given time opens the set, a session, the case bank and the
frameworks, and adds agenda blocks to its own session. At the end every block a client was told
was saved must be in the database: no errors and no lost writes. Prints latency per page.

A session holds at most 40 blocks, so a client moves on to its own session in the next spare
set (`load-2`, `load-3` …, each like the first) after `PER_SESSION` blocks: a fast server must
not run into the limit, and the set page it opens stays the same size.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLKIT = str(ROOT / ".venv" / "bin" / "toolkit")
PASSWORD = "correct horse battery"
PER_SESSION = 30  # blocks a client adds to one session before moving to its next one
SPARE_SETS = 9  # room for 300 blocks a client: one fast client for 30 s stays inside


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(data_dir: Path, clients: int) -> None:
    """A database with one facilitator and a set with a session per client."""
    os.environ["TOOLKIT_DATA_DIR"] = str(data_dir)
    from toolkit import db as database
    from toolkit import sets
    from toolkit.accounts import create_user
    from toolkit.config import Settings
    from toolkit.planning import local_start
    from toolkit.session_templates import load_session_templates

    settings = Settings.from_env()
    engine = database.make_engine(settings.database_url)
    database.upgrade(engine)
    templates = load_session_templates(settings.session_templates_dir)
    with database.transaction(database.session_factory(engine)) as db:
        owner = create_user(db, "load@example.org", PASSWORD, "Load Test")
        for slug in _slugs():
            s = sets.create_set(db, owner, slug, "Load set")
            for n in range(6):
                sets.add_member(db, s, f"Member {n}", f"m{n}@example.nhs.uk", "FY2")
            start = local_start(date(2037, 1, 8), clock(14), "Europe/London")
            sets.add_series(db, s, start, 1, clients, templates["short-action-learning-set"])
    engine.dispose()


def _slugs() -> list[str]:
    """The set every client opens, then the spare sets their later blocks go to."""
    return ["load"] + [f"load-{n}" for n in range(2, SPARE_SETS + 2)]


def _session_url(key: str, saved: int) -> str:
    """Where a client's next block goes: its own session, in the set `saved` has reached."""
    return f"/sets/{_slugs()[saved // PER_SESSION]}/sessions/{key}"


class Client:
    """One browser-like client with its own cookies."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.timings: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.saved = 0

    def request(self, name: str, path: str, form: dict | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as exc:
            self.errors.append(f"{name}: HTTP {exc.code}")
            return ""
        except OSError as exc:
            self.errors.append(f"{name}: {exc}")
            return ""
        self.timings.setdefault(name, []).append(time.perf_counter() - started)
        return body

    @staticmethod
    def token(page: str) -> str:
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        return found.group(1) if found else ""

    def sign_in(self) -> None:
        page = self.request("sign-in page", "/login")
        form = {"csrf_token": self.token(page), "email": "load@example.org", "password": PASSWORD}
        self.request("sign in", "/login", form)

    def work(self, session_key: str, until: float, n: int) -> None:
        while time.perf_counter() < until:
            url = _session_url(session_key, self.saved)
            self.request("set page", "/sets/load")
            page = self.request("session page", url)
            form = {
                "csrf_token": self.token(page),
                "block-title": f"Block {n}-{self.saved}",
                "block-kind": "input",
                "block-minutes": "1",
            }
            if self.request("add block", url + "/blocks", form):
                self.saved += 1
            self.request("case search", "/cases/?search=handover")
            self.request("frameworks", "/frameworks/")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(clients: int, seconds: float) -> tuple[dict[str, list[float]], str]:
    """Start the server, run the clients, check the writes; return timings per page and a
    summary line (requests per second, errors, lost writes)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        prepare(data_dir, clients)
        port = free_port()
        env = os.environ | {"TOOLKIT_DATA_DIR": str(data_dir)}
        server = subprocess.Popen(
            [TOOLKIT, "serve", "--port", str(port), "--threads", "8"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            keys = [f"session-{n + 1}" for n in range(clients)]
            crowd = [Client(base) for _ in range(clients)]
            for client in crowd:
                client.sign_in()
            until = time.perf_counter() + seconds
            threads = [
                threading.Thread(target=c.work, args=(k, until, n))
                for n, (c, k) in enumerate(zip(crowd, keys, strict=True))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.terminate()
            server.wait(timeout=10)
        lost = _lost_writes(data_dir, crowd, keys)
    errors = [e for c in crowd for e in c.errors]
    timings: dict[str, list[float]] = {}
    for client in crowd:
        for name, values in client.timings.items():
            timings.setdefault(name, []).extend(values)
    requests = sum(len(v) for v in timings.values())
    rate = requests / seconds
    summary = f"{rate:.0f} requests/s, {len(errors)} errors, {lost} lost writes"
    print(f"{clients} clients for {seconds:.0f} s: {requests} requests, {summary}")
    for e in errors[:5]:
        print("  error:", e)
    return timings, summary


def _wait(base: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/login", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def _lost_writes(data_dir: Path, crowd: list[Client], keys: list[str]) -> int:
    """Blocks a client saw saved but the database does not have."""
    os.environ["TOOLKIT_DATA_DIR"] = str(data_dir)
    from sqlalchemy import select

    from toolkit import db as database
    from toolkit.config import Settings
    from toolkit.models import Meeting

    engine = database.make_engine(Settings.from_env().database_url)
    lost = 0
    with database.session_factory(engine)() as db:
        for n, (client, key) in enumerate(zip(crowd, keys, strict=True)):
            meetings = db.scalars(select(Meeting).where(Meeting.key == key))
            titles = {b.title for meeting in meetings for b in meeting.blocks}
            lost += sum(1 for i in range(client.saved) if f"Block {n}-{i}" not in titles)
    engine.dispose()
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    timings, _summary = run(args.clients, args.seconds)
    print(f"{'page':16} {'n':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in sorted(timings.items()):
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{name:16} {len(values):6} {p50 * 1000:8.0f} {p95 * 1000:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
