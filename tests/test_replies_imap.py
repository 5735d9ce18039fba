"""Polling a mailbox for calendar replies, against a real IMAP server (pymap) on loopback."""

from __future__ import annotations

import imaplib
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit.config import Settings
from toolkit.jobs.cli import build_queue
from toolkit.models import LearningSet
from toolkit.replies.imap import Mailbox, MailboxError, poll

from .smtp_server import SilentServer, free_port
from .test_replies_import import (  # noqa: F401  (fixtures)
    HOST,
    REPLIES,
    _our_host,
    _rsvps,
    factory,
    set_id,
)

USER = "fac@example.org"
PASSWORD = "s3cret/pass word"


class ImapServer:
    """pymap's in-memory IMAP server with its demo mailbox (ordinary mail, some unseen)."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.log = (tmp_path / "pymap.log").open("w")
        command = [str(Path(sys.executable).parent / "pymap"), "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-service", "managesieve"]
        command += ["dict", "--demo-data", "--demo-user", USER, "--demo-password", PASSWORD]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pymap did not start listening")

    @property
    def url(self) -> str:
        return (
            f"imap://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/INBOX"
        )

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        client.login(USER, PASSWORD)
        client.select("INBOX")
        return client

    def append(self, *names: str) -> None:
        client = self.client()
        for name in names:
            client.append("INBOX", None, None, (REPLIES / name).read_bytes())
        client.logout()

    def unseen_subjects(self) -> list[str]:
        client = self.client()
        _status, found = client.uid("SEARCH", None, "UNSEEN")
        subjects = []
        for uid in found[0].split():
            _status, parts = client.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects.append(parts[0][1].decode().strip())
        client.logout()
        return subjects

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


@pytest.fixture
def imap(tmp_path: Path):
    server = ImapServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def sessions(env: Settings):
    return database.session_factory(database.make_engine(env.database_url))


def _set_a(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(LearningSet.id).where(LearningSet.slug == "set-a"))


@pytest.mark.usefixtures("set_id")
def test_the_queue_polls_every_5_minutes_and_marks_only_our_replies_seen(
    imap, sessions, monkeypatch
):
    before = imap.unseen_subjects()  # the demo mailbox's own unseen mail
    assert before
    imap.append(
        "outlook-accepted.eml", "google-declined.eml", "stale-sequence.eml", "wrong-uid.eml"
    )
    monkeypatch.setenv("TOOLKIT_IMAP_URL", imap.url)
    queue = build_queue(Settings.from_env())
    schedule = queue.poll_replies.task_class()
    assert schedule.validate_datetime(datetime(2027, 1, 4, 8, 35))
    assert not schedule.validate_datetime(datetime(2027, 1, 4, 8, 36))
    assert queue.poll_replies.call_local() == 3  # two recorded, one refused (out of date)
    got = _rsvps(sessions, _set_a(sessions))
    assert got[(2, "zoe@example.nhs.uk")].status == "attending"
    assert got[(2, "lukasz@example.nhs.uk")].status == "apologies"
    assert (2, "amara@example.nhs.uk") not in got
    # ordinary mail, and a reply about someone else's meeting, are left unseen
    assert imap.unseen_subjects() == [
        *before,
        "Subject: Accepted: Departmental teaching: sepsis update",
    ]
    assert queue.poll_replies.call_local() == 0  # nothing new


def test_poll_without_a_mailbox_is_a_no_op(env):
    assert build_queue(env).poll_replies.call_local() == 0


def test_a_wrong_password_is_reported_without_the_password(imap, sessions):
    wrong = imap.url.replace(quote(PASSWORD, safe=""), "nope")
    with pytest.raises(MailboxError) as failure:
        poll(sessions, wrong, HOST, timeout=5)
    assert f"imap://{USER}@127.0.0.1:{imap.port}/INBOX" in str(failure.value)
    assert "nope" not in str(failure.value)


def test_a_silent_server_is_given_up_on_after_the_timeout(sessions):
    with SilentServer() as server:
        started = time.monotonic()
        with pytest.raises(MailboxError):
            poll(sessions, f"imaps://u:p@127.0.0.1:{server.port}/INBOX", HOST, timeout=0.5)
    assert time.monotonic() - started < 5


def test_mailbox_urls():
    box = Mailbox.from_url("imaps://fac%40example.org:p%2Fw@mail.example.org/Calendar%20replies")
    assert (box.secure, box.host, box.port, box.user, box.password, box.folder) == (
        True,
        "mail.example.org",
        993,
        "fac@example.org",
        "p/w",
        "Calendar replies",
    )
    assert (
        Mailbox.from_url("imap://u@h").port == 143
        and Mailbox.from_url("imap://u@h").folder == "INBOX"
    )
    with pytest.raises(MailboxError, match="must look like"):
        Mailbox.from_url("https://u:p@h/INBOX")
