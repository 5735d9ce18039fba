import json

from toolkit import db as database
from toolkit.accounts import authenticate
from toolkit.cli import main
from toolkit.config import Settings

from .conftest import DATA, PASSWORD


def test_help_lists_every_command(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "users", "cases", "prompts", "templates", "frameworks"):
        assert f"  {command} " in result.output
    serve = runner.invoke(main, ["serve", "--help"])
    assert "--host" in serve.output and "--port" in serve.output


def test_validate_good_and_bad(runner):
    good = runner.invoke(main, ["cases", "validate", str(DATA / "casebank")])
    assert good.exit_code == 0
    assert "2 cases and 3 prompts, all valid" in good.output
    bad = runner.invoke(main, ["cases", "validate", str(DATA / "bad_casebank")])
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if "bad_casebank" in line]
    assert len(lines) >= 11  # every problem, not just the first
    assert "unknown-tag.md:8: hlm: unknown HLM id 'shouting-loudly'" in bad.output


def test_list_filters_and_json(runner, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CASEBANK_DIR", str(DATA / "casebank"))
    result = runner.invoke(main, ["cases", "list", "--stage", "foundation", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [c["id"] for c in data] == ["night-shift-escalation"]
    assert set(data[0]) == {"id", "title", "summary", "stages", "settings", "minutes"} | {
        "hlm",
        "mlcf",
        "gpc",
    } | {"protagonist", "protagonist_group", "place", "rural", "appreciative", "short_trigger"} | {
        "series",
        "part",
    }
    assert (data[0]["protagonist_group"], data[0]["short_trigger"]) == ("foundation", True)
    assert "facilitator_notes" not in result.stdout and "SECRET" not in result.stdout
    by_mlcf = runner.invoke(main, ["cases", "list", "--mlcf", "managing-services", "--json"])
    assert [c["id"] for c in json.loads(by_mlcf.stdout)] == ["budget-for-the-clinic"]
    text = runner.invoke(main, ["cases", "list", "--search", "registrar"])
    assert "night-shift-escalation" in text.stdout and "budget" not in text.stdout
    unknown = runner.invoke(main, ["cases", "list", "--hlm", "charisma"])
    assert unknown.exit_code == 1 and "unknown --hlm id 'charisma'" in unknown.output


def test_list_refuses_an_invalid_bank(runner, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CASEBANK_DIR", str(DATA / "bad_casebank"))
    result = runner.invoke(main, ["cases", "list"])
    assert result.exit_code == 1
    assert "the case bank is invalid" in result.output


def test_db_upgrade_and_users_add(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TOOLKIT_DATABASE_URL", raising=False)
    before = runner.invoke(main, ["users", "add", "a@example.org", "--password", PASSWORD])
    assert before.exit_code == 1 and "run `toolkit db upgrade`" in before.output
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    again = runner.invoke(main, ["db", "upgrade"])  # idempotent
    _current, head = database.schema_revisions(
        database.make_engine(Settings.from_env().database_url)
    )
    assert again.exit_code == 0 and f"database is at revision {head}\n" == again.output
    added = runner.invoke(
        main, ["users", "add", "A@Example.org", "--admin", "--password", PASSWORD]
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(main, ["users", "add", "a@example.org", "--password", PASSWORD])
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(main, ["users", "add", "b@example.org", "--password", "short"])
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    settings = Settings.from_env()
    factory = database.session_factory(database.make_engine(settings.database_url))
    with factory() as session:
        user = authenticate(session, "a@example.org", PASSWORD)
        assert user is not None and user.is_admin
        assert authenticate(session, "a@example.org", "wrong password!") is None


def test_frameworks_and_templates_list(runner):
    fw = runner.invoke(main, ["frameworks", "list"])
    assert "working-with-others.encouraging-contribution" in fw.output
    assert "2.3 Encouraging Contribution" in fw.output
    templates = runner.invoke(main, ["templates", "list"])
    assert "action-learning-set" in templates.output and "195 min slot" in templates.output


def test_sets_import_export_list_and_demo(runner, env, tmp_path):
    from toolkit.config import REPO_ROOT

    example = REPO_ROOT / "examples" / "learning-set.yaml"
    imported = runner.invoke(main, ["sets", "import", str(example)])
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == "kss-fy-2027-set-a"
    out = tmp_path / "out.yaml"
    assert (
        runner.invoke(main, ["sets", "export", "kss-fy-2027-set-a", "-o", str(out)]).exit_code == 0
    )
    again = runner.invoke(main, ["sets", "import", str(out)])
    assert again.exit_code == 0
    second = tmp_path / "second.yaml"
    runner.invoke(main, ["sets", "export", "kss-fy-2027-set-a", "-o", str(second)])
    assert out.read_text() == second.read_text()
    listed = runner.invoke(main, ["sets", "list"])
    assert "kss-fy-2027-set-a" in listed.output and " 6 members" in listed.output
    missing = runner.invoke(main, ["sets", "export", "nope"])
    assert missing.exit_code == 1 and "no learning set with the id 'nope'" in missing.output
    demo = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert demo.exit_code == 0 and "not loaded" in demo.output


def test_sets_import_of_a_bad_file_exits_non_zero(runner, env):
    bad = DATA / "setfiles" / "many-problems.yaml"
    result = runner.invoke(main, ["sets", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "nothing was changed" in result.output
    assert runner.invoke(main, ["sets", "list"]).output == ""


def test_demo_loads_into_an_empty_database(runner, env):
    result = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "loaded the demo learning set" in result.output


def test_pack_writes_every_document(runner, env, tmp_path):
    from pypdf import PdfReader

    from toolkit.config import REPO_ROOT

    runner.invoke(main, ["sets", "import", str(REPO_ROOT / "examples" / "learning-set.yaml")])
    out = tmp_path / "pack"
    result = runner.invoke(
        main, ["pack", "kss-fy-2027-set-a", "--session", "4", "--out", str(out), "--html"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    for stem in ("facilitator-pack", "handout", "sign-in", "reflection", "evaluation"):
        assert f"{stem}.pdf" in names and f"{stem}.html" in names
    assert "certificates.pdf" not in names  # no attendance recorded
    register = PdfReader(out / "sign-in.pdf").pages[0].extract_text()
    assert "Zoë Marsh" in register
    missing = runner.invoke(
        main, ["pack", "kss-fy-2027-set-a", "--session", "9", "--out", str(out)]
    )
    assert missing.exit_code == 1 and "has 6 session(s)" in missing.output


def test_coverage_report_exits_non_zero_when_targets_are_missed(runner):
    small = runner.invoke(main, ["cases", "coverage", str(DATA / "casebank")])
    assert small.exit_code == 1
    assert "LOW    2 / 64   cases" in small.output
    assert (
        "cases by MLCF domain and element" in small.output
        and "2.3 Encouraging Contribution" in small.output
    )
    for line in (
        "missed: totals: cases (2, needs 64)",
        "missed: totals: prompts missing an HLM, MLCF or GPC tag (3, needs ≤0)",
        "missed: cases by protagonist's grade: GP specialty trainee (0, needs 8)",
        "missed: cases by place: mental health services (0, needs 5)",
        "missed: kinds of case: cases in three parts across three meetings (0, needs 1)",
        "missed: cases by GPC domain: 7 Capabilities in safeguarding vulnerable groups (0,",
        "missed: prompts by stage: balint (0, needs 10)",
    ):
        assert line in small.output, line
    # one consultant of two is 50 %, over the 20 % a bank may give to consultants and partners
    assert "HIGH   1 / ≤0   consultant or GP partner (at most 20 % of 2 cases)" in small.output


def test_repository_bank_meets_every_coverage_target(runner):
    result = runner.invoke(main, ["cases", "coverage"])
    assert result.exit_code == 0, result.output


def test_serve_says_clearly_when_the_port_is_taken(runner, env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


# modules a command that only reads and prints has no use for: migrations, the task queue and
# its Redis client, password strength, the web server and the web app
NOT_FOR_PRINTING = {
    "alembic",
    "huey",
    "redis",
    "zxcvbn",
    "waitress",
    "flask",
    "flask_wtf",
    "icalendar",  # calendars are read and written by other commands
    "email_validator",  # addresses are checked where they are typed in
}
SHOW_MODULES = (
    "import sys, atexit\n"
    "atexit.register(lambda: print('MODULES', *sorted({m.split('.')[0] for m in sys.modules})))\n"
    "from toolkit.cli import main\n"
    "sys.argv[0] = 'toolkit'\n"
    "main()\n"
)


def _modules(env, *args: str) -> set[str]:
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    environ |= {"TOOLKIT_DATA_DIR": str(env.data_dir), "TOOLKIT_DATABASE_URL": env.database_url}
    done = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES, *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_help_and_pack_import_only_what_they_use(runner, env, tmp_path):
    from toolkit.config import REPO_ROOT

    runner.invoke(main, ["sets", "import", str(REPO_ROOT / "examples" / "learning-set.yaml")])
    helped = _modules(env, "--help")
    assert not helped & (NOT_FOR_PRINTING | {"weasyprint"}), helped
    out = str(tmp_path / "pack")
    packed = _modules(env, "pack", "kss-fy-2027-set-a", "--session", "1", "--out", out)
    assert "weasyprint" in packed and not packed & NOT_FOR_PRINTING, packed


def test_every_command_collects_young_objects_less_often(runner):
    """`toolkit` sets the collector's thresholds first (see toolkit/collector.py): at Python's
    default, a young collection every 700 objects, a long handout spent a tenth of its time in
    the collector."""
    import gc

    from toolkit import collector

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        result = runner.invoke(main, ["cases", "validate", str(DATA / "casebank")])
        assert result.exit_code == 0
        assert gc.get_threshold() == collector.THRESHOLDS == (50_000, 10, 10)
    finally:
        gc.set_threshold(*before)
