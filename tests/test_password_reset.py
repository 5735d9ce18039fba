"""Password reset: an e-mailed, single-use, expiring link, read from a real SMTP server."""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from toolkit import db as database
from toolkit.accounts import create_user
from toolkit.models import PasswordReset
from toolkit.web import create_app
from toolkit.web.auth import RESET_SENDER

from .conftest import PASSWORD, add_user, sign_in
from .smtp_server import SilentServer, SmtpServer
from .test_auth import clock  # noqa: F401  (the app's clock, stopped)

BASE = "https://sets.example.nhs.uk"
NEW = "a quiet walk by the river"
SAME_ANSWER = "If an account exists for that address, we have sent it a link"


@pytest.fixture
def smtp(env, monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        monkeypatch.setenv("TOOLKIT_BASE_URL", BASE)
        yield server.recorder


@pytest.fixture
def app(smtp):
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})


def _ask(app, email: str, address: str = "10.0.0.5", wait: bool = True):
    """Ask for a link as a stranger would, from a forged Host; follow to the sign-in page;
    then (`wait`) wait until the link has gone, or failed to."""
    answer = app.test_client().post(
        "/login/forgot",
        data={"email": email},
        headers={"Host": "evil.example"},
        environ_base={"REMOTE_ADDR": address},
        follow_redirects=True,
    )
    for sender in _senders() if wait else ():
        sender.join()
    return answer


def _senders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == RESET_SENDER]


def _link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"https://\S+/login/reset/\S+", body).group(0)


def test_a_reset_link_sets_a_new_password_once(app, smtp):
    email = add_user(app)
    assert SAME_ANSWER in _ask(app, email).text
    [message] = smtp.messages
    assert message["To"].addresses[0].addr_spec == email
    assert message["Subject"] == "Set a new password for the Learning-set toolkit"
    link = _link(message)
    assert link.startswith(f"{BASE}/login/reset/")  # from TOOLKIT_BASE_URL, never the Host
    path = link.removeprefix(BASE)
    browser = app.test_client()
    for _ in range(2):  # opening the link changes nothing
        page = browser.get(path)
        assert page.status_code == 200 and "Set a new password" in page.text
        assert page.headers["Cache-Control"] == "no-store"
    done = browser.post(path, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 302 and browser.get("/").status_code == 200  # signed in
    again = app.test_client().post(path, data={"password": NEW + "!", "confirm": NEW + "!"})
    assert again.status_code == 404 and "This link has been used or has expired" in again.text
    assert app.test_client().get(path).status_code == 404
    old = app.test_client().post("/login", data={"email": email, "password": PASSWORD})
    assert old.status_code == 200  # the old password no longer works
    sign_in_new = app.test_client().post("/login", data={"email": email, "password": NEW})
    assert sign_in_new.status_code == 302


def test_unknown_addresses_get_the_same_answer_and_no_e_mail(app, smtp):
    add_user(app)
    known, unknown = _ask(app, "fac@example.org"), _ask(app, "nobody@example.org")
    assert SAME_ANSWER in unknown.text and known.status_code == unknown.status_code == 200
    assert len(smtp.messages) == 1


def test_the_answer_does_not_wait_for_the_mail_server(env, monkeypatch, caplog):
    """A server that never answers holds up neither the answer (which would take longer for a
    real account than an unknown one, telling who has one) nor the page: the link is sent
    after it, and its failure logged."""
    with SilentServer() as silent:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", f"smtp://127.0.0.1:{silent.port}")
        monkeypatch.setenv("TOOLKIT_SMTP_TIMEOUT", "3")
        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        add_user(app)
        with caplog.at_level(logging.WARNING):
            assert SAME_ANSWER in _ask(app, "fac@example.org", wait=False).text
            [sender] = _senders()
            assert sender.is_alive()  # the answer came while the server was still silent
            sender.join()
    [record] = [r for r in caplog.records if "reset link for user" in r.getMessage()]
    assert "not sent" in record.getMessage() and "no answer" in record.getMessage()


def test_setting_a_password_signs_out_every_other_browser(app, smtp):
    email = add_user(app)
    laptop = app.test_client()
    sign_in(laptop, email)
    _ask(app, email)
    path = _link(smtp.messages[-1]).removeprefix(BASE)
    app.test_client().post(path, data={"password": NEW, "confirm": NEW})
    assert laptop.get("/").status_code == 302


def test_a_link_expires_after_an_hour(app, smtp, clock):  # noqa: F811
    email = add_user(app)
    _ask(app, email)
    path = _link(smtp.messages[-1]).removeprefix(BASE)
    clock.now += timedelta(minutes=59)
    assert app.test_client().get(path).status_code == 200
    clock.now += timedelta(minutes=2)
    assert app.test_client().get(path).status_code == 404
    refused = app.test_client().post(path, data={"password": NEW, "confirm": NEW})
    assert refused.status_code == 404


def test_a_weak_new_password_is_refused_and_the_link_still_works(app, smtp):
    email = add_user(app)
    _ask(app, email)
    path = _link(smtp.messages[-1]).removeprefix(BASE)
    weak = app.test_client().post(
        path, data={"password": "password1234", "confirm": "password1234"}
    )
    assert weak.status_code == 400 and "very common password" in weak.text
    own = app.test_client().post(path, data={"password": email, "confirm": email})
    assert own.status_code == 400 and "harder to guess" in own.text
    assert app.test_client().post(path, data={"password": NEW, "confirm": NEW}).status_code == 302


def test_only_a_hash_of_the_token_is_kept(app, smtp):
    _ask(app, add_user(app))
    token = _link(smtp.messages[-1]).rsplit("/", 1)[1]
    with app.extensions["toolkit"].sessions() as db:
        [row] = db.scalars(select(PasswordReset)).all()
        assert token not in row.token_hash and len(row.token_hash) == 64


def test_a_new_link_spends_nothing_and_the_first_one_used_spends_both(app, smtp):
    email = add_user(app)
    _ask(app, email)
    _ask(app, email)
    first, second = (_link(m).removeprefix(BASE) for m in smtp.messages)
    assert app.test_client().post(first, data={"password": NEW, "confirm": NEW}).status_code == 302
    assert app.test_client().get(second).status_code == 404


def test_asking_again_and_again_sends_a_few_then_slows(app, smtp, clock):  # noqa: F811
    email = add_user(app)
    for _ in range(6):
        assert SAME_ANSWER in _ask(app, email).text
    assert len(smtp.messages) == 3  # then one a minute, two, four ... for that address
    clock.now += timedelta(minutes=1)
    _ask(app, email)
    assert len(smtp.messages) == 4


def test_an_admin_can_send_a_reset_link(app, smtp):
    with database.transaction(app.extensions["toolkit"].sessions) as db:
        create_user(db, "admin@example.org", PASSWORD, "Dr Admin", is_admin=True)
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    add_user(app, "fac@example.org")
    users = admin.get("/admin/users").text
    action = re.search(
        r'action="(/admin/users/\d+/reset)"[^>]*>\s*<input[^>]*>\s*<button[^>]*>'
        r"[^<]*<span[^>]*> to fac@example.org",
        users,
    ).group(1)
    sent = admin.post(action, follow_redirects=True)
    assert "Sent fac@example.org a link to set a new password" in sent.text
    [message] = smtp.messages
    assert message["To"].addresses[0].addr_spec == "fac@example.org"
    assert "Dr Admin has asked for a link" in message.get_body(("plain",)).get_content()
    assert message["Reply-To"].addresses[0].addr_spec == "admin@example.org"
    path = _link(message).removeprefix(BASE)
    assert app.test_client().post(path, data={"password": NEW, "confirm": NEW}).status_code == 302


def test_only_admins_can_send_reset_links(app, smtp):
    add_user(app, "admin@example.org", admin=True)
    facilitator = app.test_client()
    sign_in(facilitator, add_user(app, "fac@example.org"))
    assert facilitator.post("/admin/users/1/reset").status_code == 404
    assert app.test_client().post("/admin/users/1/reset").status_code in (302, 404)
    assert smtp.messages == []


def test_the_sign_in_page_links_to_the_reset(app, smtp):
    add_user(app, admin=True)
    page = app.test_client().get("/login").text
    assert 'href="/login/forgot"' in page and "Forgot your password?" in page
