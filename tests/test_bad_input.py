"""Bad input to every form gets a clear answer, never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import String, select

from toolkit import models, sets
from toolkit.programmes.records import change_programme, create_programme
from toolkit.self_assessment import ensure_token
from toolkit.text import one_line

from .conftest import add_user, sign_in
from .test_sets_web import make_set, meetings

LONG = "x" * 6000
NUL = "bad\x00value"
# posted last, in this order: they sign out, or delete what the other routes need
LAST = (
    "sets.delete_session",
    "sets.delete_member",
    "self_assessment.delete",
    "self_assessment.new_link",  # the old link stops working
    "sets.delete_set",
    "auth.account",
)
# routes for a session that has not started yet
FUTURE = {"sets.apologies", "members.reply", "members.prework"}
SKIP = {"auth.logout"}  # signing out takes no input


class Forms(HTMLParser):
    """The forms of a page as a browser would submit them: action, and (name, value) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self.loose: list[tuple[str, str, str]] = []  # fields with form="id"
        self.current: dict | None = None
        self.select: tuple[str, list[str]] | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.current = {"action": a.get("action", ""), "method": a.get("method", "get")}
            self.current["fields"], self.current["choices"] = [], {}
            self.forms.append(self.current)
            if a.get("id"):
                self.by_id[a["id"]] = self.current
        elif tag == "input" and a.get("name") and a.get("type") != "submit":
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                if self.current is not None:  # a group left unanswered: choose its first
                    self.current["choices"].setdefault(a["name"], a.get("value", ""))
                return
            self._add(a, a["name"], a.get("value", ""))
        elif tag == "button" and a.get("name") and self.current and not self._has(a["name"]):
            self._add(a, a["name"], a.get("value", ""))
        elif tag == "select":
            self.select = (a.get("name", ""), [])
        elif tag == "option" and self.select is not None:
            self.select[1].append(a.get("value", "") if "selected" in a else "\x01" + a["value"])
        elif tag == "textarea":
            self.textarea = a.get("name", "")
            self._add(a, self.textarea, "")

    def handle_data(self, data: str) -> None:
        if self.textarea is not None and self.current:
            name, _ = self.current["fields"][-1]
            self.current["fields"][-1] = (name, self.current["fields"][-1][1] + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.current is not None:
            for name, value in self.current.pop("choices").items():
                if not self._has(name):
                    self.current["fields"].append((name, value))
            self.current = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select" and self.select is not None:
            name, options = self.select
            chosen = [o for o in options if not o.startswith("\x01")]
            value = chosen[0] if chosen else (options[0].lstrip("\x01") if options else "")
            if self.current is not None:
                self.current["fields"].append((name, value))
            self.select = None

    def _has(self, name: str) -> bool:
        return any(n == name for n, _ in self.current["fields"])

    def _add(self, attrs: dict, name: str, value: str) -> None:
        if attrs.get("form"):
            self.loose.append((attrs["form"], name, value))
        elif self.current is not None:
            self.current["fields"].append((name, value))

    def result(self) -> list[dict]:
        for form_id, name, value in self.loose:
            if form_id in self.by_id:
                self.by_id[form_id]["fields"].append((name, value))
        return [f for f in self.forms if f["method"].lower() == "post"]


def page_forms(client, url: str) -> list[dict]:
    """The POST forms of a page, with the values it shows."""
    response = client.get(url)
    assert response.status_code == 200, url
    parser = Forms()
    parser.feed(response.text)
    forms = parser.result()
    for form in forms:
        form["action"] = html.unescape(form["action"]) or url
    return forms


@pytest.fixture
def world(app, signed_in):
    """A set with members, past and future sessions, an action, and a self-assessment link."""
    past = (datetime.now(UTC) - timedelta(days=70)).date().isoformat()
    make_set(signed_in, first=past)
    factory = app.extensions["toolkit"].sessions
    with factory() as db:
        first, future = meetings(db)[0], meetings(db)[-1]
        member = first.learning_set.members[0]
        sets.add_action(db, first, member.id, "An action to update")
        token = ensure_token(first.learning_set.members[1])
        # the facilitator also leads the set's programme, so its page's form is posted too
        programme = create_programme(db, "kss", "KSS")
        change_programme(
            db, programme, programme.version, "KSS", "", first.learning_set.facilitators
        )
        first.learning_set.programme = programme
        db.commit()
        return {
            "slug": "set-a",
            "key": first.key,
            "future": future.key,
            "member_id": member.id,
            "block_id": first.blocks[0].id,
            "action_id": db.scalars(select(models.Action.id)).first(),
            "token": token,
            "answer": "no",
            "user_id": first.learning_set.facilitators[0].id,
            "programme_id": "kss",
        }


def _pages(world: dict) -> list[str]:
    base = f"/sets/{world['slug']}"
    return [
        "/sets/new",
        "/sets/import",
        base,
        base + "/edit",
        base + f"/sessions/{world['key']}",
        base + f"/sessions/{world['future']}",
        base + f"/sessions/{world['key']}/delete",
        base + f"/members/{world['member_id']}/edit",
        base + "/actions",
        base + "/invites",
        base + "/self-assessment",
        base + f"/members/{world['member_id']}/delete",
        base + "/delete",
        "/resources/",
        "/account",
        f"/self-assessment/{world['token']}",
        f"/m/{world['token']}",
        f"/m/{world['token']}/reply/{world['future']}/no",
        f"/programmes/{world['programme_id']}",
    ]


def _post_routes(app, world: dict) -> dict[str, str]:
    """Every POST route of the app, by endpoint, with real ids filled in."""
    found = {}
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in SKIP:
            continue
        values = {k: world[k] for k in rule.arguments}
        if rule.endpoint in FUTURE:
            values["key"] = world["future"]
        found[rule.endpoint] = rule.build(values)[1]
    return found


FILL = {  # values for fields a page shows empty, so each form as shown would save
    "title": "A title",
    "name": "Ann Example",
    "grade": "FY1",
    "date": "2031-05-01",
    "first_date": "2031-05-01",
    "start_time": "10:00",
    "minutes": "30",
    "text": "Do a thing",
    "template": "action-learning-set",
    "url": "https://example.org/a",
    "description": "A line",
    "closes_on": "2031-05-01",
}
counter = iter(range(10**6))


def _filled(fields: list[tuple[str, str]]) -> dict[str, str]:
    """The form as shown, with empty fields given values that save."""
    out = {}
    for name, value in fields:
        short = name.split("-", 1)[-1]
        if short == "email":
            value = f"new{next(counter)}@example.org"
        elif short == "slug":
            value = f"set-z{next(counter)}"
        out[name] = value or FILL.get(short, "")
    return out


def _variants(fields: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    """The form as shown, then each field too long, with a NUL byte, or missing; then empty."""
    base = _filled(fields)
    out = [("as shown", base)]
    for name in base:
        if name == "csrf_token":
            continue
        out.append((f"{name} too long", base | {name: LONG}))
        out.append((f"{name} with NUL", base | {name: NUL}))
        out.append((f"{name} missing", {k: v for k, v in base.items() if k != name}))
    out.append(("nothing", {}))
    out.append(("NUL in the query", base | {"?": "a\x00b"}))
    return out


def _too_long_in_database(db) -> list[str]:
    """Values the database holds that break a column's limit or hold a NUL byte."""
    bad = []
    for table in models.Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String):
                continue
            for value in db.scalars(select(column)):
                limit = column.type.length
                if value and ((limit and len(value) > limit) or "\x00" in value):
                    bad.append(f"{table.name}.{column.name}: {len(value)} characters")
    return bad


def test_every_post_route_answers_bad_input_without_a_500(app, signed_in, world):
    routes = _post_routes(app, world)
    forms: dict[str, list[tuple[str, str]]] = {}
    for page in _pages(world):
        for form in page_forms(signed_in, page):
            forms.setdefault(form["action"].split("#")[0], form["fields"])
    order = sorted(routes, key=lambda e: (e in LAST, LAST.index(e) if e in LAST else 0, e))
    failures = []
    for endpoint in order:
        url = routes[endpoint]
        for label, data in _variants(forms.get(url, [])):
            target = url + ("?next=a%00b" if "?" in data else "")
            data = {k: v for k, v in data.items() if k != "?"}
            try:
                response = signed_in.post(target, data=data)
                response.get_data()  # a streamed page runs to its end
                response.close()
                status = response.status_code
            except Exception as exc:  # the test client re-raises what would be a 500
                status = f"500 ({type(exc).__name__}: {str(exc)[:120]})"
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{endpoint} {label}: {status}")
            if label.endswith("with NUL") or label.startswith("NUL"):
                if status not in (400, 404):
                    failures.append(f"{endpoint} {label}: {status}, not refused")
    assert not failures, "\n".join(failures)
    with app.extensions["toolkit"].sessions() as db:
        assert _too_long_in_database(db) == []


def test_public_forms_answer_bad_input_without_a_500(app, client):
    add_user(app, "admin@example.org", admin=True)
    for data in (
        {"email": "a" * 400 + "@example.org", "password": "x"},
        {"email": "fac@example.org\x00", "password": "x"},
        {"email": "fac@example.org", "password": LONG},
        {},
    ):
        response = client.post("/login", data=data)
        assert response.status_code == 400, data
        nul = any("\x00" in value for value in data.values())
        expected = "contains a NUL character" if nul else "There is a problem"
        assert expected in html.unescape(response.text)
    admin = app.test_client()
    sign_in(admin, "admin@example.org")
    for data in (
        {"name": LONG, "email": "new@example.org", "password": "p" * 20},
        {"name": "New", "email": "n" * 400 + "@example.org", "password": "p" * 20},
        {"name": "New", "email": "new@example.org", "password": LONG},
        {"name": "New\x00", "email": "new@example.org", "password": "p" * 20},
        {},
    ):
        assert admin.post("/admin/users", data=data).status_code == 400, data
    assert admin.get("/sets/a%00b").status_code == 400


@pytest.mark.parametrize("brk", ["\r", "\n", "\u2028", "\u2029", "\u0085", "\t", "\x0b"])
def test_one_line_values_lose_every_kind_of_line_break(brk):
    assert one_line(f" Session{brk}{brk}one ") == "Session one"


def test_titles_and_names_from_forms_are_one_line(app, signed_in):
    response = signed_in.post(
        "/sets/new",
        data={"title": "Set\u2028A\rnew", "slug": "set-b", "time_zone": "Europe/London"},
    )
    assert response.status_code == 302, response.text
    added = signed_in.post(
        "/sets/set-b/members",
        data={"member-name": "Zoë\u0085Marsh", "member-email": "z@example.org"},
    )
    assert added.status_code == 302
    with app.extensions["toolkit"].sessions() as db:
        learning_set = db.scalar(select(models.LearningSet))
        assert learning_set.title == "Set A new"
        assert learning_set.members[0].name == "Zoë Marsh"
