"""Access control on every route, CSRF, no state change on GET, sign-in limits, cookies."""

from __future__ import annotations

import html
import html.parser
import re

import pytest
from sqlalchemy import func, select

from toolkit import models, sets
from toolkit.jobs import bundles
from toolkit.web import create_app

from .conftest import PASSWORD, add_user, sign_in
from .test_sets_web import days_ago, make_set, meetings


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def owned(app, db, signed_in):
    """A set owned by fac@example.org with sessions, attendance and an action."""
    make_set(signed_in, first=days_ago(70))  # sessions 1 and 2 have been held; 3 to 6 are to come
    first = meetings(db)[0]
    member = first.learning_set.members[0]
    signed_in.post(
        f"/sets/set-a/sessions/{first.key}/attendance", data={f"member-{member.id}": "present"}
    )
    signed_in.post(
        f"/sets/set-a/sessions/{first.key}/actions",
        data={"action-member": str(member.id), "action-text": "Private action"},
    )
    db.expire_all()
    return first


def _urls(app, first) -> list[tuple[str, set[str]]]:
    """Every route of the sets and admin blueprints, with real ids filled in."""
    action = first.learning_set and app.extensions["toolkit"].sessions().scalar(
        select(models.Action)
    )
    values = {
        "slug": "set-a",
        "key": first.key,
        "member_id": first.learning_set.members[0].id,
        "block_id": first.blocks[0].id,
        "action_id": action.id,
        "stem": "handout",
        "ext": "pdf",
        "user_id": first.learning_set.facilitators[0].id,
        "batch": "a-send-that-never-was",
        "kind": "reminder",
        "bundle_id": bundles.new_bundle(
            app.extensions["toolkit"].settings.data_dir, [first.learning_set]
        ),
    }
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("sets.", "admin.")) or rule.endpoint == "sets.index":
            continue
        if rule.endpoint in ("sets.new", "sets.import_file", "sets.add_case"):
            continue  # not about an existing set (add_case names its session in the form)
        url = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        found.append((url, set(rule.methods) - {"HEAD", "OPTIONS"}))
    return found


def test_another_facilitator_gets_nothing_from_any_route(app, owned):
    urls = _urls(app, owned)
    assert len(urls) > 25
    other = app.test_client()
    sign_in(other, add_user(app, "other@example.org"))
    for url, methods in urls:
        for method in methods:
            response = other.open(url, method=method, data={"status": "cancelled"})
            assert response.status_code == 404, (method, url, response.status_code)
    session = {"session": f"set-a/{owned.key}", "case": "the-stalled-sepsis-project"}
    assert other.post("/sets/add-case", data=session).status_code == 404
    admin = app.test_client()
    sign_in(admin, add_user(app, "admin@example.org", admin=True))
    for url, methods in urls:
        if "GET" in methods:
            # a bundle's zip exists once it is printed (test_jobs downloads one); until then, 404
            allowed = (200, 302, 404) if "/bundles/" in url and url.endswith(".zip") else (200, 302)
            assert admin.get(url).status_code in allowed, url


def test_admin_pages_are_for_admins_only(app, signed_in):
    assert signed_in.get("/admin/users").status_code == 404
    admin = app.test_client()
    sign_in(admin, add_user(app, "admin@example.org", admin=True))
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "fac@example.org" in page.text
    added = admin.post(
        "/admin/users",
        data={"name": "New", "email": "new@example.nhs.uk", "password": PASSWORD},
    )
    assert added.status_code == 302


def _snapshot(db) -> tuple:
    counts = tuple(
        db.scalar(select(func.count()).select_from(table))
        for table in models.Base.metadata.sorted_tables
    )
    versions = tuple(db.scalars(select(models.Meeting.version)).all())
    return counts, versions


def test_get_never_changes_state(app, db, owned, signed_in):
    before = _snapshot(db)
    for url, methods in _urls(app, owned):
        if "GET" in methods:
            signed_in.get(url)
    db.expire_all()
    assert _snapshot(db) == before


def test_every_post_needs_a_csrf_token(env, app, owned):
    protected = create_app({"TESTING": True})
    client = protected.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"email": "fac@example.org", "password": PASSWORD, "csrf_token": token}
    )
    posts = [url for url, methods in _urls(app, owned) if "POST" in methods]
    posts += ["/sets/new", "/sets/import", "/logout", "/account", "/resources/"]
    for url in posts:
        assert client.post(url, data={"status": "cancelled"}).status_code == 400, url


def test_sign_in_is_rate_limited_per_account_and_per_address(app, client):
    email = add_user(app)
    for _ in range(5):
        assert (
            client.post("/login", data={"email": email, "password": "wrong password!!"}).status_code
            == 200
        )
    blocked = client.post("/login", data={"email": email, "password": PASSWORD})
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    other = add_user(app, "other@example.org")
    elsewhere = app.test_client()
    assert (
        elsewhere.post(
            "/login",
            data={"email": other, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        ).status_code
        == 302
    )
    spray = app.test_client()
    for n in range(20):
        spray.post(
            "/login",
            data={"email": f"nobody{n}@example.org", "password": "x" * 12},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
    refused = spray.post(
        "/login",
        data={"email": other, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert refused.status_code == 429


def test_sign_out_everywhere_ends_other_sessions(app):
    email = add_user(app)
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, email)
    sign_in(laptop, email)
    assert laptop.get("/").status_code == 200
    assert phone.post("/account").status_code == 302
    assert laptop.get("/").status_code == 302  # back to sign-in
    sign_in(laptop, email)
    assert laptop.get("/").status_code == 200


def test_session_cookie_flags(env, monkeypatch):
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    add_user(app)
    cookie = app.test_client().post(
        "/login", data={"email": "fac@example.org", "password": PASSWORD}
    )
    header = cookie.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    monkeypatch.setenv("TOOLKIT_BASE_URL", "https://learning-sets.example.nhs.uk")
    secure = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    response = secure.test_client().post(
        "/login", data={"email": "fac@example.org", "password": PASSWORD}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_two_tabs_cannot_silently_overwrite_each_other(app, db, owned, signed_in):
    url = f"/sets/set-a/sessions/{owned.key}/details"
    version = str(owned.version)
    base = {
        "details-date": sets.local(owned).date().isoformat(),
        "details-start_time": "14:00",
        "details-minutes": "195",
        "details-venue": "Room 2",
    }
    first = signed_in.post(
        url, data=base | {"details-version": version, "details-title": "Tab one"}
    )
    assert first.status_code == 302
    second = signed_in.post(
        url, data=base | {"details-version": version, "details-title": "Tab two"}
    )
    assert second.status_code == 409
    page = html.unescape(second.text)
    assert "Someone else changed this session after you opened the page" in page
    assert 'value="Tab two"' in page  # what they typed is kept
    db.expire_all()
    assert meetings(db)[0].title == "Tab one"
    edit = signed_in.get("/sets/set-a/edit").text
    set_version = re.search(r'name="version" type="hidden" value="(\d+)"', edit).group(1)
    ok = signed_in.post(
        "/sets/set-a/edit",
        data={"title": "New title", "time_zone": "Europe/London", "version": set_version},
    )
    assert ok.status_code == 302
    stale = signed_in.post(
        "/sets/set-a/edit",
        data={"title": "Stale title", "time_zone": "Europe/London", "version": set_version},
    )
    assert stale.status_code == 409 and "Stale title" in stale.text


def test_deleting_a_member_removes_their_data_everywhere(app, db, owned, signed_in, env):
    member = owned.learning_set.members[0]
    member_id, email = member.id, member.email
    signed_in.post("/sets/set-a/invites/send").get_data()  # the page streams while sending
    db.expire_all()
    assert db.scalar(select(func.count()).where(models.SentInvite.email == email)) > 0
    confirm = signed_in.get(f"/sets/set-a/members/{member_id}/delete")
    assert "cannot be undone" in confirm.text
    done = signed_in.post(f"/sets/set-a/members/{member_id}/delete")
    assert done.status_code == 302
    db.expire_all()
    assert db.get(models.Member, member_id) is None
    assert db.scalar(select(func.count()).where(models.SentInvite.email == email)) == 0
    assert db.scalars(select(models.Action)).one().member_id is None
    assert meetings(db)[0].anonymous_present == 1
    assert email not in signed_in.get("/sets/set-a/invites").text


def test_deleting_a_set_removes_everything(app, db, owned, signed_in):
    signed_in.post("/sets/set-a/invites/send").get_data()  # the page streams while sending
    assert "cannot be undone" in signed_in.get("/sets/set-a/delete").text
    assert signed_in.post("/sets/set-a/delete").status_code == 302
    db.expire_all()
    for model in (models.LearningSet, models.Member, models.Meeting, models.SentInvite):
        assert db.scalar(select(func.count()).select_from(model)) == 0, model
    assert db.scalar(select(func.count()).select_from(models.Action)) == 0


def test_script_in_names_is_text_everywhere(app, db, signed_in):
    make_set(signed_in, first="2037-02-12")
    nasty = "<script>alert(1)</script> O'Brien"
    signed_in.post(
        "/sets/set-a/members",
        data={"member-name": nasty, "member-email": "nasty@example.nhs.uk", "member-grade": "FY1"},
    )
    page = signed_in.get("/sets/set-a").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page
    first = meetings(db)[0]
    preview = signed_in.get(f"/sets/set-a/sessions/{first.key}/print/sign-in.html").text
    assert "<script>alert" not in preview
    import io

    from pypdf import PdfReader

    pdf = signed_in.get(f"/sets/set-a/sessions/{first.key}/print/sign-in.pdf").data
    assert "<script>alert(1)</script>" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_bad_email_addresses_are_refused(app, signed_in):
    make_set(signed_in, first="2037-02-12")
    for bad in ("not-an-email", "a@b", "x@@example.org", "eve@example.org\r\nBcc: x@evil.example"):
        response = signed_in.post(
            "/sets/set-a/members", data={"member-name": "X", "member-email": bad}
        )
        assert response.status_code == 400, bad
        assert "Enter an e-mail address like name@example.nhs.uk" in html.unescape(response.text)


def test_behind_a_proxy_the_real_address_is_limited(env, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROXIES", "1")
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    email = add_user(app)
    client = app.test_client()
    for n in range(20):
        client.post(
            "/login",
            data={"email": f"x{n}@example.org", "password": "wrong password!"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
    blocked = client.post(
        "/login",
        data={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert blocked.status_code == 429
    other = client.post(
        "/login",
        data={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.8"},
    )
    assert other.status_code == 302


def _programme_with_lead(app, db, owned, email: str) -> None:
    """Set A joins a programme that `email` leads (and a second programme has another lead)."""
    from toolkit.programmes.records import change_programme, create_programme

    lead = db.get(models.User, db.scalar(select(models.User.id).where(models.User.email == email)))
    kss = create_programme(db, "kss", "KSS")
    change_programme(db, kss, kss.version, "KSS", "", [lead])
    other = create_programme(db, "other", "Other")
    stranger = db.scalar(select(models.User).where(models.User.email == "stranger@example.org"))
    change_programme(db, other, other.version, "Other", "", [stranger])
    owned.learning_set.programme = db.get(models.Programme, "kss")
    db.commit()


# pages that are forms to change something: a lead who only reads is refused them outright
CHANGE_FORMS = ("/edit", "/delete")


def test_a_programme_lead_reads_every_set_route_and_changes_nothing(app, db, owned):
    urls = _urls(app, owned)
    lead, stranger = app.test_client(), app.test_client()
    sign_in(lead, add_user(app, "lead@example.org"))
    sign_in(stranger, add_user(app, "stranger@example.org"))
    _programme_with_lead(app, db, owned, "lead@example.org")
    before = _snapshot(db)
    for url, methods in urls:
        for method in methods:
            response = lead.open(url, method=method, data={"status": "cancelled"})
            if url.startswith("/admin/"):
                expected = (404,)
            elif url.endswith("/bundle"):
                expected = (302,)  # printing changes nothing: a lead may print
            elif method != "GET" or url.endswith(CHANGE_FORMS):
                expected = (403,)
            elif "/bundles/" in url and url.endswith(".zip"):
                expected = (200, 404)  # the zip exists once printed
            else:
                expected = (200, 302)
            assert response.status_code in expected, (method, url, response.status_code)
            # the lead of another programme sees nothing of this one
            other = stranger.open(url, method=method, data={"status": "cancelled"})
            assert other.status_code == 404, (method, url, other.status_code)
    db.expire_all()
    assert _snapshot(db) == before
    assert "Set A" in lead.get("/sets/").text and "Set A" not in stranger.get("/sets/").text


class _Controls(html.parser.HTMLParser):
    """The POST forms of a page and whether each sits in a disabled fieldset."""

    def __init__(self) -> None:
        super().__init__()
        self.fieldsets: list[bool] = []
        self.live: list[str] = []  # actions of POST forms a user could submit

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "fieldset":
            self.fieldsets.append("disabled" in found)
        if tag == "form" and found.get("method") == "post" and not any(self.fieldsets):
            self.live.append(found.get("action", ""))

    def handle_endtag(self, tag):
        if tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()


def _live_forms(page: str) -> list[str]:
    """POST forms a user could submit, but signing out and printing (a lead may do both)."""
    parser = _Controls()
    parser.feed(page)
    return [a for a in parser.live if a != "/logout" and not a.endswith("/bundle")]


def test_a_programme_lead_is_offered_no_control_that_would_be_refused(app, db, owned, signed_in):
    """A lead reads the set and session pages without buttons that only answer 403; the
    facilitator, on the same pages, has them all."""
    lead, facilitator = app.test_client(), signed_in
    sign_in(lead, add_user(app, "lead@example.org"))
    add_user(app, "stranger@example.org")
    set_url, session_url = "/sets/set-a", f"/sets/set-a/sessions/{owned.key}"
    _programme_with_lead(app, db, owned, "lead@example.org")
    for url in (set_url, session_url):
        led = lead.get(url)
        assert led.status_code == 200 and 'id="read-only"' in led.text, url
        assert _live_forms(led.text) == [], url
        assert len(_live_forms(facilitator.get(url).text)) >= 2, url
