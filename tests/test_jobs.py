"""The task queue: reminders, follow-ups and self-assessment on a schedule, every e-mail sent once,
on both storages (Huey's SQLite file and a real Redis server started for the run)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time as clock
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.config import REPO_ROOT, Settings
from toolkit.jobs import outgoing, schedule
from toolkit.jobs.cli import build_queue
from toolkit.models import LearningSet, Member, SelfRating, SentInvite
from toolkit.planning import local_start
from toolkit.resources import attach_resource, catalogue
from toolkit.session_templates import load_session_templates

from .smtp_server import SmtpServer, free_port

MEMBERS = [
    ("Zoë Marsh", "zoe@example.nhs.uk"),
    ("Łukasz Nowak", "lukasz@example.nhs.uk"),
    ("Amara Okafor", "amara@example.nhs.uk"),
]
FIRST = date(2037, 2, 12)  # a Thursday; sessions every 6 weeks at 14:00, London time
TOOLKIT = str(Path(sys.executable).parent / "toolkit")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis on a free loopback port for this test run (Debian's redis-server)."""
    binary = "/usr/bin/redis-server"
    assert os.path.exists(binary), "redis-server is missing: `make test` installs it (Debian)"
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    log = folder / "redis.log"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder), "--logfile", str(log)],
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            clock.sleep(0.05)
    else:
        raise RuntimeError(f"redis-server did not start; see {log}")
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture(params=["sqlite", "redis"])
def storage(request, env, monkeypatch) -> str:
    """Run the test once on each storage: the embedded SQLite queue, then Redis."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_server")
        import redis

        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("TOOLKIT_QUEUE_URL", url)
    return request.param


@pytest.fixture
def smtp(monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        yield server


@pytest.fixture
def factory(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


def make_set(
    factory, first: date = FIRST, sessions: int = 3, members=MEMBERS, assessment: bool = False
) -> int:
    """A set of three with sessions every six weeks from `first` at 14:00 London time (by
    default without the self-assessment e-mails, which have a test of their own)."""
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(factory) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Siobhán O'Neil")
        s = sets.create_set(db, owner, "set-a", "Set A", venue="Seminar Room 2")
        s.video_url = "https://teams.example/meet/set-a"
        s.assessment_mail = assessment
        for name, email in members:
            sets.add_member(db, s, name, email, "FY2")
        start = local_start(first, time(14, 0), "Europe/London")
        sets.add_series(db, s, start, 6, sessions, templates["action-learning-set"])
        return s.id


def queue():
    return build_queue(Settings.from_env())


def at(day: date, hh_mm: str = "09:00") -> datetime:
    """A wall-clock moment, as `toolkit jobs run-due --at` takes it (in each set's zone)."""
    return datetime.combine(day, time.fromisoformat(hh_mm))


def body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def rows(factory, kind: str | None = None) -> list[SentInvite]:
    query = select(SentInvite).order_by(SentInvite.id)
    if kind:
        query = query.where(SentInvite.kind == kind)
    with factory() as db:
        return list(db.scalars(query))


# --- what is due when ------------------------------------------------------------------------


def test_reminders_are_due_two_days_before_at_nine_and_run_due_twice_queues_once(
    factory, storage, smtp
):
    make_set(factory)
    q = queue()
    reminder_day = FIRST - timedelta(days=2)
    assert q.run_due(at(reminder_day, "08:59")) == 0  # not yet
    assert q.run_due(at(reminder_day)) == 3
    assert q.run_due(at(reminder_day)) == 0  # the same moment again: nothing new
    assert q.run_due(at(reminder_day, "17:30")) == 0  # nor later that day
    assert len(q.huey.pending()) == 3
    assert q.burst() == 3
    received = smtp.recorder.messages
    assert sorted(str(m["To"]) for m in received) == sorted(
        f"{name} <{email}>" for name, email in MEMBERS
    )
    first = received[0]
    assert first["Subject"] == (
        "Reminder: Set A, session 1 of 3: Action learning, Thu 12 Feb 2037, 14:00 to 17:15"
    )
    text = body(first)
    assert "When: Thu 12 Feb 2037, 14:00 to 17:15 (Europe/London time)" in text
    assert "Where: Seminar Room 2" in text
    assert "Video link: https://teams.example/meet/set-a" in text
    assert all(r.state == "delivered" and r.attempts == 1 for r in rows(factory, "reminder"))
    assert q.run_due(at(reminder_day, "10:00")) == 0  # delivered: its claim stays


def test_reminder_names_prework_total_the_members_actions_and_whether_they_present(
    env, factory, smtp
):
    set_id = make_set(factory, first=date(2025, 3, 6), sessions=3)  # the first has been held
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        first, second, third = sets.meetings_in_order(s)
        zoe, lukasz, _amara = s.members
        sets.record_attendance(db, first, {m.id: "present" for m in s.members})
        third.starts_at = datetime(2037, 4, 16, 14, tzinfo=UTC)
        sets.add_action(db, first, zoe.id, "Ask the rota lead for protected teaching", "March")
        sets.add_action(db, first, lukasz.id, "Shadow the site manager for a shift")
        second.starts_at = datetime(2037, 3, 5, 14, tzinfo=UTC)  # the next one is to come
        from toolkit.casebank import load_bank

        library = catalogue(db, load_bank(env.casebank_dir))
        prework = sorted(library.values(), key=lambda r: r.id)[:2]
        for resource in prework:
            attach_resource(db, second, library, resource.id, "prework")
        presenting = {b.presenter_id for b in sets.presenter_rounds(second)} - {None}
    q = queue()
    assert q.run_due(at(date(2037, 3, 3))) == 3
    q.burst()
    by_member = {m["To"].addresses[0].addr_spec: body(m) for m in smtp.recorder.messages}
    total = sum(r.minutes for r in prework)
    zoe_text = by_member["zoe@example.nhs.uk"]
    assert f"Pre-work (about {total} min in all):" in zoe_text
    assert all(r.title in zoe_text for r in prework)
    mine = (
        "Your actions from earlier meetings:\n- Ask the rota lead for protected teaching (by March)"
    )
    assert mine in zoe_text
    assert "session 2 of 3" in zoe_text
    assert "Shadow the site manager" not in zoe_text  # another member's action
    assert "Shadow the site manager for a shift" in by_member["lukasz@example.nhs.uk"]
    assert "Your actions from earlier" not in by_member["amara@example.nhs.uk"]
    with factory() as db:
        emails = {m.id: m.email for m in db.get(LearningSet, set_id).members}
    for member_id, email in emails.items():
        assert ("You are presenting" in by_member[email]) == (member_id in presenting)
    assert presenting  # the rota has chosen someone


def test_a_moved_session_drops_its_queued_reminder_and_owes_one_at_the_new_time(
    factory, storage, smtp
):
    set_id = make_set(factory)
    q = queue()
    assert q.run_due(at(FIRST - timedelta(days=2))) == 3
    with database.transaction(factory) as db:  # moved a week later before the worker ran
        meeting = sets.meetings_in_order(db.get(LearningSet, set_id))[0]
        sets.change_meeting(db, meeting, start=meeting.starts_at + timedelta(days=7))
    q.burst()
    assert smtp.recorder.messages == []
    dropped = rows(factory, "reminder")
    assert [r.state for r in dropped] == ["dropped"] * 3
    assert all("the session moved" in r.result for r in dropped)
    assert q.run_due(at(FIRST - timedelta(days=2), "10:00")) == 0  # not due for the new date
    assert q.run_due(at(FIRST + timedelta(days=5))) == 3
    q.burst()
    assert len(smtp.recorder.messages) == 3
    assert all("Thu 19 Feb 2037" in m["Subject"] for m in smtp.recorder.messages)


def test_a_cancelled_session_gets_no_reminder_and_a_set_can_turn_them_off(factory, smtp):
    set_id = make_set(factory)
    q = queue()
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        first, second, _ = sets.meetings_in_order(s)
        sets.set_status(db, first, "cancelled")
    assert q.run_due(at(FIRST - timedelta(days=2))) == 0
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        schedule.set_plan(s, schedule.Plan(reminder_days=None, assessment=False))
    second_day = FIRST + timedelta(days=40)
    assert q.run_due(at(second_day)) == 0
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        schedule.set_plan(s, schedule.Plan(reminder_days=0, reminder_at="07:30", assessment=False))
    assert q.run_due(at(second_day + timedelta(days=2), "07:29")) == 0
    assert q.run_due(at(second_day + timedelta(days=2), "07:30")) == 3  # on the day


def test_a_cancellation_after_queueing_drops_the_reminder(factory, smtp):
    set_id = make_set(factory)
    q = queue()
    q.run_due(at(FIRST - timedelta(days=2)))
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[0], "cancelled")
    q.burst()
    assert smtp.recorder.messages == []
    assert {r.result for r in rows(factory)} == {"not sent: the session was cancelled"}


def test_the_schedule_refuses_impossible_values():
    learning_set = LearningSet(slug="x", title="X")
    with pytest.raises(sets.SetError, match="a time of day like 09:00, not '9am'"):
        schedule.set_plan(learning_set, schedule.Plan(reminder_at="9am"))
    with pytest.raises(sets.SetError, match="from 0 to 14 days, not 15"):
        schedule.set_plan(learning_set, schedule.Plan(follow_up_days=15))
    with pytest.raises(sets.SetError, match="not '25:00'"):
        schedule.set_plan(learning_set, schedule.Plan(follow_up_at="25:00"))


def test_follow_up_the_next_morning_with_actions_and_the_reflection_and_evaluation(factory, smtp):
    set_id = make_set(factory, first=date(2025, 3, 6))
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        first = sets.meetings_in_order(s)[0]
        zoe, lukasz, amara = s.members
        statuses = {zoe.id: "present", lukasz.id: "apologies", amara.id: "present"}
        sets.record_attendance(db, first, statuses)
        sets.add_action(db, first, zoe.id, "Write to the guardian of safe working", "Friday", "Tom")
    q = queue()
    assert q.run_due(at(date(2025, 3, 7), "08:59")) == 0
    assert q.run_due(at(date(2025, 3, 7))) == 3
    assert q.run_due(at(date(2025, 3, 15))) == 0  # a week late: not sent at all
    q.burst()
    by_member = {m["To"].addresses[0].addr_spec: m for m in smtp.recorder.messages}
    zoe_mail = by_member["zoe@example.nhs.uk"]
    assert zoe_mail["Subject"] == "After Set A, session 1 of 3: Action learning"
    text = body(zoe_mail)
    assert "Thank you for coming to session 1 of 3 in Set A" in text
    assert "- Write to the guardian of safe working (by Friday); support: Tom" in text
    assert "You were missed at session 1 of 3" in body(by_member["lukasz@example.nhs.uk"])
    # the evaluation online, on the member's own page, for those who came
    with factory() as db:
        token = db.scalar(select(Member).where(Member.email == "zoe@example.nhs.uk"))
        token = token.assessment_token
    assert f"Evaluation: http://127.0.0.1:5000/m/{token}/evaluation/session-1\n" in text
    assert "anonymous, and closes on" in text
    assert "/evaluation/" not in body(by_member["lukasz@example.nhs.uk"])
    assert "No actions were recorded for you" in body(by_member["amara@example.nhs.uk"])
    attachments = {a.get_filename(): a.get_content() for a in zoe_mail.iter_attachments()}
    assert sorted(attachments) == ["session-1-evaluation.pdf", "session-1-reflection.pdf"]
    pdf = attachments["session-1-reflection.pdf"]
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    assert "Reflection" in out.stdout.decode()


def test_self_assessment_a_week_before_the_first_session_and_one_reminder(factory, smtp):
    set_id = make_set(factory, assessment=True)
    q = queue()
    invited = FIRST - timedelta(days=7)
    assert q.run_due(at(invited)) == 3
    q.burst()
    assert {m["Subject"] for m in smtp.recorder.messages} == {
        "Your leadership self-assessment: Set A"
    }
    link = next(line for line in body(smtp.recorder.messages[0]).splitlines() if "/self-" in line)
    assert link.startswith("http://127.0.0.1:5000/self-assessment/")
    with database.transaction(factory) as db:  # Zoë answers; the others do not
        zoe = db.get(LearningSet, set_id).members[0]
        db.add(SelfRating(member_id=zoe.id, phase="start", dimension="leading-with-care", level=3))
    nudge = invited + timedelta(days=schedule.NUDGE_DAYS)
    assert q.run_due(at(nudge, "08:59")) == 0
    assert q.run_due(at(nudge)) == 2
    q.burst()
    reminders = smtp.recorder.messages[3:]
    assert {m["To"].addresses[0].addr_spec for m in reminders} == {
        "lukasz@example.nhs.uk",
        "amara@example.nhs.uk",
    }
    assert all(m["Subject"].startswith("Reminder: your leadership") for m in reminders)


# --- nothing lost, nothing twice ----------------------------------------------------------------


def _worker_env(env: Settings, smtp_url: str, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    environ |= {"TOOLKIT_DATA_DIR": str(env.data_dir), "TOOLKIT_SMTP_URL": smtp_url}
    environ |= {"TOOLKIT_DATABASE_URL": env.database_url}
    if os.environ.get("TOOLKIT_QUEUE_URL"):
        environ["TOOLKIT_QUEUE_URL"] = os.environ["TOOLKIT_QUEUE_URL"]
    return environ | extra


def test_a_worker_killed_mid_batch_then_restarted_delivers_each_message_exactly_once(
    env, factory, storage, tmp_path
):
    members = [(f"Member {n}", f"m{n}@example.nhs.uk") for n in range(8)]
    make_set(factory, members=members)
    q = queue()
    assert q.run_due(at(FIRST - timedelta(days=2))) == 8
    log = tmp_path / "worker.log"
    with SmtpServer() as server:
        server.recorder.hold_after = 3  # the 4th message hangs mid-send
        environ = _worker_env(env, server.url, TOOLKIT_SEND_LEASE="1", TOOLKIT_SMTP_TIMEOUT="30")
        with log.open("w") as out:
            worker = subprocess.Popen(
                [TOOLKIT, "worker", "--workers", "1"], env=environ, stdout=out, stderr=out
            )
            assert server.recorder.holding.wait(60), f"the worker never sent; see {log}"
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        server.recorder.hold_after = None
        server.recorder.release.set()
        assert len(server.recorder.messages) == 3
        assert [r.state for r in rows(factory)].count("sending") == 1
        clock.sleep(1.2)  # past the lease
        done = subprocess.run(
            [TOOLKIT, "worker", "--burst"], env=environ, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        received = sorted(m["To"].addresses[0].addr_spec for m in server.recorder.messages)
    assert received == sorted(email for _, email in members)  # each once: 8, not 9
    assert all(r.state == "delivered" for r in rows(factory))


def test_two_workers_on_one_queue_never_send_the_same_message(env, factory, storage):
    members = [(f"Member {n}", f"m{n}@example.nhs.uk") for n in range(12)]
    make_set(factory, members=members)
    q = queue()
    assert q.run_due(at(FIRST - timedelta(days=2))) == 12
    q.send([r.id for r in rows(factory)])  # every message queued twice over, too
    with SmtpServer() as server:
        environ = _worker_env(env, server.url)
        workers = [
            subprocess.Popen([TOOLKIT, "worker", "--burst"], env=environ, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        for w in workers:
            assert w.wait(120) == 0, w.stderr.read()
        received = sorted(m["To"].addresses[0].addr_spec for m in server.recorder.messages)
    assert received == sorted(email for _, email in members)


def test_a_temporary_failure_is_retried_by_the_queue_with_back_off(
    factory, storage, smtp, monkeypatch
):
    make_set(factory)
    monkeypatch.setattr(outgoing, "BACK_OFF", (2.0, 2.0))
    q = queue()
    q.run_due(at(FIRST - timedelta(days=2)))
    smtp.recorder.fail_next = 1  # the first recipient: 451, try again
    q.burst()
    assert len(smtp.recorder.messages) == 2
    waiting = [r for r in rows(factory) if r.state == "queued"]
    assert len(waiting) == 1 and waiting[0].result.startswith("temporary: 451")
    assert len(q.huey.scheduled()) == 1  # the queue holds the retry
    clock.sleep(2.1)
    q.burst()
    assert len(smtp.recorder.messages) == 3
    assert rows(factory)[0].attempts == 2 and rows(factory)[0].state == "delivered"


def test_a_permanent_failure_is_logged_and_can_be_retried_by_hand(env, factory, smtp):
    make_set(factory)
    q = queue()
    q.run_due(at(FIRST - timedelta(days=2)))
    smtp.recorder.reject = {"amara@example.nhs.uk"}
    q.burst()
    failed = [r for r in rows(factory) if r.state == "failed"]
    assert [r.email for r in failed] == ["amara@example.nhs.uk"]
    assert failed[0].result.startswith("permanent: 550")
    assert q.run_due(at(FIRST - timedelta(days=2), "09:05")) == 0  # not resent every minute
    from toolkit.cli import main

    runner = CliRunner()
    listed = runner.invoke(main, ["jobs", "list"])
    assert f"  {failed[0].id}  reminder" in listed.output and "failed: 1" in listed.output
    smtp.recorder.reject = set()
    retried = runner.invoke(main, ["jobs", "retry", str(failed[0].id)])
    assert retried.exit_code == 0, retried.output
    again = runner.invoke(main, ["jobs", "retry", str(failed[0].id)])
    assert again.exit_code == 1 and "has not failed" in again.output
    q.burst()
    assert len(smtp.recorder.messages) == 3


def test_run_due_on_the_command_line_and_bad_moments(env, factory, smtp):
    from toolkit.cli import main

    make_set(factory)
    runner = CliRunner()
    moment = f"{FIRST - timedelta(days=2):%Y-%m-%d} 09:00"
    first = runner.invoke(main, ["jobs", "run-due", "--at", moment])
    assert first.exit_code == 0 and "queued 3 message(s)" in first.output
    second = runner.invoke(main, ["jobs", "run-due", "--at", moment])
    assert "queued 0 message(s)" in second.output
    bad = runner.invoke(main, ["jobs", "run-due", "--at", "12/02/2037"])
    assert bad.exit_code == 1 and 'must look like "2027-01-12 09:00"' in bad.output
    listed = runner.invoke(main, ["jobs", "list"])
    assert "queued: 3" in listed.output and "deliver(" in listed.output


def test_toolkit_serve_also_runs_the_queue(env, factory, tmp_path):
    make_set(factory)
    q = queue()
    assert q.run_due(at(FIRST - timedelta(days=2))) == 3
    port = free_port()
    log = tmp_path / "serve.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    environ |= {"TOOLKIT_DATA_DIR": str(env.data_dir), "TOOLKIT_DATABASE_URL": env.database_url}
    with log.open("w") as out:
        server = subprocess.Popen(
            [TOOLKIT, "serve", "--port", str(port), "--workers", "2"],
            env=environ,
            stdout=out,
            stderr=out,
        )
        try:
            outbox = env.data_dir / "outbox"
            for _ in range(300):
                if len(list(outbox.glob("reminder-*.eml"))) == 3:
                    break
                clock.sleep(0.1)
            else:
                raise AssertionError(f"serve did not deliver the queued messages; see {log}")
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
    assert log.read_text().count("Running the task queue") == 1  # in one process of the two


# --- the web ------------------------------------------------------------------------------------


def test_the_schedule_page_shows_changes_and_previews_each_message(app, signed_in):
    from .test_sets_web import make_set as make_web_set
    from .test_sets_web import text

    make_web_set(signed_in, first="2037-02-12")
    page = text(signed_in.get("/sets/set-a/messages"))
    assert "2 days before, at 09:00" in page and "1 day after, at 09:00" in page
    assert "Tue 10 Feb 2037, 09:00 (Europe/London), for session 1" in page
    preview = text(signed_in.get("/sets/set-a/messages/preview/reminder"))
    assert "Reminder: Set A, session 1 of 6" in preview and "Dear Zoë," in preview
    follow_up = text(signed_in.get("/sets/set-a/messages/preview/follow-up"))
    assert "Attached: Reflection sheet, Evaluation form." in follow_up
    assert signed_in.get("/sets/set-a/messages/preview/nonsense").status_code == 404
    version = app.extensions["toolkit"].sessions().scalar(select(LearningSet.version))
    form = {"version": version, "reminder_days": "3", "reminder_at": "18:30"}
    form |= {"follow_up_days": "off", "follow_up_at": "09:00"}
    saved = signed_in.post("/sets/set-a/messages", data=form)
    assert saved.status_code == 302
    page = text(signed_in.get("/sets/set-a/messages"))
    assert "3 days before, at 18:30" in page and "Mon 9 Feb 2037, 18:30" in page
    overview = " ".join(re.sub(r"<[^>]+>", " ", text(signed_in.get("/sets/set-a"))).split())
    assert "Reminders 3 days before, at 18:30; no follow-ups; self-assessment off." in overview
    assert "<td>off</td>" in page  # the follow-up
    bad = signed_in.post("/sets/set-a/messages", data=form | {"reminder_at": "6.30pm"})
    assert bad.status_code == 400 and "Enter a time like 09:00" in text(bad)
    stale = signed_in.post("/sets/set-a/messages", data=form | {"version": version})
    assert stale.status_code == 409  # saved from a page opened before the last save


def test_the_self_assessment_links_go_once_per_form_even_when_submitted_twice(app, signed_in):
    from .test_sets_web import make_set as make_web_set
    from .test_sets_web import text

    make_web_set(signed_in, first="2037-02-12")
    form = {"send_id": "form-one"}
    first = signed_in.post("/sets/set-a/self-assessment/send", data=form)
    second = signed_in.post("/sets/set-a/self-assessment/send", data=form)  # a double click
    app.extensions["toolkit"].queue.burst()
    outbox = app.extensions["toolkit"].settings.outbox_dir
    assert len(list(outbox.glob("self-assessment-*.eml"))) == 6
    page = text(signed_in.get(first.headers["Location"]))
    assert page.count("Delivered") == 6 and second.headers["Location"] == first.headers["Location"]
    signed_in.post("/sets/set-a/self-assessment/send", data={"send_id": "form-two"})
    app.extensions["toolkit"].queue.burst()
    assert len(list(outbox.glob("self-assessment-*.eml"))) == 12  # a new send, meant


def test_another_facilitator_sees_no_progress_of_a_send_or_a_bundle(app, signed_in):
    from .conftest import add_user, sign_in
    from .test_sets_web import make_set as make_web_set

    make_web_set(signed_in, first="2037-02-12")
    sent = signed_in.post("/sets/set-a/invites/send").headers["Location"]
    bundle = signed_in.post("/sets/set-a/bundle").headers["Location"]
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    assert other.get(sent).status_code == 404
    assert other.get(sent + ".json").status_code == 404
    assert other.get(bundle).status_code == 404
    assert other.get(bundle + ".zip").status_code == 404


def test_bulk_printing_a_whole_set_as_one_zip(app, signed_in, env):
    from .test_sets_web import make_set as make_web_set
    from .test_sets_web import text

    make_web_set(signed_in, first="2037-02-12")
    where = signed_in.post("/sets/set-a/bundle").headers["Location"]
    assert "Waiting to start" in text(signed_in.get(where))
    assert signed_in.get(where + ".zip").status_code == 404  # not ready yet
    app.extensions["toolkit"].queue.burst()
    page = text(signed_in.get(where))
    assert "Ready:" in page and "Download the zip" in page and "Back to the set" in page
    download = signed_in.get(where + ".zip")
    assert download.status_code == 200
    assert "filename=set-a-all-documents.zip" in download.headers["Content-Disposition"]
    path = env.data_dir / "downloaded.zip"
    path.write_bytes(download.data)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert len([n for n in names if n.startswith("set-a/session-1/")]) >= 6
        assert {n.split("/")[1] for n in names} == {f"session-{n}" for n in range(1, 7)}
        info = archive.getinfo("set-a/session-1/facilitator-pack.pdf")
        assert info.date_time[0] >= 2026  # the real date, not 1980
        assert archive.read(info).startswith(b"%PDF")


def test_the_certificates_of_a_programme_as_one_zip(app, signed_in, env):
    from toolkit.programmes.records import create_programme

    from .conftest import add_user, sign_in
    from .test_sets_web import make_set as make_web_set

    make_web_set(signed_in, first="2025-02-13")  # held sessions: certificates exist
    make_web_set(signed_in, slug="set-b", first="2025-02-20")
    make_web_set(signed_in, slug="set-c", first="2025-02-27")
    with database.transaction(app.extensions["toolkit"].sessions) as db:
        kss, other = create_programme(db, "kss-2025", "KSS 2025"), create_programme(db, "x", "X")
        for s in db.scalars(select(LearningSet)):
            s.programme = kss if s.slug != "set-c" else other
            first = sets.meetings_in_order(s)[0]
            sets.record_attendance(db, first, {m.id: "present" for m in s.members})
    where = signed_in.post("/sets/set-a/bundle", data={"what": "programme"}).headers["Location"]
    app.extensions["toolkit"].queue.burst()
    page = signed_in.get(where).get_data(as_text=True)
    assert "<h1>Certificates of KSS 2025</h1>" in page and "All documents" not in page
    assert 'href="/programmes/kss-2025">Back to the programme' in page
    download = signed_in.get(where + ".zip")
    assert download.status_code == 200
    assert "filename=kss-2025-certificates.zip" in download.headers["Content-Disposition"]
    path = env.data_dir / "certificates.zip"
    path.write_bytes(download.data)
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == ["set-a/session-1/certificates.pdf", "set-b/session-1/certificates.pdf"]
    other = app.test_client()  # a facilitator of none of them
    sign_in(other, add_user(app, "other@example.org"))
    assert other.get(where).status_code == 404


def test_a_queue_that_cannot_be_reached_loses_nothing(monkeypatch, env, factory):
    from toolkit.web import create_app

    from .conftest import add_user, sign_in
    from .test_sets_web import make_set as make_web_set
    from .test_sets_web import text

    monkeypatch.setenv("TOOLKIT_QUEUE_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    down = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = down.test_client()
    sign_in(client, add_user(down, "down@example.org"))
    make_web_set(client, first="2037-02-12")
    sent = client.post("/sets/set-a/invites/send")
    assert sent.status_code == 302
    page = " ".join(re.sub(r"<[^>]+>", " ", text(client.get(sent.headers["Location"]))).split())
    assert "The task queue could not be reached just now" in page and "36 still to go" in page
    assert [r.state for r in rows(factory)] == ["queued"] * 36
    monkeypatch.delenv("TOOLKIT_QUEUE_URL")  # the queue is back (here: the embedded one)
    q = queue()
    assert q.recover() == 0  # within the lease: perhaps still on its way
    stale = datetime.now(UTC) + timedelta(seconds=Settings.from_env().lease + 1)
    assert len(outgoing.recover(factory, Settings.from_env().lease, stale)) == 36
    q.send([r.id for r in rows(factory)])
    q.burst()
    assert [r.state for r in rows(factory)] == ["delivered"] * 36
