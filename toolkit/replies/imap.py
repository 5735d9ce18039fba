"""Polling a mailbox over IMAP for calendar replies (`TOOLKIT_IMAP_URL`), for the task queue.

Unseen messages are read with BODY.PEEK, so reading marks nothing. One holding a calendar
REPLY to one of our sessions is marked seen once its replies are recorded or refused; every
other message (ordinary mail, invitations, replies about other calendars' events) is left
exactly as it was, since the mailbox is usually the facilitator's own, or a shared one.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from toolkit.replies.itip import MAX_MESSAGE, read_bytes
from toolkit.replies.matching import Outcome, import_replies, is_ours

log = logging.getLogger("toolkit.replies")
PER_POLL = 200  # messages read in one poll at most; the rest wait for the next
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The mailbox could not be reached or read: what went wrong, without the password."""


@dataclass(frozen=True)
class Mailbox:
    """Where to poll: `imaps://user:password@host[:port]/FOLDER` (`imap://` without TLS)."""

    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        """Read the URL; user and password may be %-encoded (an address's @ as %40)."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise MailboxError("TOOLKIT_IMAP_URL must look like imaps://user:password@host/INBOX")
        secure = parts.scheme == "imaps"
        return cls(
            secure=secure,
            host=parts.hostname,
            port=parts.port or (993 if secure else 143),
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )

    def describe(self) -> str:
        """For logs and messages: never the password."""
        scheme = "imaps" if self.secure else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def poll(
    sessions: sessionmaker[Session], url: str, host: str, timeout: float = 30.0
) -> list[Outcome]:
    """Import the calendar replies among the mailbox's unseen messages; each network wait is
    bounded by `timeout`. Raises MailboxError when the mailbox cannot be used."""
    mailbox = Mailbox.from_url(url)
    try:
        with _connect(mailbox, timeout) as client:
            return _poll(client, mailbox, sessions, host)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"{mailbox.describe()}: {exc}") from None


def _connect(mailbox: Mailbox, timeout: float) -> imaplib.IMAP4:
    if mailbox.secure:
        context = ssl.create_default_context()
        client = imaplib.IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=context, timeout=timeout)
    else:
        client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
    client.login(mailbox.user, mailbox.password)
    return client


def _poll(
    client: imaplib.IMAP4, mailbox: Mailbox, sessions: sessionmaker[Session], host: str
) -> list[Outcome]:
    status, _data = client.select(_quoted(mailbox.folder))
    if status != "OK":
        raise MailboxError(f"{mailbox.describe()}: no such folder")
    _status, found = client.uid("SEARCH", None, "UNSEEN")
    uids = (found[0] or b"").split()[:PER_POLL]
    outcomes: list[Outcome] = []
    for uid in uids:
        outcomes += _read_one(client, uid, sessions, host)
    return outcomes


def _read_one(
    client: imaplib.IMAP4, uid: bytes, sessions: sessionmaker[Session], host: str
) -> list[Outcome]:
    """One unseen message: left alone unless it holds a calendar; marked seen once handled."""
    data = _fetch(client, uid)
    if data is None:
        return []
    found = read_bytes(f"message {uid.decode()}", data)
    ours = [f for f in found if f.reply and f.reply.method == "REPLY" and is_ours(f.reply, host)]
    if not ours:
        return []  # ordinary mail, or replies to other calendars' events: not ours to touch
    outcomes = import_replies(sessions, ours, host)
    if not any(o.retry for o in outcomes):  # else left unseen, to be read at the next poll
        client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    for outcome in outcomes:
        log.info("calendar reply %s", outcome)
    return outcomes


def _fetch(client: imaplib.IMAP4, uid: bytes) -> bytes | None:
    """The whole message, without marking it seen; None if it is too large to be a reply."""
    _status, sized = client.uid("FETCH", uid, "(RFC822.SIZE)")
    match = _SIZE.search(sized[0] if sized and isinstance(sized[0], bytes) else b"")
    if match is None or int(match[1]) > MAX_MESSAGE:
        return None
    _status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
    body = next((p[1] for p in parts if isinstance(p, tuple)), None)
    return body


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
