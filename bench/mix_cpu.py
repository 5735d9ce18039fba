"""CPU time per request of the load test's mix, served in this one process (Flask's test client,
no sockets): what the 20-client throughput can be at most when the app has every core to itself.

Each round is the load test's client loop: the set page, a session page, adding a block (a POST
and the session page it redirects to), a case search and the frameworks page.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

ROUNDS = 60
WARM_UP = 5


def run(rounds: int = ROUNDS) -> dict[str, float]:
    """Median CPU seconds of each request of the mix, after a few rounds to warm up."""
    with tempfile.TemporaryDirectory() as tmp:
        load.prepare(Path(tmp), 20)  # the load test's set: 20 sessions
        os.environ["TOOLKIT_DATA_DIR"] = tmp
        from toolkit.web import create_app

        client = create_app().test_client()
        page = client.get("/login").text
        form = {"csrf_token": _token(page), "email": "load@example.org"}
        client.post("/login", data=form | {"password": load.PASSWORD})
        cpu: dict[str, list[float]] = {}
        for n in range(rounds):
            _round(client, load._session_url("session-1", n), n, cpu)
    return {name: statistics.median(values[WARM_UP:]) for name, values in cpu.items()}


def _round(client, url: str, n: int, cpu: dict[str, list[float]]) -> None:
    def timed(name: str, request):
        started = time.process_time()
        response = request()
        cpu.setdefault(name, []).append(time.process_time() - started)
        return response

    timed("set page", lambda: client.get("/sets/load"))
    page = timed("session page", lambda: client.get(url)).text
    block = {"block-title": f"B{n}", "block-kind": "input", "block-minutes": "1"}
    added = timed(
        "add block: POST",
        lambda: client.post(url + "/blocks", data=block | {"csrf_token": _token(page)}),
    )
    assert added.status_code == 302, added.status_code
    timed("add block: the page it redirects to", lambda: client.get(added.headers["Location"]))
    timed("case search", lambda: client.get("/cases/?search=handover"))
    timed("frameworks", lambda: client.get("/frameworks/"))


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def per_request(found: dict[str, float]) -> float:
    """CPU seconds per request as the load test counts them (adding a block is one, with its
    redirect)."""
    return sum(found.values()) / (len(found) - 1)


if __name__ == "__main__":
    found = run()
    for name, seconds in found.items():
        print(f"{name:40} {seconds * 1000:6.1f} ms CPU")
    each = per_request(found)
    cores = len(os.sched_getaffinity(0))
    print(f"per request {each * 1000:.1f} ms: at most {cores / each:.0f} requests/s on {cores}")
