"""The main pages ask the database a fixed number of questions, however big the set: no page
loads a session's agenda, cases, attendance or invites one session (or member) at a time.

Each page is counted with a SQLAlchemy `before_cursor_execute` listener for a small set and a
set ten times its size (members, sessions, attendance, actions, cases, sent invites), and must
ask exactly as many questions for both, and no more than the number pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as clock

from sqlalchemy import event, select

from toolkit import db as database
from toolkit import sets
from toolkit.models import LearningSet, Member, SentInvite, User
from toolkit.planning import local_start
from toolkit.self_assessment import ensure_token

from .conftest import add_user, sign_in

# the most queries each page may ask (signing in counts: the sign-in row and the user)
PINNED = {"set": 14, "session": 22, "member": 18, "frameworks": 2, "cases": 2}


def build(app, slug: str, members: int, sessions: int) -> str:
    """A set with members, sessions (about half of them past, with attendance and actions), cases
    attached and an invite delivered per member and session; returns a member's private token."""
    kit = app.extensions["toolkit"]
    past = sessions // 2 + 1  # weekly, from this many weeks and three days ago
    first = datetime.now(UTC) - timedelta(weeks=past - 1, days=3)
    start = local_start(first.date(), clock(14), "Europe/London")
    with database.transaction(kit.sessions) as db:
        owner = db.scalar(select(User))
        s = sets.create_set(db, owner, slug, slug.title())
        for n in range(members):
            sets.add_member(db, s, f"Member {n}", f"{slug}-{n}@example.nhs.uk", "FY2")
        made = sets.add_series(db, s, start, 1, sessions, kit.templates["action-learning-set"])
        case_ids = list(kit.bank.cases)
        for n, meeting in enumerate(made):
            sets.attach(db, meeting, kit.bank, case_id=case_ids[n % len(case_ids)])
            for member in s.members:
                db.add(
                    SentInvite(
                        meeting_id=meeting.id,
                        member_id=member.id,
                        email=member.email,
                        kind="invite",
                        method="REQUEST",
                        sequence=meeting.sequence,
                        sent_at=first,
                        transport="outbox",
                        result="delivered",
                        delivered=True,
                        state="delivered",
                    )
                )
        for meeting in made[:past]:
            sets.record_attendance(db, meeting, {m.id: "present" for m in s.members})
            for member in s.members:
                sets.add_action(db, meeting, member.id, f"Try something, {member.name}")
        member = db.scalar(select(Member).join(LearningSet).where(LearningSet.slug == slug))
        return ensure_token(member)


def count_queries(app, client, url: str) -> int:
    """How many statements one GET of `url` sends to the database (after a first GET)."""
    assert client.get(url).status_code == 200, url
    statements: list[str] = []

    def listen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = app.extensions["toolkit"].engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert client.get(url).status_code == 200, url
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return len(statements)


def pages(slug: str, token: str) -> dict[str, str]:
    return {
        "set": f"/sets/{slug}",
        "session": f"/sets/{slug}/sessions/session-2",
        "member": f"/m/{token}",
        "frameworks": "/frameworks/",
        "cases": "/cases/?search=handover",
    }


def test_each_main_page_asks_as_many_queries_for_a_big_set_as_a_small_one(app, client):
    sign_in(client, add_user(app, admin=True))
    small = pages("small", build(app, "small", 3, 3))
    big = pages("big", build(app, "big", 30, 30))
    counted = {
        name: (count_queries(app, client, small[name]), count_queries(app, client, url))
        for name, url in big.items()
    }
    wrong = [
        f"{name} page: {few} queries for 3 sessions, {many} for 30 (pinned at {PINNED[name]})"
        for name, (few, many) in counted.items()
        if many != few or many > PINNED[name]
    ]
    assert not wrong, wrong
