import re

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
