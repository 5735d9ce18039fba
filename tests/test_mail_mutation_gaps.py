"""Mail: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

# ruff: noqa: F811 (the fixtures imported from test_mail are used as parameters)

from __future__ import annotations

import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller

from toolkit.mail import MailError, Outbox, Smtp, send_with_retry, tls_context, transport_for

from .smtp_server import Accounts, SilentServer, SmtpServer, TlsSmtpServer, self_signed_certificate
from .test_mail import USER, ZOE, certificate, read, trusted, written  # noqa: F401 (fixtures)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("smtp://mail.example.nhs.uk", "the SMTP server mail.example.nhs.uk:25"),
        ("smtps://mail.example.nhs.uk", "the SMTP server mail.example.nhs.uk:465"),
        ("smtp://relay:secret@mail.example.nhs.uk:587", "the SMTP server mail.example.nhs.uk:587"),
    ],
)
def test_the_send_names_the_server_and_its_port_or_the_standard_one(url, shown, tmp_path):
    assert transport_for(url, tmp_path).describe() == shown


@pytest.mark.parametrize("url", ["http://mail.example.nhs.uk", "smtp://", "mail.example.nhs.uk"])
def test_an_smtp_address_that_is_not_one_is_refused_saying_what_it_should_look_like(url):
    with pytest.raises(
        ValueError, match=r"^TOOLKIT_SMTP_URL must look like smtp://user:pass@host:587$"
    ):
        Smtp(url)


def test_without_a_server_mail_goes_to_the_outbox_folder(tmp_path):
    transport = transport_for(None, tmp_path / "outbox")
    assert isinstance(transport, Outbox)
    assert transport.describe() == f"the outbox folder {tmp_path / 'outbox'}"
    assert (
        transport.send(read(written()), "hello")
        == f"written to {tmp_path / 'outbox' / 'hello.eml'}"
    )


def _given_up_within(seconds: float, send) -> MailError:
    """The MailError `send` raises, which it must raise within `seconds` (run in a thread, so a
    send that waits for ever fails the test instead of hanging it)."""
    raised: list[BaseException] = []

    def attempt() -> None:
        try:
            send()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            raised.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting for the server after {seconds} s"
    (error,) = raised
    assert isinstance(error, MailError)
    return error


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_a_silent_server_is_given_up_on_after_the_timeout_the_settings_give(scheme, tmp_path):
    pauses: list[float] = []
    with SilentServer() as silent:
        transport = transport_for(f"{scheme}://127.0.0.1:{silent.port}", tmp_path, timeout=0.5)
        failed = _given_up_within(
            10, lambda: send_with_retry(transport, read(written()), "x", sleep=pauses.append)
        )
        again = _given_up_within(  # the next recipient is not tried, nor retried
            1, lambda: send_with_retry(transport, read(written()), "y", sleep=pauses.append)
        )
        transport.close()
    assert str(failed) == "TimeoutError: no answer from the server within 0.5 s"
    assert failed.temporary and failed.unreachable and pauses == []
    assert str(again) == f"{failed} (not tried again in this send)"
    assert again.temporary and again.unreachable


def test_a_live_server_reports_acceptance_by_its_host(tmp_path):
    with SmtpServer() as server:
        transport = transport_for(server.url, tmp_path)
        assert transport.send(read(written()), "x") == "accepted by 127.0.0.1"
        transport.close()
    assert len(server.recorder.messages) == 1


def test_a_server_stuck_mid_send_is_dropped_without_waiting_for_it_again():
    """After a server falls silent mid-message, closing the transport does not send it a QUIT
    and wait out the timeout a second time: the connection is simply dropped."""
    with SmtpServer() as server:
        server.recorder.hold_after = 0
        transport = Smtp(server.url, timeout=0.6)
        try:
            with pytest.raises(MailError) as failed:
                transport.send(read(written()), "x")
            started = time.monotonic()
            transport.close()
            closing = time.monotonic() - started
        finally:
            server.recorder.release.set()
    assert str(failed.value) == "TimeoutError: no answer from the server within 0.6 s"
    assert failed.value.temporary and failed.value.unreachable
    assert closing < 0.3


def test_the_outbox_writes_in_its_own_folder_whatever_the_machines_temporary_folder(
    tmp_path, monkeypatch
):
    """The half-written file is made beside the finished ones (so linking it into place works
    on any disk), not in the temporary folder, which may be missing or elsewhere."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    outbox = Outbox(tmp_path / "outbox")
    assert (
        outbox.send(read(written()), "hello") == f"written to {tmp_path / 'outbox' / 'hello.eml'}"
    )
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["hello.eml"]


def test_a_relay_account_without_a_password_signs_in_with_an_empty_one(trusted):
    accounts = Accounts(USER, "")
    with TlsSmtpServer(*trusted, accounts, mechanisms=("PLAIN",)) as server:
        transport = Smtp(f"smtp://{quote(USER, safe='')}@127.0.0.1:{server.port}", timeout=5)
        assert transport.send(read(written()), "x") == "accepted by 127.0.0.1"
        transport.close()
    assert accounts.attempts == [("PLAIN", USER, "", True)]
    assert len(server.recorder.messages) == 1


def test_a_server_restarted_between_two_messages_gets_the_second_on_a_new_connection():
    """The connection the server dropped is let go: that message fails for now (owed, not
    given up on) and the next one goes on a fresh connection."""
    with SmtpServer() as server:
        transport = Smtp(server.url, timeout=5)
        assert transport.send(read(written()), "first") == "accepted by 127.0.0.1"
        server.controller.stop()
        server.controller = Controller(server.recorder, hostname="127.0.0.1", port=server.port)
        server.controller.start()
        with pytest.raises(MailError) as dropped:
            transport.send(read(written()), "second")
        detail = transport.send(read(written()), "second")
        transport.close()
    assert str(dropped.value).startswith("SMTPServerDisconnected: ")
    assert dropped.value.temporary and not dropped.value.unreachable
    assert detail == "accepted by 127.0.0.1" and len(server.recorder.messages) == 2


def test_a_server_without_starttls_is_refused_a_password_for_good_not_for_later():
    with SmtpServer() as server:
        url = f"smtp://{quote(USER, safe='')}:secret@127.0.0.1:{server.port}"
        with pytest.raises(MailError) as failed:
            send_with_retry(Smtp(url, timeout=5), read(written()), "x", sleep=lambda _: None)
    assert str(failed.value) == "the server does not offer STARTTLS; refusing to send a password"
    assert not failed.value.temporary and failed.value.unreachable
    assert server.recorder.messages == []


def test_implicit_tls_to_a_certificate_the_client_does_not_trust_sends_nothing(
    certificate, monkeypatch, tmp_path
):
    other, _key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    tls_context.cache_clear()
    accounts = Accounts(USER, "secret")
    try:
        with TlsSmtpServer(*certificate, accounts, implicit=True) as server:
            transport = Smtp(server.url_for(USER, "secret"), timeout=5)
            with pytest.raises(MailError) as failed:
                transport.send(read(written()), "x")
    finally:
        tls_context.cache_clear()
    assert "CERTIFICATE_VERIFY_FAILED" in str(failed.value) and failed.value.unreachable
    assert accounts.attempts == [] and server.recorder.messages == []


class BusyServer:
    """Greets every connection with `greeting` and hangs up (a server turning clients away)."""

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.sendall(self.greeting)

    def __enter__(self) -> BusyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()


def test_a_busy_server_is_a_temporary_failure_in_its_own_words_even_if_not_utf8():
    pauses: list[float] = []
    with BusyServer(b"421 4.3.2 tr\xe8s occup\xe9, r\xe9essayez\r\n") as busy:
        transport = Smtp(f"smtp://127.0.0.1:{busy.port}", timeout=5)
        with pytest.raises(MailError) as failed:
            send_with_retry(transport, read(written()), "x", sleep=pauses.append)
    assert str(failed.value) == "421 4.3.2 tr\ufffds occup\ufffd, r\ufffdessayez"
    assert failed.value.temporary and failed.value.unreachable and pauses == []


@pytest.mark.parametrize(
    ("code", "temporary"), [(400, True), (499, True), (500, False), (554, False)]
)
def test_any_4xx_greeting_is_temporary_and_any_5xx_permanent(code, temporary):
    with BusyServer(f"{code} not now\r\n".encode()) as busy:
        with pytest.raises(MailError) as failed:
            Smtp(f"smtp://127.0.0.1:{busy.port}", timeout=5).send(read(written()), "x")
    assert str(failed.value) == f"{code} not now"
    assert failed.value.temporary is temporary and failed.value.unreachable


@pytest.mark.parametrize(
    ("code", "temporary"), [(400, True), (499, True), (500, False), (554, False)]
)
def test_any_4xx_refusal_of_an_address_is_temporary_and_any_5xx_permanent(code, temporary):
    with SmtpServer() as server:
        server.recorder.reject = {ZOE.email}
        server.recorder.refusal = f"{code} 5.1.1 no such mailbox: b\u00f6x"
        transport = Smtp(server.url, timeout=5)
        with pytest.raises(MailError) as failed:
            transport.send(read(written()), "x")
        transport.close()
    assert str(failed.value) == f"{code} 5.1.1 no such mailbox: b\u00f6x"
    assert failed.value.temporary is temporary and not failed.value.unreachable


def test_one_connection_and_one_sign_in_carry_every_message_of_a_send(trusted):
    accounts = Accounts(USER, "secret")
    with TlsSmtpServer(*trusted, accounts) as server:
        transport = Smtp(server.url_for(USER, "secret"), timeout=5)
        for name in ("a", "b", "c"):
            assert transport.send(read(written()), name) == "accepted by 127.0.0.1"
        transport.close()
    assert len(accounts.attempts) == 1 and len(server.recorder.messages) == 3


def test_the_date_header_is_the_true_time_whatever_the_machines_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    time.tzset()
    try:
        sent = read(written())["Date"].datetime
    finally:
        monkeypatch.undo()
        time.tzset()
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=2)


@pytest.mark.parametrize(
    ("code", "temporary"), [(400, True), (499, True), (500, False), (554, False)]
)
def test_any_4xx_refusal_of_the_message_itself_is_temporary_and_any_5xx_permanent(code, temporary):
    with SmtpServer() as server:
        server.recorder.data_refusal = f"{code} 5.6.0 message refused"
        transport = Smtp(server.url, timeout=5)
        with pytest.raises(MailError) as failed:
            transport.send(read(written()), "x")
        transport.close()
        assert server.recorder.messages == []
    assert str(failed.value) == f"{code} 5.6.0 message refused"
    assert failed.value.temporary is temporary and not failed.value.unreachable


def test_a_message_some_of_whose_recipients_are_refused_fails_for_good_naming_them():
    """smtplib sends to those accepted and reports the others; nothing of ours has two
    recipients, but a transport that dropped the report would lose the refusal."""
    message = read(written())
    message.replace_header("To", f"{message['To']}, ann.other@example.nhs.uk")
    with SmtpServer() as server:
        server.recorder.reject = {"ann.other@example.nhs.uk"}
        transport = Smtp(server.url, timeout=5)
        with pytest.raises(MailError) as failed:
            transport.send(message, "x")
        transport.close()
    assert str(failed.value) == (
        "refused: {'ann.other@example.nhs.uk': (550, b'5.1.1 mailbox unavailable')}"
    )
    assert failed.value.temporary is False and not failed.value.unreachable
