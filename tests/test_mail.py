"""E-mail as readers see it: headers parsed back with the stdlib, files in the outbox, and SMTP
servers that refuse or fall silent (real sockets on loopback)."""

from __future__ import annotations

import stat
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from urllib.parse import quote

import pytest

from toolkit.calendar import Person
from toolkit.letters import Section, render
from toolkit.mail import MailError, Outbox, Smtp, compose_plain, send_with_retry, tls_context
from toolkit.text import one_line

from .smtp_server import Accounts, SmtpServer, TlsSmtpServer, self_signed_certificate

SERVICE = Person("Learning sets", "learning-sets@example.nhs.uk")
FACILITATOR = Person("Dr Siobhán O'Neil", "fac@example.org")
SEPARATORS = "\u2028\u2029\u0085"
ZOE = Person("Zoë Marsh", "zoe@example.nhs.uk")


def letter(subject: str = "Hello"):
    return render(subject, subject, [Section(paragraphs=(("Body",),))])


def written(recipient: Person = ZOE, **kw) -> bytes:
    """A message as it goes on the wire (CRLF), from the toolkit's own composer."""
    subject = kw.pop("subject", "Hello")
    facilitator = kw.pop("facilitator", FACILITATOR)
    message = compose_plain(SERVICE, facilitator, recipient, letter(subject), "example.nhs.uk")
    return message.as_bytes()


def read(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=default)


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_from_is_ours_with_the_facilitators_name_sender_ours_reply_to_the_facilitator():
    message = read(written())
    (sender,) = message["From"].addresses
    assert sender.addr_spec == "learning-sets@example.nhs.uk"  # our domain: DMARC passes
    assert sender.display_name == "Dr Siobhán O'Neil via Learning sets"
    assert message["Sender"].addresses[0].addr_spec == "learning-sets@example.nhs.uk"
    assert message["Reply-To"].addresses[0].addr_spec == "fac@example.org"
    assert message["Reply-To"].addresses[0].display_name == "Dr Siobhán O'Neil"
    nameless = read(written(facilitator=Person("", "fac@example.org")))
    assert nameless["From"].addresses[0].display_name == "Learning sets"


def test_the_envelope_sender_is_ours_too():
    with SmtpServer() as server:
        transport = Smtp(server.url)
        transport.send(read(written()), "x")
        transport.close()
    ((mail_from, rcpts),) = server.recorder.envelopes
    assert mail_from == "learning-sets@example.nhs.uk" and rcpts == ["zoe@example.nhs.uk"]


def test_an_en_dash_never_makes_an_empty_encoded_word():
    # Python 3.11's own folding writes "=?utf-8?q??=" for titles like these (at 41 x's, say)
    for n in range(0, 90):
        subject = f"Invitation: {'x' * n} – Kent, session 1 of 6, Thu 11 Feb 2027, 14:00 to 17:15"
        raw = written(subject=subject)
        assert b"?q??=" not in raw and b"?b??=" not in raw
        assert read(raw)["Subject"] == subject, n


@pytest.mark.parametrize(
    "subject",
    [
        "Invitation: Set A – Kent, Surrey & Sussex, session 1 of 6: Giving feedback",
        "Invitation: Set 🎓 A 👩🏽‍⚕️, session 2 of 6: Psychological safety 🧠🧠🧠",
        "Invitation: " + "Leadership in a crisis – " * 8 + "and after",  # a 200-character title
        "Updated: " + "Titlewithoutanyspacesatallthatgoesonandonandonandonandonandon" * 3,
        "Set=?utf-8?q?x?=A",
        "Cancelled: Set A, session 3 of 6",
    ],
)
def test_subjects_fold_and_read_back_exactly(subject):
    raw = written(subject=subject)
    assert read(raw)["Subject"] == subject
    assert all(len(line) <= 78 for line in header_lines(raw))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only


def test_line_separators_in_titles_and_names_are_spaces_not_errors():
    title = f"Set A{SEPARATORS[0]}Kent{SEPARATORS[1]}Surrey{SEPARATORS[2]}Sussex\r\nBcc: x@y.z"
    name = f"Zoë{SEPARATORS}Marsh"
    raw = written(Person(name, "zoe@example.nhs.uk"), subject=title)
    message = read(raw)
    assert message["Subject"] == one_line(title) == "Set A Kent Surrey Sussex Bcc: x@y.z"
    assert message["To"].addresses[0].display_name == "Zoë Marsh"
    assert message["Bcc"] is None
    assert not any(c in str(message["Subject"]) for c in SEPARATORS + "\r\n")


NAMES = [
    "Spy, spy@evil.example, x",
    "Zoë Marsh, spy@evil.example, x",
    "Siobhán O'Brien, MBBS, spy@evil.example, x",
    "A very long name of a trainee, spy@evil.example, who works at the Royal Infirmary, x",
    "Dr Łukasz Nowak-Żółć (Paediatrics, North), spy@evil.example, x",
    'Amara "Mara" Okafor \\ <spy@evil.example>',
    "O'Brien,",
    "Zoë",
]


@pytest.mark.parametrize("name", NAMES)
def test_display_names_parse_back_to_exactly_one_address(name):
    raw = written(Person(name, "zoe@example.nhs.uk"), facilitator=Person(name, "fac@example.org"))
    message = read(raw)
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "zoe@example.nhs.uk")
    (sender,) = message["From"].addresses
    assert sender.display_name == f"{name} via Learning sets"
    assert sender.addr_spec == "learning-sets@example.nhs.uk"
    (reply_to,) = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == (name, "fac@example.org")
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_outbox_files_use_crlf_and_are_never_overwritten(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    first = outbox.send(read(written(subject="First")), "session-1-zoe-request-0")
    second = outbox.send(read(written(subject="Second")), "session-1-zoe-request-0")
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [
        "session-1-zoe-request-0-2.eml",
        "session-1-zoe-request-0.eml",
    ]
    assert first.endswith("request-0.eml") and second.endswith("request-0-2.eml")
    subjects = {read(f.read_bytes())["Subject"] for f in files}
    assert subjects == {"First", "Second"}
    for f in files:
        raw = f.read_bytes()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        assert stat.S_IMODE(f.stat().st_mode) == 0o600  # names, addresses and links


def test_a_temporary_refusal_from_a_live_server_is_still_retried():
    pauses: list[float] = []
    with SmtpServer() as server:
        server.recorder.fail_next = 2
        transport = Smtp(server.url, timeout=2)
        detail = send_with_retry(transport, read(written()), "x", sleep=pauses.append)
        transport.close()
    assert detail.startswith("accepted") and pauses == [1, 4]


def test_an_outbox_that_cannot_be_written_is_reported_not_retried(tmp_path):
    (tmp_path / "outbox").write_text("a file where the folder should be")
    pauses: list[float] = []
    with pytest.raises(MailError) as failed:
        send_with_retry(Outbox(tmp_path / "outbox"), read(written()), "x", sleep=pauses.append)
    assert failed.value.temporary and failed.value.unreachable and pauses == []
    assert str(failed.value).startswith(f"could not write to {tmp_path / 'outbox'}")


USER, SECRET = "relay@example.nhs.uk", "p@ss:w/rd 100%"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(certificate, monkeypatch):
    """The test's certificate is the only one the client trusts (OpenSSL's SSL_CERT_FILE; the
    process's TLS context is made again, as it is cached)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    tls_context.cache_clear()
    yield certificate
    tls_context.cache_clear()


def _send_through(url: str) -> str:
    transport = Smtp(url, timeout=5)
    try:
        return transport.send(read(written()), "x")
    finally:
        transport.close()


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_starttls_then_sign_in_with_a_server_that_requires_both(trusted, mechanism):
    accounts = Accounts(USER, SECRET)
    with TlsSmtpServer(*trusted, accounts, mechanisms=(mechanism,)) as server:
        detail = _send_through(server.url_for(USER, SECRET))
    assert detail == "accepted by 127.0.0.1"
    assert accounts.attempts == [(mechanism, USER, SECRET, True)]  # signed in over TLS
    (message,) = server.recorder.messages
    assert message["To"].addresses[0].addr_spec == ZOE.email
    assert server.recorder.envelopes == [(SERVICE.email, [ZOE.email])]


def test_implicit_tls_signs_in_and_sends(trusted):
    accounts = Accounts(USER, SECRET)
    with TlsSmtpServer(*trusted, accounts, implicit=True) as server:
        assert _send_through(server.url_for(USER, SECRET)) == "accepted by 127.0.0.1"
    assert [a[1:3] for a in accounts.attempts] == [(USER, SECRET)]
    assert len(server.recorder.messages) == 1


def test_a_wrong_password_is_permanent_and_the_server_is_given_up_on(trusted):
    accounts = Accounts(USER, SECRET)
    pauses: list[float] = []
    with TlsSmtpServer(*trusted, accounts) as server:
        transport = Smtp(server.url_for(USER, "not it"), timeout=5)
        with pytest.raises(MailError) as failed:
            send_with_retry(transport, read(written()), "x", sleep=pauses.append)
        with pytest.raises(MailError, match=r"\(not tried again in this send\)$"):
            transport.send(read(written()), "y")
        transport.close()
    assert str(failed.value).startswith("535 ") and not failed.value.temporary
    assert failed.value.unreachable and pauses == []
    # one sign-in (smtplib tries each mechanism the server offers once), never retried
    assert [a[0] for a in accounts.attempts] == ["PLAIN", "LOGIN"]
    assert server.recorder.messages == []


def test_without_credentials_a_server_that_requires_sign_in_refuses_the_mail(trusted):
    with TlsSmtpServer(*trusted, Accounts(USER, SECRET)) as server:
        with pytest.raises(MailError) as failed:
            _send_through(f"smtp://127.0.0.1:{server.port}")
    assert str(failed.value).startswith("530 ") and not failed.value.temporary
    assert server.recorder.messages == []


def test_a_certificate_the_client_does_not_trust_stops_the_send_before_the_password(
    certificate, monkeypatch, tmp_path
):
    other, _key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    tls_context.cache_clear()
    accounts = Accounts(USER, SECRET)
    with TlsSmtpServer(*certificate, accounts) as server:
        with pytest.raises(MailError) as failed:
            _send_through(server.url_for(USER, SECRET))
    tls_context.cache_clear()
    assert "CERTIFICATE_VERIFY_FAILED" in str(failed.value) and failed.value.unreachable
    assert accounts.attempts == [] and server.recorder.messages == []


def test_a_password_is_never_sent_to_a_server_without_starttls():
    with SmtpServer() as server:
        with pytest.raises(MailError, match="does not offer STARTTLS; refusing to send a password"):
            _send_through(f"smtp://{quote(USER)}:{quote(SECRET, safe='')}@127.0.0.1:{server.port}")
    assert server.recorder.messages == []
