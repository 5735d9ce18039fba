"""Two tabs: every edit carries the version of the set or session it changes, so a save from a
tab opened before another tab's save is refused (409), keeps what was typed, and changes nothing."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from toolkit import models

from .test_bad_input import page_forms
from .test_sets_web import days_ago, make_set, meetings

CONFLICT = "Someone else changed this {} after you opened the page"


@dataclass(frozen=True)
class Case:
    """One kind of edit: the page tab B opens, the form it posts, what it types, what must show."""

    page: str
    action: str
    typed: dict[str, str]
    shown: tuple[str, ...]
    unchanged: Callable[[object], object]  # read from the database; the same before and after
    level: str = "session"


def _blocks(db) -> list[tuple[str, int]]:
    return [(b.title, b.minutes) for b in _first(db).blocks]


def _first(db) -> models.Meeting:
    return meetings(db)[0]


def _future(db) -> models.Meeting:
    return meetings(db)[-1]


def _cases(ids: dict) -> dict[str, Case]:
    s, p1 = "/sets/set-a", f"/sets/set-a/sessions/{ids['past']}"
    p9 = f"/sets/set-a/sessions/{ids['future']}"
    block, member, action = ids["block"], ids["member"], ids["action"]
    rounds = ids["rounds"]
    return {
        "ground rules": Case(
            s,
            s + "/ground-rules",
            {"ground_rules": "Typed in tab B"},
            (">Typed in tab B</textarea>",),
            lambda db: db.scalar(select(models.LearningSet)).ground_rules,
            "set",
        ),
        "add member": Case(
            s,
            s + "/members",
            {"member-name": "Bea Stale", "member-email": "bea@example.org"},
            ('value="Bea Stale"', 'value="bea@example.org"'),
            lambda db: sorted(m.email for m in db.scalars(select(models.Member))),
            "set",
        ),
        "remove member": Case(
            s,
            s + f"/members/{member}/remove",
            {},
            (),
            lambda db: [m.active for m in db.scalars(select(models.Member))],
            "set",
        ),
        "edit member": Case(
            s + f"/members/{member}/edit",
            s + f"/members/{member}/edit",
            {"name": "Renamed in tab B", "grade": "ST9"},
            ('value="Renamed in tab B"', 'value="ST9"'),
            lambda db: [(m.name, m.grade) for m in db.scalars(select(models.Member))],
            "set",
        ),
        "update action": Case(
            s + "/actions",
            s + f"/actions/{action}",
            {"status": "done", "outcome": "Outcome typed in tab B"},
            ('value="Outcome typed in tab B"', '<option value="done" selected>'),
            lambda db: [(a.status, a.outcome) for a in db.scalars(select(models.Action))],
            "set",
        ),
        "add block": Case(
            p1,
            p1 + "/blocks",
            {"block-title": "Block typed in B", "block-kind": "input", "block-minutes": "7"},
            ('value="Block typed in B"', 'value="7"'),
            _blocks,
        ),
        "rename block": Case(
            p1,
            p1 + "/agenda",
            {"do": "save", f"title-{block}": "Title typed in B", f"minutes-{block}": "11"},
            ('value="Title typed in B"', 'value="11"'),
            _blocks,
        ),
        "move block": Case(p1, p1 + "/agenda", {"do": f"down:{block}"}, (), _blocks),
        "remove block": Case(p1, p1 + "/agenda", {"do": f"remove:{block}"}, (), _blocks),
        "rebuild agenda": Case(
            p1,
            p1 + "/template",
            {"tpl-template": "case-discussion"},
            ('<option value="case-discussion" selected',),
            _blocks,
        ),
        "presenters": Case(
            p1,
            p1 + "/rota",
            {f"presenter-{rounds[0]}": str(ids["last_member"]), "do": "save"},
            (f'<option value="{ids["last_member"]}" selected>',),
            lambda db: [b.presenter_id for b in _first(db).blocks],
        ),
        "use the rota": Case(
            p1,
            p1 + "/rota",
            {"do": "propose"},
            (),
            lambda db: (_first(db).presenters_by_hand, [b.presenter_id for b in _first(db).blocks]),
        ),
        "attendance": Case(
            p1,
            p1 + "/attendance",
            {f"member-{member}": "absent"},
            (
                f'id="member-{member}-absent" name="member-{member}" type="radio" value="absent"'
                " checked",
            ),
            lambda db: [(a.member_id, a.status) for a in _first(db).attendance],
        ),
        "apologies": Case(
            p9,
            p9 + "/apologies",
            {"apologies": str(member)},
            (f'value="{member}" checked',),
            lambda db: [(a.member_id, a.status) for a in _future(db).attendance],
        ),
        "add action": Case(
            p1,
            p1 + "/actions",
            {"action-member": str(member), "action-text": "Action typed in B"},
            (">Action typed in B</textarea>",),
            lambda db: [a.text for a in db.scalars(select(models.Action))],
        ),
        "cancel": Case(
            p1,
            p1 + "/status",
            {"status": "cancelled"},
            (),
            lambda db: (_first(db).status, _first(db).sequence),
        ),
        "details": Case(
            p1,
            p1 + "/details",
            {"details-title": "Session title typed in B"},
            ('value="Session title typed in B"',),
            lambda db: (_first(db).title, _first(db).starts_at),
        ),
    }


@pytest.fixture
def ids(app, signed_in) -> dict:
    """A set whose first sessions have taken place and whose last is to come, with an action."""
    make_set(signed_in, first=days_ago(70))
    with app.extensions["toolkit"].sessions() as db:
        first, last = meetings(db)[0], meetings(db)[-1]
        members = first.learning_set.members
        signed_in.post(
            f"/sets/set-a/sessions/{first.key}/actions",
            data={"action-member": str(members[0].id), "action-text": "Shadow the bed manager"},
        )
        return {
            "past": first.key,
            "future": last.key,
            "block": first.blocks[0].id,
            "rounds": [b.id for b in first.blocks if b.kind == "presenter"],
            "member": members[0].id,
            "last_member": members[-1].id,
            "action": db.scalar(select(models.Action.id)),
        }


def _form(client, page: str, action: str) -> dict[str, str]:
    """The form posting to `action` on `page`, as the browser would send it."""
    found = [f for f in page_forms(client, page) if f["action"].split("#")[0] == action]
    assert found, f"no form for {action} on {page}"
    return dict(found[0]["fields"])


def _change_in_tab_a(client, level: str, key: str) -> None:
    """Another tab saves first: a change to a child row (a member, a block), which must count."""
    if level == "set":
        data = _form(client, "/sets/set-a", "/sets/set-a/members")
        data |= {"member-name": "Added in tab A", "member-email": "tab-a@example.org"}
        response = client.post("/sets/set-a/members", data=data)
    else:
        url = f"/sets/set-a/sessions/{key}"
        data = _form(client, url, url + "/blocks")
        data |= {"block-title": "Added in tab A", "block-kind": "input", "block-minutes": "5"}
        response = client.post(url + "/blocks", data=data)
    assert response.status_code == 302, response.text


@pytest.mark.parametrize(
    "kind",
    [
        "ground rules",
        "add member",
        "remove member",
        "edit member",
        "update action",
        "add block",
        "rename block",
        "move block",
        "remove block",
        "rebuild agenda",
        "presenters",
        "use the rota",
        "attendance",
        "apologies",
        "add action",
        "cancel",
        "details",
    ],
)
def test_a_stale_tab_is_refused_and_keeps_what_was_typed(app, signed_in, ids, kind):
    case = _cases(ids)[kind]
    stale = _form(signed_in, case.page, case.action)  # tab B opens the page
    assert any(name.endswith("version") and value for name, value in stale.items())
    _change_in_tab_a(signed_in, case.level, ids["future" if kind == "apologies" else "past"])
    with app.extensions["toolkit"].sessions() as db:
        before = case.unchanged(db)
    response = signed_in.post(case.action, data=stale | case.typed)
    assert response.status_code == 409, kind
    page = html.unescape(response.text)
    assert CONFLICT.format(case.level) in page
    for text in case.shown:
        assert text in page, (kind, text)
    with app.extensions["toolkit"].sessions() as db:
        assert case.unchanged(db) == before
    # the page now carries the current version: saving again goes through
    again = _form_in(response.text, case.action)
    assert signed_in.post(case.action, data=again | case.typed).status_code == 302


def _form_in(text: str, action: str) -> dict[str, str]:
    from .test_bad_input import Forms

    parser = Forms()
    parser.feed(text)
    found = [
        f for f in parser.result() if html.unescape(f["action"] or action).split("#")[0] == action
    ]
    return dict(found[0]["fields"]) if found else {}


def test_an_edit_to_a_child_row_raises_its_parents_version(app, signed_in, ids):
    with app.extensions["toolkit"].sessions() as db:
        set_version = db.scalar(select(models.LearningSet.version))
        session_version = _first(db).version
    _change_in_tab_a(signed_in, "set", "")
    _change_in_tab_a(signed_in, "session", ids["past"])
    with app.extensions["toolkit"].sessions() as db:
        assert db.scalar(select(models.LearningSet.version)) == set_version + 1
        assert _first(db).version == session_version + 1
