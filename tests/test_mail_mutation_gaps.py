"""Mail: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

import pytest

from toolkit.mail import MailError, Outbox, Smtp, send_with_retry, transport_for

from .smtp_server import SilentServer, SmtpServer
from .test_mail import read, written


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


def test_a_silent_server_is_given_up_on_after_the_timeout_the_settings_give(tmp_path):
    pauses: list[float] = []
    with SilentServer() as silent:
        transport = transport_for(f"smtp://127.0.0.1:{silent.port}", tmp_path, timeout=0.5)
        with pytest.raises(MailError) as failed:
            send_with_retry(transport, read(written()), "x", sleep=pauses.append)
        transport.close()
    assert str(failed.value) == "TimeoutError: no answer from the server within 0.5 s"
    assert failed.value.temporary and failed.value.unreachable and pauses == []


def test_a_live_server_reports_acceptance_by_its_host(tmp_path):
    with SmtpServer() as server:
        transport = transport_for(server.url, tmp_path)
        assert transport.send(read(written()), "x") == "accepted by 127.0.0.1"
        transport.close()
    assert len(server.recorder.messages) == 1
