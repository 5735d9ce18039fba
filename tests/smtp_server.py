"""A real SMTP server on loopback (aiosmtpd) that records what arrives and can be told to fail;
also one that takes mail only over TLS after signing in, with a certificate made for the test."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Recorder:
    """Keeps every message; fails the next N recipients temporarily, or some permanently."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next = 0
        self.reject: set[str] = set()
        self.refusal = "550 5.1.1 mailbox unavailable"  # the reply each rejected address gets
        # when set, the message after `hold_after` accepted ones is held: its data is read but
        # never answered until `release` is set (a server stuck mid-send)
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.data_refusal: str | None = None  # when set, the reply every message's data gets

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.refusal
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 temporary failure, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_refusal is not None:
            return self.data_refusal
        if self.hold_after is not None and len(self.messages) >= self.hold_after:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 held, not accepted"  # the sender has gone: nothing was delivered
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """Start and stop the server; `url` is what TOOLKIT_SMTP_URL would hold."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts connections on loopback and never says a word."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()
        for connection in self.accepted:
            connection.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made now with the openssl command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class Accounts:
    """An authenticator for aiosmtpd: one user and password; records every attempt."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.attempts: list[tuple[str, str, str, bool]] = []  # mechanism, user, password, tls

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login, password, session.ssl is not None))
        # handled=False: aiosmtpd then answers a refusal with 535 (else it says nothing at all)
        ok = (login, password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


class TlsSmtpServer(SmtpServer):
    """A server that takes mail only over STARTTLS (or implicit TLS) and only after AUTH."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        accounts: Accounts,
        mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
        implicit: bool = False,
    ) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        tls = {"ssl_context": context} if implicit else {"tls_context": context}
        self.implicit = implicit
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            require_starttls=not implicit,
            auth_required=True,
            # aiosmtpd sees STARTTLS only: over implicit TLS it would never offer AUTH
            auth_require_tls=not implicit,
            authenticator=accounts,
            auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m not in mechanisms],
            **tls,
        )

    def url_for(self, user: str, password: str) -> str:
        scheme = "smtps" if self.implicit else "smtp"
        return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}"
