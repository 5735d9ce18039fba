import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from toolkit.web import create_app

from .conftest import PASSWORD, add_user, sign_in

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}
SETUP = {
    "name": "Dr Admin",
    "email": "admin@example.org",
    "password": PASSWORD,
    "confirm": PASSWORD,
}


def test_first_run_redirects_to_setup(client):
    response = client.get("/cases/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/setup")


def test_setup_from_another_machine_needs_the_token(app, client):
    assert client.get("/setup", environ_base=REMOTE).status_code == 403
    assert client.get("/setup?token=wrong", environ_base=REMOTE).status_code == 403
    token = app.config["SETUP_TOKEN"]
    page = client.get(f"/setup?token={token}", environ_base=REMOTE)
    assert page.status_code == 200
    done = client.post("/setup", data={**SETUP, "token": token}, environ_base=REMOTE)
    assert done.status_code == 302


def test_setup_creates_admin_once_then_closes(client):
    response = client.post("/setup", data=SETUP)
    assert response.status_code == 302
    home = client.get("/")
    assert "Dr Admin (admin)" in home.text
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data={**SETUP, "email": "second@example.org"}).status_code == 404


def test_setup_form_errors_are_summarised_and_linked(client):
    response = client.post("/setup", data={**SETUP, "confirm": "something else entirely"})
    assert response.status_code == 400  # a form error, as every form answers one
    assert "There is a problem" in response.text
    assert 'href="#confirm"' in response.text
    assert "The passwords do not match" in response.text


def test_login_wrong_password_then_right(app, client):
    email = add_user(app)
    bad = client.post("/login", data={"email": email, "password": "not the password"})
    assert bad.status_code == 200
    assert "The e-mail address or password is not right" in bad.text
    sign_in(client, email.upper())
    assert "Dr Facilitator" in client.get("/").text


def test_login_rotates_session_and_next_is_local_only(app, client):
    email = add_user(app)
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    response = client.post(
        "/login?next=https://evil.example/", data={"email": email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"
    with client.session_transaction() as s:
        assert "planted" not in s
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 302


def test_logout_is_post_only(signed_in):
    assert signed_in.get("/logout").status_code == 405


def test_pages_need_sign_in(app, client):
    add_user(app, admin=True)
    for path in ("/", "/cases/", "/frameworks/", "/cases/x/handout"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_csrf_is_enforced(env):
    app = create_app({"TESTING": True})
    add_user(app)
    client = app.test_client()
    refused = client.post("/login", data={"email": "fac@example.org", "password": PASSWORD})
    assert refused.status_code == 400
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post(
        "/login", data={"email": "fac@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302


@pytest.mark.parametrize("path", ["/login", "/setup"])
def test_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'nonce="{nonce}"' in response.text  # the NHS.UK inline script carries it
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_setup_stays_open_until_an_admin_can_sign_in(env, runner):
    """`make run` loads the demo set first, whose facilitator has no password yet."""
    from toolkit.cli import main

    assert runner.invoke(main, ["demo", "load", "--if-empty"]).exit_code == 0
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    assert "SETUP_TOKEN" in app.config
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/setup")
    assert client.post("/setup", data=SETUP).status_code == 302
    assert client.get("/setup").status_code == 404
    assert "KSS Foundation leadership set A" in client.get("/sets/").text  # an admin sees it


@pytest.fixture
def clock(monkeypatch):
    """The web app's clock, stopped at a known moment; `clock.now += ...` moves it."""

    class Clock:
        now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    monkeypatch.setattr("toolkit.web.auth.utcnow", lambda: Clock.now)
    return Clock


BYPASSES = [  # query strings, as an attacker would write the link
    "/%09/evil.example/phish",
    "/%0a/evil.example/phish",
    "/%0d%0a/evil.example",
    "//evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "%2F%2Fevil.example",
    "%252F%252Fevil.example",
    "/%2F/evil.example",
    "////evil.example",
    "https:evil.example",
    "http://evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%E3%80%80/evil.example",  # U+3000 ideographic space
    "%E3%80%80//evil.example",
    "/%00/evil.example",
    "/%C2%A0/evil.example",  # no-break space
    "/%E2%80%AE/evil.example",  # right-to-left override
    "evil.example",
]


@pytest.mark.parametrize("target", BYPASSES)
def test_next_never_leads_off_the_site(app, client, target):
    email = add_user(app)
    response = client.post(f"/login?next={target}", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 400)  # 400: a NUL is refused before anything
    assert response.status_code == 400 or response.headers["Location"] == "/"


def test_next_to_a_page_on_this_site_is_kept(app, client):
    email = add_user(app)
    response = client.post(
        "/login?next=/sets/set-a%3Ftab%3Dmembers", data={"email": email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/sets/set-a?tab=members"


def _login(client, email: str, password: str, address: str = "10.0.0.66"):
    data = {"email": email, "password": password}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def test_an_attacker_slows_only_their_own_address_and_never_locks_the_owner(app, clock):
    email = add_user(app)
    attacker = app.test_client()
    for _ in range(5):
        assert _login(attacker, email, "wrong password!!").status_code == 200
    refused = _login(attacker, email, PASSWORD)  # even the right password waits its turn
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Too many attempts. Wait 1 second, then try again" in refused.text
    owner = app.test_client()
    assert _login(owner, email, PASSWORD, "10.0.0.7").status_code == 302  # from elsewhere
    clock.now += timedelta(seconds=1)
    assert _login(app.test_client(), email, PASSWORD).status_code == 302  # once the wait passes


def test_each_further_failure_doubles_the_wait(app, clock):
    email = add_user(app)
    client = app.test_client()
    waits = []
    for _ in range(9):
        response = _login(client, email, "wrong password!!")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock.now += timedelta(seconds=waits[-1])
            response = _login(client, email, "wrong password!!")
        assert response.status_code == 200
    assert waits == [1, 2, 4, 8]
    assert "Wait 16 seconds" in _login(client, email, PASSWORD).text


def test_a_refusal_does_not_tell_whether_the_account_exists(app, clock):
    email = add_user(app)
    answers = []
    for who, address in ((email, "10.0.0.1"), ("nobody@example.org", "10.0.0.2")):
        for _ in range(5):
            _login(app.test_client(), who, "wrong password!!", address)
        answers.append(_login(app.test_client(), who, "wrong password!!", address))
    known, unknown = answers
    assert known.status_code == unknown.status_code == 429
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"]

    def shown(response, who: str) -> str:
        return re.sub(r'nonce="[^"]+"', "", response.text.replace(who, ""))

    assert shown(known, email) == shown(unknown, "nobody@example.org")


def test_sixteen_concurrent_wrong_passwords_check_at_most_five(app, clock, monkeypatch):
    """Before, ten of sixteen were checked; every attempt is now claimed before it is checked."""
    import toolkit.accounts

    email = add_user(app)
    checks: list[str] = []
    real_check = toolkit.accounts.check_password_hash
    monkeypatch.setattr(
        "toolkit.accounts.check_password_hash",
        lambda hashed, password: checks.append(password) or real_check(hashed, password),
    )
    start = threading.Barrier(16)
    statuses: list[int] = []

    def attempt() -> None:
        client = app.test_client()
        start.wait()
        statuses.append(_login(client, email, "wrong password!!").status_code)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checks) == 5
    assert sorted(statuses) == [200] * 5 + [429] * 11


def test_a_copied_cookie_stops_working_after_sign_out(app, client):
    sign_in(client, add_user(app, admin=True))
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/").status_code == 200  # the copy works while the browser is signed in
    assert client.post("/logout").status_code == 302
    replayed = copy.get("/")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def test_a_sign_in_lasts_fourteen_days(app, client, clock):
    sign_in(client, add_user(app))
    clock.now += timedelta(days=13, hours=23)
    assert client.get("/").status_code == 200
    clock.now += timedelta(hours=2)
    assert client.get("/").status_code == 302


WEAK = "password1234"


def test_setup_refuses_a_common_password(client):
    response = client.post("/setup", data={**SETUP, "password": WEAK, "confirm": WEAK})
    assert response.status_code == 400
    assert "Choose a password that is harder to guess" in response.text
    assert "This is a very common password" in response.text
    assert 'href="#password"' in response.text


def test_setup_refuses_a_password_made_of_the_address(client):
    own = "admin@example.org"
    response = client.post("/setup", data={**SETUP, "password": own, "confirm": own})
    assert response.status_code == 400 and "harder to guess" in response.text


def test_admin_cannot_give_a_weak_password(app):
    admin = app.test_client()
    sign_in(admin, add_user(app, "admin@example.org", admin=True))
    data = {"name": "New", "email": "new@example.org", "password": WEAK}
    response = admin.post("/admin/users", data=data)
    assert response.status_code == 400 and "very common password" in response.text
    assert "new@example.org" not in admin.get("/admin/users").text.split("Add an account")[0]


def test_cli_refuses_a_weak_password(env, runner):
    from toolkit.cli import main

    result = runner.invoke(main, ["users", "add", "x@example.org", "--password", WEAK])
    assert result.exit_code == 1 and "very common password" in result.output


def _change(client, current: str, new: str, address: str = "10.0.0.66"):
    data = {"current": current, "password": new, "confirm": new}
    return client.post("/account/password", data=data, environ_base={"REMOTE_ADDR": address})


def test_changing_the_password_needs_the_current_one_and_signs_out_elsewhere(app, client, clock):
    email = add_user(app, admin=True)
    laptop = app.test_client()
    sign_in(laptop, email)
    sign_in(client, email)
    wrong = _change(client, "not my password", "a quiet walk by the river")
    assert wrong.status_code == 400 and "That is not your current password" in wrong.text
    assert 'href="#current"' in wrong.text
    weak = _change(client, PASSWORD, WEAK)
    assert weak.status_code == 400 and "very common password" in weak.text
    assert _change(client, PASSWORD, "a quiet walk by the river").status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert laptop.get("/").status_code == 302  # every other one is signed out
    assert _login(app.test_client(), email, "a quiet walk by the river").status_code == 302


def test_guessing_the_current_password_is_slowed_like_signing_in(app, client, clock):
    sign_in(client, add_user(app, admin=True))
    for _ in range(5):
        assert _change(client, "guess guess guess", "a quiet walk by the river").status_code == 400
    slowed = _change(client, PASSWORD, "a quiet walk by the river")
    assert slowed.status_code == 429 and "Wait 1 second" in slowed.text
