"""scripts/mutation.py: which mutmut workers have run too long on the wall clock, and the
module folders' copies of the sources.

mutmut limits a worker's CPU time, and its wall time only to 60 × the tests' estimate, so a
mutant waiting on a silent socket could hang a run; the watchdog stops any worker older than
MUTATION_WALL_SECONDS with SIGXCPU (recorded as a timeout).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from toolkit.config import REPO_ROOT

_spec = importlib.util.spec_from_file_location("mutation_script", REPO_ROOT / "scripts/mutation.py")
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation_script"] = mutation
_spec.loader.exec_module(mutation)
Process = mutation.Process

NOW = 1_000_000.0
ROOT = 100  # mutmut's own process (mutation.py started it)


def test_only_mutant_workers_of_this_run_past_the_limit_are_stopped():
    processes = [
        Process(ROOT, 1, "python mutmut run --max-children 1", NOW - 3600),
        Process(201, ROOT, "mutmut: toolkit.mail.x_send__mutmut_3", NOW - 121),  # over
        Process(202, ROOT, "mutmut: toolkit.mail.x_send__mutmut_4", NOW - 119),  # under
        Process(203, ROOT, "mutmut: toolkit.mail.x_send__mutmut_5", NOW - 120),  # exactly at it
        Process(204, ROOT, "python mutmut run --max-children 1", NOW - 600),  # clean tests
        Process(301, 204, "mutmut: toolkit.mail.x_send__mutmut_6", NOW - 500),  # deeper: over
        Process(401, 1, "mutmut: toolkit.sets.x_add__mutmut_1", NOW - 9999),  # another run's
        Process(402, 201, "sleep 600", NOW - 300),  # a worker's own child, not a worker
    ]
    assert mutation.overdue(processes, ROOT, NOW, 120) == [201, 301]
    assert mutation.overdue(processes, ROOT, NOW, 600) == []
    assert mutation.overdue(processes, 999, NOW, 1) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_a_real_worker_is_found_by_its_title_parent_and_age():
    worker = subprocess.Popen(["bash", "-c", 'exec -a "mutmut: toolkit.x__mutmut_1" sleep 30'])
    try:
        for _ in range(50):  # until bash has exec'd under the new name
            seen = {p.pid: p for p in mutation._processes()}
            if seen.get(worker.pid) and seen[worker.pid].title.startswith("mutmut: "):
                break
            time.sleep(0.05)
        found = seen[worker.pid]
        assert found.ppid == os.getpid()
        assert abs(found.started - time.time()) < 10
        assert mutation.overdue(seen.values(), os.getpid(), time.time(), 120) == []
        assert worker.pid in mutation.overdue(seen.values(), os.getpid(), time.time() + 121, 120)
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_the_watchdog_stops_an_overdue_worker_with_sigxcpu_which_mutmut_calls_a_timeout():
    """A stand-in for mutmut: a parent whose worker sleeps (no CPU used, as on a silent socket)."""
    run = subprocess.Popen(
        ["bash", "-c", '(exec -a "mutmut: toolkit.x__mutmut_1" sleep 60) & wait $!; echo $?'],
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    mutation._watch(run, limit=1, every=0.2)  # returns when the stand-in has ended
    assert run.stdout.read().strip() == str(128 + 24)  # killed by SIGXCPU (24)
    assert time.monotonic() - started < 15


def test_a_modules_copies_of_the_sources_it_does_not_mutate_are_brought_up_to_date(
    tmp_path, monkeypatch
):
    """mutmut copies them only into a new folder; the mutated file is mutmut's own to remake."""
    for name, text in (("mail.py", "SENT = True\n"), ("web.py", "PAGE = 2\n"), ("new.py", "")):
        (tmp_path / "toolkit" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "toolkit" / name).write_text(text)
    folder = tmp_path / ".mutation" / "mail"
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setitem(mutation.MODULES, "mail", (["toolkit/mail.py"], []))
    assert mutation.refresh_copies(folder) == 0  # no run yet: mutmut makes the folder
    copies = folder / "mutants" / "toolkit"
    copies.mkdir(parents=True)
    (copies / "mail.py").write_text("SENT = mutated()\n")
    (copies / "web.py").write_text("PAGE = 1\n")  # from an older checkout
    assert mutation.refresh_copies(folder) == 2
    assert (copies / "web.py").read_text() == "PAGE = 2\n"
    assert (copies / "new.py").exists()
    assert (copies / "mail.py").read_text() == "SENT = mutated()\n"
    assert mutation.refresh_copies(folder) == 0
