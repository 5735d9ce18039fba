"""scripts/with-postgres.sh: a free port when none is given, and the log kept when it fails."""

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from toolkit.config import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "with-postgres.sh"
pytestmark = pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    reason="Debian's PostgreSQL is not installed (make test installs it)",
)


@pytest.fixture
def held_port():
    """A port some other program is listening on, as another test run's server would be."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run(command: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "TOOLKIT_PG_PORT"}
    return subprocess.run(
        [str(SCRIPT), "sh", "-c", command],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def kept_log(stderr: str) -> Path:
    found = re.search(r"(/\S+\.log)", stderr)
    assert found, stderr
    return Path(found.group(1))


def test_a_taken_port_fails_and_the_message_points_at_a_kept_log(held_port):
    done = run("true", TOOLKIT_PG_PORT=str(held_port))
    assert done.returncode != 0
    assert f"did not start on port {held_port}" in done.stderr
    log = kept_log(done.stderr)
    try:
        assert "could not bind" in log.read_text() or "in use" in log.read_text()
    finally:
        log.unlink()


def test_without_a_port_it_picks_a_free_one(held_port):
    done = run('echo "$TOOLKIT_TEST_DATABASE_URL"')
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", url).group(1))
    assert port != held_port
    assert "log is kept" not in done.stderr  # nothing to read after a good run


def test_a_failing_command_keeps_the_log_and_its_exit_status():
    done = run("exit 3")
    assert done.returncode == 3
    log = kept_log(done.stderr)
    try:
        assert log.exists()
    finally:
        log.unlink()
