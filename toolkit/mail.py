"""E-mail: compose calendar invites as MIME messages; send them by SMTP or to an outbox."""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import count
from pathlib import Path
from urllib.parse import unquote, urlsplit

from toolkit.calendar import Person
from toolkit.config import SMTP_TIMEOUT
from toolkit.headers import POLICY
from toolkit.private_files import private_folder
from toolkit.text import one_line

SERVICE = "Learning sets"  # the name mail comes from: "Dr X via Learning sets"


class MailError(RuntimeError):
    """A transport problem, with whether trying again later might work, and whether the server
    could not be reached at all (then nothing more is tried in this run: it is left owed)."""

    def __init__(self, message: str, temporary: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.unreachable = unreachable


def _address(person: Person, name: str | None = None) -> Address:
    """A header address; every part goes through `one_line`, so no header can be injected."""
    local, _, domain = one_line(person.email).rpartition("@")
    display = one_line(person.name if name is None else name)
    return Address(display_name=display, username=local, domain=domain)


@dataclass(frozen=True)
class Letter:
    """What an e-mail says: its subject, plain-text body and the same as an HTML document."""

    subject: str
    body: str
    html: str


def compose(
    service: Person,
    facilitator: Person,
    recipient: Person,
    letter: Letter,
    ics: bytes,
    method: str,
    domain: str,
) -> EmailMessage:
    """multipart/mixed: [alternative: text, HTML, text/calendar; method=…] + invite.ics."""
    message = compose_plain(service, facilitator, recipient, letter, domain)
    message.add_alternative(
        ics, maintype="text", subtype="calendar", params={"method": method, "charset": "UTF-8"}
    )
    message.make_mixed()
    message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return message


def compose_plain(
    service: Person, facilitator: Person, recipient: Person, letter: Letter, domain: str
) -> EmailMessage:
    """multipart/alternative, the letter as plain text and HTML; From is the service's own
    address (so DMARC passes) shown as "<facilitator> via <service>", Sender the service,
    Reply-To the facilitator."""
    message = EmailMessage(policy=POLICY)
    shown = f"{one_line(facilitator.name)} via {service.name}" if facilitator.name.strip() else ""
    message["From"] = _address(service, shown or service.name)
    message["Sender"] = _address(service)
    message["To"] = _address(recipient)
    message["Reply-To"] = _address(facilitator)
    message["Subject"] = one_line(letter.subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(letter.body)
    message.add_alternative(letter.html, subtype="html")
    return message


class Outbox:
    """Writes each message as an .eml file (CRLF line ends, as RFC 5322 and SMTP have them),
    for when no SMTP server is configured; a file is never overwritten."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"the outbox folder {self.folder}"

    def send(self, message: EmailMessage, name: str) -> str:
        try:
            return f"written to {self._write(message.as_bytes(policy=POLICY), name)}"
        except OSError as exc:
            # a full or read-only disk will not mend in seconds: leave the rest owed
            raise MailError(f"could not write to {self.folder}: {exc}", True, True) from None

    def _write(self, data: bytes, name: str) -> Path:
        """Write to a private temporary file, then link it to the first free `name[-n].eml`,
        so a reader never sees half a file and two writers never share a name."""
        private_folder(self.folder)
        handle, partial = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            for n in count(1):
                path = self.folder / (f"{name}.eml" if n == 1 else f"{name}-{n}.eml")
                try:
                    os.link(partial, path)
                    return path
                except FileExistsError:
                    continue
        finally:
            os.unlink(partial)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Nothing to close."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the system's certificates,
    which costs tens of milliseconds, per message when every queued message connects afresh."""
    return ssl.create_default_context()


class Smtp:
    """Sends through SMTP: `smtp://` (STARTTLS when offered or with credentials), `smtps://`.

    Every wait for the server is bounded by `timeout`. A server that cannot be reached (refused,
    silent, failing TLS or sign-in) or that falls silent is given up on for the rest of the run:
    each recipient after it is reported at once, and stays owed for the next send.
    """

    def __init__(self, url: str, timeout: float = SMTP_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TOOLKIT_SMTP_URL must look like smtp://user:pass@host:587")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None
        self._down: MailError | None = None  # why the server was given up on, if it was

    def describe(self) -> str:
        return f"the SMTP server {self.host}:{self.port}"

    def _open(self) -> smtplib.SMTP:
        context = tls_context()
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            elif self.user:
                raise MailError(
                    "the server does not offer STARTTLS; refusing to send a password", False
                )
            return connection
        except BaseException:
            connection.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        """The open connection, or a new one signed in; raises MailError once given up."""
        if self._down is not None:
            again = f"{self._down} (not tried again in this send)"
            raise MailError(again, self._down.temporary, unreachable=True)
        if self._connection is not None:
            return self._connection
        try:
            connection = self._open()
            if self.user:
                self._sign_in(connection)
        except MailError as exc:
            raise self._give_up(str(exc), exc.temporary) from None
        except smtplib.SMTPResponseException as exc:
            raise self._give_up(_reply(exc), 400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._give_up(self._explain(exc), True) from None
        self._connection = connection
        return connection

    def _sign_in(self, connection: smtplib.SMTP) -> None:
        try:
            connection.login(self.user or "", self.password or "")
        except BaseException:
            connection.close()
            raise

    def _give_up(self, reason: str, temporary: bool) -> MailError:
        """Remember that the server is unusable for this run, and say why."""
        self._down = MailError(reason, temporary, unreachable=True)
        return self._down

    def _explain(self, exc: BaseException) -> str:
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        if timed_out:
            return f"TimeoutError: no answer from the server within {self.timeout:g} s"
        return f"{type(exc).__name__}: {exc}"

    def send(self, message: EmailMessage, name: str) -> str:
        connection = self._connect()
        try:
            refused = connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise MailError(f"{code} {reply.decode(errors='replace')}", 400 <= code < 500) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise MailError(_reply(exc), 400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            reason = self._explain(exc)
            if reason.startswith("TimeoutError"):
                raise self._give_up(reason, True) from None
            raise MailError(reason, True) from None
        if refused:
            raise MailError(f"refused: {refused}", False)
        return f"accepted by {self.host}"

    def _drop(self) -> None:
        """Close the connection without a QUIT, which a stuck server would not answer."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"


Transport = Outbox | Smtp


def transport_for(smtp_url: str | None, outbox: Path, timeout: float = SMTP_TIMEOUT) -> Transport:
    """SMTP when `TOOLKIT_SMTP_URL` is set (waiting at most `timeout` seconds for any answer),
    else the outbox folder."""
    return Smtp(smtp_url, timeout) if smtp_url else Outbox(outbox)


def send_with_retry(
    transport: Transport,
    message: EmailMessage,
    name: str,
    delays: tuple[float, ...] = (1, 4, 15),
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Send, retrying temporary failures after each of `delays` seconds; raise MailError last.
    A server that could not be reached is not retried: the message is left for the next send."""
    for delay in (*delays, None):
        try:
            return transport.send(message, name)
        except MailError as exc:
            if not exc.temporary or exc.unreachable or delay is None:
                raise
            sleep(delay)
    raise AssertionError("unreachable")
