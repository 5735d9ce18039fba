"""`toolkit serve` runs several processes from one command: requests are answered by different
processes, and Ctrl+C or SIGTERM stops every one of them. (That the queue is still worked, by
one of them, is `test_jobs.py::test_toolkit_serve_also_runs_the_queue`.)"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .test_jobs import TOOLKIT, free_port

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc (Linux)")


def start(env, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    environ |= {"TOOLKIT_DATA_DIR": str(env.data_dir), "TOOLKIT_DATABASE_URL": env.database_url}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [TOOLKIT, "serve", "--port", str(port), *args],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    for _ in range(200):
        try:
            with http_get(port, "/login") as _:
                return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not start: " + (tmp_path / "serve.log").read_text())


class http_get:
    """A kept-alive connection that has fetched `path` (200)."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        assert response.status == 200

    def __enter__(self) -> http.client.HTTPConnection:
        return self.connection

    def __exit__(self, *_exc) -> None:
        self.connection.close()


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def serving_pid(port: int, client_port: int, pids: list[int]) -> int | None:
    """Which process holds the server end of the connection from `client_port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.split(":")[1], 16) for a in fields[1:3])
        if local == port and remote == client_port:
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def gone(pids: list[int], seconds: float = 30) -> bool:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if not any(Path(f"/proc/{p}").exists() and _alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_requests_are_served_by_several_processes_and_sigterm_stops_them_all(env, tmp_path):
    server, port = start(env, tmp_path, "--workers", "2")
    try:
        workers = children(server.pid)
        assert len(workers) == 2, workers
        with ThreadPoolExecutor(20) as pool:
            connections = list(pool.map(lambda _: http_get(port, "/login"), range(20)))
        served = {
            serving_pid(port, c.connection.sock.getsockname()[1], workers) for c in connections
        }
        for c in connections:
            c.connection.close()
        assert served == set(workers), f"served by {served}, workers {workers}"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    assert gone(workers), "a worker outlived the server"


def test_ctrl_c_stops_every_process(env, tmp_path):
    server, port = start(env, tmp_path, "--workers", "2")
    workers = children(server.pid)
    assert len(workers) == 2
    os.killpg(server.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
    assert server.wait(30) == 0
    assert gone(workers), "a worker outlived the server"
    assert "stopped" in (tmp_path / "serve.log").read_text()


def test_a_worker_that_dies_is_replaced(env, tmp_path):
    server, port = start(env, tmp_path, "--workers", "2")
    try:
        first = children(server.pid)
        os.kill(first[1], signal.SIGKILL)
        for _ in range(100):
            now = children(server.pid)
            if len(now) == 2 and first[1] not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and first[1] not in now, now
        with http_get(port, "/login"):
            pass
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
