"""Mutation-test the core, one module at a time, each against only the tests that exercise it.

    .venv/bin/python scripts/mutation.py [MODULE ...]   # default: every module, in MODULES order
    .venv/bin/python scripts/mutation.py --scores        # the table for what has run so far
    .venv/bin/python scripts/mutation.py --keep MODULE   # resume after narrowing its selection
    .venv/bin/python scripts/mutation.py --retest MODULE # re-test its survivors, timeouts and
                                                         # mutants with no tests (after new tests)

Each module runs mutmut in its own folder, .mutation/<module>/, which links to the project's
sources and tests and holds a pyproject.toml whose [tool.mutmut] table is the project's plus the
module's `only_mutate` and `pytest_add_cli_args_test_selection`. So one module's results never
invalidate another's, a re-run resumes where it stopped, and `mutmut browse` / `mutmut show NAME`
work from that folder. A summary per module goes to .mutation/scores.tsv.

mutmut's own limits are CPU time, and a wall time of 60 × the tests' estimate (pyproject.toml),
so a mutant blocked on a socket can wait for hours; a watchdog here sends SIGXCPU to any mutant
worker older than MUTATION_WALL_SECONDS (default 120), which mutmut records as a timeout.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"
LINKED = ("toolkit", "tests", "casebank", "session_templates", "examples", "docs", "node_modules")

# module -> (files to mutate, the non-browser test files that exercise them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "calendar": (
        ["toolkit/calendar.py"],
        ["tests/test_calendar_core.py", "tests/test_calendar.py", "tests/test_invites.py"],
    ),
    "invites": (
        ["toolkit/invites.py"],
        ["tests/test_invites.py", "tests/test_calendar.py", "tests/test_invites_mutation_gaps.py"],
    ),
    # what a session's documents print (and what the handout leaves out), apart from the rest;
    # tested on the Pack and its HTML: test_packs.py reads the same content back from PDFs, at
    # some 15 s a test, which under mutation would take hours (so it is in no selection)
    "packs_content": (
        ["toolkit/packs/content.py"],
        ["tests/test_packs_content_mutation_gaps.py"],
    ),
    # the rest of packs: files, cache and the WeasyPrint side; test_packs.py's PDF tests take
    # some 15 s each, so the files, cache and fetcher are pinned on the Pack and its HTML
    # (test_packs_mutation_gaps.py) and the layout by test_packs_fill.py and test_pdf_cache.py
    "packs": (
        ["toolkit/packs/__init__.py", "toolkit/packs/cache.py", "toolkit/packs/files.py"]
        + ["toolkit/packs/render.py"],
        [
            "tests/test_packs_mutation_gaps.py",
            "tests/test_pdf_cache.py",
            "tests/test_packs_fill.py",
        ],
    ),
    "mail": (
        ["toolkit/mail.py"],
        [
            "tests/test_mail.py",
            "tests/test_invites.py",
            "tests/test_mail_mutation_gaps.py",
            # the hold-at-DATA tests: a refusal at DATA, its 4xx/5xx boundary and temporary flag
            "tests/test_jobs.py",
        ],
    ),
    "self_assessment": (
        ["toolkit/self_assessment.py"],
        ["tests/test_self_assessment.py", "tests/test_self_assessment_mutation_gaps.py"],
    ),
    "planning": (
        ["toolkit/planning.py"],
        [
            "tests/test_planning.py",
            "tests/test_clock_changes.py",
            "tests/test_rota.py",
            "tests/test_planning_mutation_gaps.py",
        ],
    ),
    # narrowed on 30 Nov 2026 with 437 of 521 tested: the 84 left are in functions every
    # fixture reaches (create_user, password checks), 60 to 90 s a mutant with test_auth.py and
    # test_password_reset.py, which took part in the first 437
    "accounts": (
        ["toolkit/accounts.py", "toolkit/throttle.py"],
        ["tests/test_accounts.py", "tests/test_accounts_mutation_gaps.py"],
    ),
    # narrowed on 30 Nov 2026 with 635 of 1844 tested: test_setfile_web.py (4 tests, half the
    # time of every mutant) goes through the same import and export as the core tests; it took
    # part in the first 635
    "setfile": (
        ["toolkit/setfile/*"],
        [
            "tests/test_setfile.py",
            "tests/test_setfile_record.py",
            "tests/test_setfile_mutation_gaps.py",
        ],
    ),
    # narrowed on 30 Nov 2026 with 1115 of 1993 tested, to the files that reach the core without
    # the web pages' slow fixtures (a survivor in create_set ran 97 tests, some 85 s of them);
    # the pages' tests (test_sets_web, test_sets_edits_web, test_session_page_web, test_bad_input)
    # took part in the first 1115
    "sets": (
        ["toolkit/sets/*"],
        [
            "tests/test_sets.py",
            "tests/test_rota.py",
            "tests/test_attendance.py",
            "tests/test_sets_schedule_web.py",
            "tests/test_edit_conflicts.py",
            "tests/test_session_cases.py",
            "tests/test_members.py",
            "tests/test_member_list.py",
            "tests/test_sets_mutation_gaps.py",
        ],
    ),
    # core too, added after the first nine: what letters say, the programme map, replies
    "letters": (
        ["toolkit/letters.py"],
        ["tests/test_letters.py", "tests/test_invites.py", "tests/test_jobs.py"],
    ),
    "programme_map": (
        ["toolkit/programme_map.py"],
        ["tests/test_sets_web.py"],
    ),
    "replies": (
        ["toolkit/replies/*"],
        ["tests/test_replies.py", "tests/test_replies_import.py", "tests/test_replies_imap.py"],
    ),
}


def _toml_list(values: list[str]) -> str:
    return json.dumps(values)  # a JSON list of strings is a TOML array


def prepare(module: str) -> Path:
    """The module's folder: links to the project, and its own pyproject.toml."""
    mutate, tests = MODULES[module]
    folder = WORK / module
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    tables = [line for line in text.splitlines() if line.startswith("[")]
    if tables[-1] != "[tool.mutmut]":
        sys.exit("pyproject.toml: keep [tool.mutmut] as the last table (this script extends it)")
    text = (
        text.rstrip("\n")
        + "\n"
        + "\n".join(
            [
                f"only_mutate = {_toml_list(mutate)}",
                f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
            ]
        )
    )
    tomllib.loads(text)  # refuse to write a file mutmut could not read
    target = folder / "pyproject.toml"
    if not target.exists() or target.read_text("utf-8") != text + "\n":
        target.write_text(text + "\n", "utf-8")
    return folder


def refresh_copies(folder: Path) -> int:
    """Bring the module's copies of the sources it does not mutate up to date; returns how many.

    mutmut copies those into mutants/ only when they are missing, so a folder made from an older
    checkout would test this module against old copies of every other one (and a test of a
    newer feature fails its clean run). The mutated files mutmut regenerates itself.
    """
    copies = folder / "mutants"
    if not copies.exists():
        return 0
    mutated = {path for pattern in MODULES[folder.name][0] for path in ROOT.glob(pattern)}
    count = 0
    for source in sorted((ROOT / "toolkit").rglob("*")):
        if not source.is_file() or source in mutated or "__pycache__" in source.parts:
            continue
        target = copies / source.relative_to(ROOT)
        if target.exists() and filecmp.cmp(source, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        count += 1
    return count


def keep_verdicts(folder: Path) -> bool:
    """Let a run resume after the module's test selection was narrowed.

    mutmut re-tests every mutant when `pytest_add_cli_args_test_selection` changes. A mutant
    killed by the wider selection is killed by the suite, and one that survived it survives a
    narrower one, so the verdicts stand: this records the new selection's fingerprint (as
    mutmut 3.8 computes it) in the module's stats, and mutmut then only drops the tests no
    longer selected from its map of which tests reach which function. Returns whether it did.
    """
    stats = folder / "mutants" / "mutmut-stats.json"
    if not stats.exists():
        return False
    data = json.loads(stats.read_text("utf-8"))
    selection = tuple(MODULES[folder.name][1])
    fingerprint = hashlib.sha256(repr(selection).encode()).hexdigest()[:12]
    if data.get("config_fingerprint", {}).get("test_selection") == fingerprint:
        return False
    data.setdefault("config_fingerprint", {})["test_selection"] = fingerprint
    stats.write_text(json.dumps(data, indent=4), "utf-8")
    return True


# the verdicts a new test can change: mutmut keeps every other one until its function changes
OPEN = ("survived", "timeout", "no tests")


def statuses(folder: Path) -> dict[str, str]:
    """Each mutant's mutmut status in the module's folder, by name."""
    listing = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            found[name] = status
    return found


def score(folder: Path) -> dict[str, int]:
    """Counts of each mutmut status in the module's folder."""
    return dict(Counter(statuses(folder).values()))


class Process(NamedTuple):
    pid: int
    ppid: int
    title: str  # mutmut names each worker "mutmut: <mutant>" (setproctitle)
    started: float  # seconds since the epoch


def overdue(processes: Iterable[Process], root: int, now: float, limit: float) -> list[int]:
    """The mutant workers under `root` (at any depth) that have run longer than `limit` seconds.

    Only workers: mutmut's own process, its clean-test and forced-fail runs are left alone.
    """
    processes = list(processes)
    children: dict[int, list[Process]] = {}
    for process in processes:
        children.setdefault(process.ppid, []).append(process)
    found, stack = [], list(children.get(root, []))
    while stack:
        process = stack.pop()
        stack.extend(children.get(process.pid, []))
        if process.title.startswith("mutmut: ") and now - process.started > limit:
            found.append(process.pid)
    return sorted(found)


def _processes() -> list[Process]:
    """Every process this user can see, read from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    boot = next(
        float(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, …
        started = boot + int(fields[19]) / ticks
        found.append(Process(int(entry.name), int(fields[1]), title, started))
    return found


def _watch(worker: subprocess.Popen, limit: float, every: float = 5.0) -> None:
    """Until `worker` ends, stop its mutant workers that run past `limit` wall-clock seconds."""
    while worker.poll() is None:
        for pid in overdue(_processes(), worker.pid, time.time(), limit):
            try:
                os.kill(pid, signal.SIGXCPU)
                print(f"\n   watchdog: worker {pid} over {limit:.0f} s, stopped", flush=True)
            except ProcessLookupError:
                pass
        time.sleep(every)


def run(module: str, children: int, keep: bool = False, retest: bool = False) -> dict[str, int]:
    folder = prepare(module)
    if refreshed := refresh_copies(folder):
        print(f"== {module}: {refreshed} unmutated source file(s) copied afresh", flush=True)
    if keep and keep_verdicts(folder):
        print(f"== {module}: selection changed, verdicts so far kept", flush=True)
    # mutmut re-tests the mutants it is given by name, against the tests now selected (it maps
    # the tests new since its last run first); without names it tests only those not yet tested
    names = sorted(n for n, s in statuses(folder).items() if s in OPEN) if retest else []
    if retest and not names:
        return score(folder)
    env = dict(os.environ)
    env.setdefault("TOOLKIT_ASSETS_DIR", str(ROOT / "node_modules/nhsuk-frontend/dist/nhsuk"))
    command = ["nice", "-n", "10", str(MUTMUT), "run", "--max-children", str(children), *names]
    limit = float(os.environ.get("MUTATION_WALL_SECONDS", "120"))
    again = f", re-testing {len(names)} open mutants" if names else ""
    print(f"== mutmut: {module} ({', '.join(MODULES[module][0])}){again}", flush=True)
    worker = subprocess.Popen(command, cwd=folder, env=env)
    threading.Thread(target=_watch, args=(worker, limit), daemon=True).start()
    worker.wait()
    return score(folder)


def row(module: str, counts: dict[str, int]) -> str:
    """One line of the score table; the percentage is of the mutants tested so far."""
    total = sum(counts.values())
    killed = counts.get("killed", 0) + counts.get("caught by type check", 0)
    known = ("killed", "caught by type check", "survived", "timeout", "no tests")
    untested = total - sum(counts.get(k, 0) for k in known)
    tested = total - untested
    percent = f"{100 * killed / tested:.0f}" if tested else "-"
    return (
        f"{module}\t{total}\t{killed}\t{counts.get('survived', 0)}\t"
        f"{counts.get('timeout', 0)}\t{counts.get('no tests', 0)}\t{untested}\t{percent}"
    )


def main(argv: list[str]) -> int:
    """Run the modules named (all by default); with --scores, only report what has run."""
    report_only = "--scores" in argv
    keep = "--keep" in argv
    retest = "--retest" in argv
    argv = [a for a in argv if a not in ("--scores", "--keep", "--retest")]
    children = int(os.environ.get("MUTATION_CHILDREN", "2"))
    modules = argv or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        sys.exit(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    rows = ["module\tmutants\tkilled\tsurvived\ttimeout\tno tests\tnot tested yet\tkilled %"]
    for module in modules:
        if report_only and not (WORK / module / "mutants").exists():
            continue
        counts = score(prepare(module)) if report_only else run(module, children, keep, retest)
        rows.append(row(module, counts))
        print(rows[-1], flush=True)
    if not report_only:
        WORK.mkdir(exist_ok=True)
        (WORK / "scores.tsv").write_text("\n".join(rows) + "\n", "utf-8")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
