"""E-mail: compose calendar invites as MIME messages; send them by SMTP or to an outbox."""

from __future__ import annotations

import html
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from toolkit.calendar import Person
from toolkit.text import one_line


class MailError(RuntimeError):
    """A transport problem, with whether trying again later might work."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


def _address(person: Person) -> Address:
    local, _, domain = person.email.strip().rpartition("@")
    return Address(display_name=one_line(person.name), username=local, domain=domain)


@dataclass(frozen=True)
class Letter:
    """The readable part of an invite: subject and plain-text body (the HTML is derived)."""

    subject: str
    body: str


def compose(
    sender: Person,
    reply_to: Person,
    recipient: Person,
    letter: Letter,
    ics: bytes,
    method: str,
    domain: str,
) -> EmailMessage:
    """multipart/mixed: [alternative: text, HTML, text/calendar; method=…] + invite.ics."""
    message = compose_plain(sender, reply_to, recipient, letter, domain)
    message.add_alternative(
        ics, maintype="text", subtype="calendar", params={"method": method, "charset": "UTF-8"}
    )
    message.make_mixed()
    message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return message


def compose_plain(
    sender: Person, reply_to: Person, recipient: Person, letter: Letter, domain: str
) -> EmailMessage:
    """multipart/alternative: the letter as plain text and as simple HTML."""
    message = EmailMessage()
    message["From"] = _address(sender)
    message["To"] = _address(recipient)
    message["Reply-To"] = _address(reply_to)
    message["Subject"] = one_line(letter.subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(letter.body)
    message.add_alternative(_html(letter.body), subtype="html")
    return message


def _html(body: str) -> str:
    """The plain body as simple HTML (escaped, paragraphs and line breaks kept)."""
    paragraphs = [
        "<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in body.split("\n\n")
    ]
    return (
        '<!DOCTYPE html><html lang="en-GB"><body>\n' + "\n".join(paragraphs) + "\n</body></html>\n"
    )


class Outbox:
    """Writes each message as an .eml file, for when no SMTP server is configured."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return f"the outbox folder {self.folder}"

    def send(self, message: EmailMessage, name: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.eml"
        partial = path.with_suffix(".tmp")
        partial.write_bytes(bytes(message))
        partial.replace(path)
        return f"written to {path}"

    def close(self) -> None:
        """Nothing to close."""


class Smtp:
    """Sends through SMTP: `smtp://` (STARTTLS when offered or with credentials), `smtps://`."""

    def __init__(self, url: str, timeout: float = 20) -> None:
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

    def describe(self) -> str:
        return f"the SMTP server {self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = ssl.create_default_context()
        if self.implicit_tls:
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            elif self.user:
                raise MailError(
                    "the server does not offer STARTTLS; refusing to send a password", False
                )
        if self.user:
            connection.login(self.user, self.password or "")
        self._connection = connection
        return connection

    def send(self, message: EmailMessage, name: str) -> str:
        try:
            refused = self._connect().send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise MailError(f"{code} {reply.decode(errors='replace')}", 400 <= code < 500) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            reply = exc.smtp_error.decode(errors="replace")
            raise MailError(f"{exc.smtp_code} {reply}", 400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MailError(f"{type(exc).__name__}: {exc}", True) from None
        if refused:
            raise MailError(f"refused: {refused}", False)
        return f"accepted by {self.host}"

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._connection = None


Transport = Outbox | Smtp


def transport_for(smtp_url: str | None, outbox: Path) -> Transport:
    """SMTP when `TOOLKIT_SMTP_URL` is set, else the outbox folder."""
    return Smtp(smtp_url) if smtp_url else Outbox(outbox)


def send_with_retry(
    transport: Transport,
    message: EmailMessage,
    name: str,
    delays: tuple[float, ...] = (1, 4, 15),
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Send, retrying temporary failures after each of `delays` seconds; raise MailError last."""
    for delay in (*delays, None):
        try:
            return transport.send(message, name)
        except MailError as exc:
            if not exc.temporary or delay is None:
                raise
            sleep(delay)
    raise AssertionError("unreachable")
