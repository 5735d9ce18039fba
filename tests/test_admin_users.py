"""The Users page: an admin adds accounts, changes their name and role, and issues links to set
a password; nobody else reaches it, and the sign-in page never asks anyone to run a command."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from toolkit.models import PasswordReset, User
from toolkit.web import create_app

from .conftest import add_user, sign_in
from .smtp_server import SmtpServer

BASE = "https://sets.example.nhs.uk"


@pytest.fixture
def admin(app):
    client = app.test_client()
    sign_in(client, add_user(app, "admin@example.org", admin=True))
    return client


def account(app, email: str) -> User | None:
    with app.extensions["toolkit"].sessions() as db:
        return db.scalar(select(User).where(User.email == email))


def links_issued(app, email: str) -> int:
    with app.extensions["toolkit"].sessions() as db:
        user = db.scalar(select(User).where(User.email == email))
        return len(db.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)).all())


def test_the_sign_in_page_asks_for_no_command(client, app):
    add_user(app, admin=True)
    page = client.get("/login").text
    assert "<code>" not in page and "toolkit users" not in page
    assert "Users page" in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/users"),
        ("post", "/admin/users"),
        ("get", "/admin/users/1"),
        ("post", "/admin/users/1"),
        ("post", "/admin/users/1/reset"),
    ],
)
def test_a_facilitator_cannot_reach_the_users_pages(app, signed_in, method, path):
    before = account(app, "fac@example.org")
    data = {"name": "Taken over", "admin": "y", "email": "x@example.org"}
    response = getattr(signed_in, method)(path, data=data)
    assert response.status_code == 404
    after = account(app, "fac@example.org")
    assert (after.name, after.is_admin) == (before.name, before.is_admin)
    assert account(app, "x@example.org") is None


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    add_user(app, admin=True)
    response = client.get("/admin/users/1")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_adding_an_account_without_a_password_shows_a_link_when_no_mail_server_is_set(app, admin):
    done = admin.post(
        "/admin/users",
        data={"name": "Dr New Facilitator", "email": "New@Example.org"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    user = account(app, "new@example.org")
    assert user.name == "Dr New Facilitator" and not user.is_admin and not user.password_hash
    assert "Account added for new@example.org" in done.text
    assert "No mail server is set up" in done.text
    link = re.search(r"http://\S+/login/reset/[\w-]+", done.text).group(0)
    path = "/login/reset/" + link.rsplit("/", 1)[1]
    assert app.test_client().get(path).status_code == 200  # a working link to pass on
    assert links_issued(app, "new@example.org") == 1


def test_an_account_can_be_added_as_an_admin(app, admin):
    admin.post("/admin/users", data={"name": "Dr Second", "email": "two@example.org", "admin": "y"})
    assert account(app, "two@example.org").is_admin


def test_an_admin_changes_a_name_and_the_role(app, admin):
    add_user(app, "fac@example.org")
    user_id = account(app, "fac@example.org").id
    page = admin.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and 'value="Dr Facilitator"' in page.text
    users = admin.get("/admin/users").text
    assert f'href="/admin/users/{user_id}"' in users

    done = admin.post(f"/admin/users/{user_id}", data={"name": "Dr Renamed", "admin": "y"})
    assert done.status_code == 302
    changed = account(app, "fac@example.org")
    assert (changed.name, changed.is_admin) == ("Dr Renamed", True)

    admin.post(f"/admin/users/{user_id}", data={"name": "Dr Renamed"})  # unticked: not admin
    assert not account(app, "fac@example.org").is_admin


def test_a_name_is_required_and_kept_within_its_limit(app, admin):
    user_id = account(app, "admin@example.org").id
    empty = admin.post(f"/admin/users/{user_id}", data={"name": "", "admin": "y"})
    assert empty.status_code == 400 and "Enter their name" in empty.text
    long = admin.post(f"/admin/users/{user_id}", data={"name": "x" * 500, "admin": "y"})
    assert long.status_code == 400
    assert account(app, "admin@example.org").name == "Dr Facilitator"


def test_an_admin_cannot_remove_their_own_admin_rights(app, admin):
    user_id = account(app, "admin@example.org").id
    refused = admin.post(f"/admin/users/{user_id}", data={"name": "Dr Me"})
    assert refused.status_code == 400
    assert "You cannot remove your own admin rights" in refused.text
    assert account(app, "admin@example.org").is_admin


def test_an_unknown_account_is_not_found(admin):
    assert admin.get("/admin/users/999").status_code == 404
    assert admin.post("/admin/users/999/reset").status_code == 404


def test_a_reset_link_from_the_edit_page_is_e_mailed_when_a_mail_server_is_set(env, monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setenv("TOOLKIT_SMTP_URL", server.url)
        monkeypatch.setenv("TOOLKIT_BASE_URL", BASE)
        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        client = app.test_client()
        sign_in(client, add_user(app, "admin@example.org", admin=True))
        add_user(app, "fac@example.org")
        user_id = account(app, "fac@example.org").id
        page = client.get(f"/admin/users/{user_id}").text
        assert f'action="/admin/users/{user_id}/reset"' in page
        sent = client.post(f"/admin/users/{user_id}/reset", follow_redirects=True)
        assert "Sent fac@example.org a link to set a new password" in sent.text
        assert "/login/reset/" not in sent.text  # the link goes only to them
        [message] = server.recorder.messages
        assert message["To"].addresses[0].addr_spec == "fac@example.org"
