"""The set's self-assessment totals stay anonymous: attacks by comparing totals, by members made
up at addresses the facilitator controls, and by someone else holding a member's link."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from toolkit import self_assessment as service
from toolkit.clock_changes import long_day
from toolkit.frameworks import load_frameworks
from toolkit.models import AssessmentPhase, LearningSet

from .test_sets_web import days_ago, make_set, meetings

DIMS = [a.id for a in load_frameworks().hlm.areas]
URL = "/sets/set-a/self-assessment"
TABLE = "how many chose each level"


def london_today() -> date:
    """Today in the set's time zone, where closing dates are days."""
    return datetime.now(ZoneInfo("Europe/London")).date()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def rate(client, token: str, phase: str, levels: list[int]):
    """Answer every dimension of a phase through the member's private link."""
    data = {d: str(level) for d, level in zip(DIMS, levels, strict=True)} | {"phase": phase}
    response = client.post(f"/self-assessment/{token}", data=data)
    assert response.status_code == 302, response.text
    return response


def tokens(app) -> dict[str, str]:
    """Every member's private link token, by e-mail address."""
    with app.extensions["toolkit"].sessions() as db:
        found = db.scalar(select(LearningSet).where(LearningSet.slug == "set-a"))
        made = {m.email: service.ensure_token(m) for m in found.members}
        db.commit()
        return made


def mark_present(client, db, emails: list[str], session: int = 0) -> None:
    """Record attendance at a session that has been held: these members present."""
    meeting = meetings(db)[session]
    statuses = {
        f"member-{m.id}": "present" if m.email in emails else "absent"
        for m in meeting.learning_set.members
    }
    url = f"/sets/set-a/sessions/{meeting.key}/attendance"
    assert client.post(url, data=statuses).status_code == 302


def letter_to(app, address: str) -> str:
    """The plain text of the self-assessment e-mail written to the outbox for `address`."""
    for path in app.extensions["toolkit"].settings.outbox_dir.glob("self-assessment-*.eml"):
        letter = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if letter["To"].addresses[0].addr_spec == address:
            return letter.get_body(("plain",)).get_content()
    raise AssertionError(f"no letter to {address}")


def link_sent_to(app, address: str) -> str:
    """The private link token in the e-mail to `address`, as whoever reads that inbox sees it."""
    return re.search(r"/self-assessment/([\w-]+)", letter_to(app, address)).group(1)


def close_on(client, phase: str, day: date):
    return client.post(f"{URL}/closes", data={"phase": phase, f"{phase}-closes_on": str(day)})


def totals_table(page: str) -> str:
    """The page's totals tables, or '' when none is shown."""
    return "".join(re.findall(r"<table.*?</table>", page, re.S))


def clock_moves_to(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """From now on the self-assessment's clock reads `when` (the closing date has passed)."""
    monkeypatch.setattr(service, "utcnow", lambda: when)


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def held(app, db, signed_in):
    """Six members; sessions 1 and 2 have been held, five members came to session 1 (not the
    sixth); every member has a private link. Returns the facilitator's client and the links."""
    make_set(signed_in, first=days_ago(70))
    links = tokens(app)
    emails = list(links)
    mark_present(signed_in, db, emails[:5])
    return signed_in, [links[e] for e in emails]


def test_totals_before_and_after_a_fifth_answer_give_nothing_to_compare(app, db, held, monkeypatch):
    facilitator, links = held
    member = app.test_client()
    for n, token in enumerate(links[:4]):
        rate(member, token, "start", [(n + i) % 4 + 1 for i in range(9)])
    before = text(facilitator.get(URL))
    rate(member, links[4], "start", [4] * 9)  # the fifth member: all "exemplary"
    after = text(facilitator.get(URL))
    assert totals_table(before) == totals_table(after) == ""  # never running totals
    assert "4 of 6 members have answered so far. No totals are shown" in before
    assert "5 of 6 members have answered so far" in after
    assert close_on(facilitator, "start", london_today() + timedelta(days=7)).status_code == 302
    assert totals_table(text(facilitator.get(URL))) == ""
    # the closing date passes: the totals are worked out once, from the five who came
    clock_moves_to(monkeypatch, datetime.now(UTC) + timedelta(days=8))
    published = text(facilitator.get(URL))
    assert "5 members who came to a session answered: how many chose each level" in published
    closed_on = long_day(london_today() + timedelta(days=7))
    assert f"Answers closed at the end of {closed_on}. These totals are fixed" in published
    first_row = re.search(r"Inspiring shared purpose</th>(.*?)</tr>", published, re.S).group(1)
    assert re.findall(r">(\d+)</td>", first_row) == ["1", "1", "1", "2"]  # 1,2,3,4 and the 4
    # later answers, deletions and attendance changes never change what was published
    rate(member, links[5], "start", [1] * 9)
    rate(member, links[1], "start", [1] * 9)
    assert member.post(f"/self-assessment/{links[0]}/delete").status_code == 302
    mark_present(facilitator, db, list(tokens(app))[1:], session=1)
    again = text(facilitator.get(URL))
    assert totals_table(again) == totals_table(published)
    frozen = db.scalars(select(AssessmentPhase).where(AssessmentPhase.phase == "start")).one()
    assert frozen.counted == 5 and frozen.closed_at is not None


def test_members_the_facilitator_makes_up_do_not_reach_the_threshold(app, db, held, monkeypatch):
    facilitator, links = held
    member = app.test_client()
    for token in links[:2]:  # two real members who came to session 1 answer
        rate(member, token, "start", [2] * 9)
    for n in range(4):  # four more at addresses the facilitator reads
        added = facilitator.post(
            "/sets/set-a/members",
            data={"member-name": f"Puppet {n}", "member-email": f"p{n}@evil.example"},
        )
        assert added.status_code == 302
    assert facilitator.post(f"{URL}/send").status_code == 302
    app.extensions["toolkit"].queue.burst()
    for n in range(4):
        rate(member, link_sent_to(app, f"p{n}@evil.example"), "start", [4] * 9)
    open_page = text(facilitator.get(URL))
    assert "6 of 10 members have answered so far" in open_page and totals_table(open_page) == ""
    assert close_on(facilitator, "start", london_today()).status_code == 302
    clock_moves_to(monkeypatch, datetime.now(UTC) + timedelta(days=2))
    closed = text(facilitator.get(URL))
    assert totals_table(closed) == ""
    assert "Fewer than 4 members who came to a session had answered (2)" in closed


def test_the_last_member_to_answer_closes_the_phase_and_fixes_its_totals(app, db, held):
    facilitator, links = held
    mark_present(facilitator, db, list(tokens(app)), session=1)  # now all six have come
    member = app.test_client()
    for n, token in enumerate(links):
        assert totals_table(text(facilitator.get(URL))) == ""
        rate(member, token, "end", [n % 4 + 1] * 9)
    shown = text(facilitator.get(URL))
    assert "6 members who came to a session answered" in shown
    assert "once every member had come to a session and answered" in shown
    assert member.post(f"/self-assessment/{links[0]}/delete").status_code == 302
    assert totals_table(text(facilitator.get(URL))) == totals_table(shown)
    refused = close_on(facilitator, "end", london_today() + timedelta(days=3))
    assert refused.status_code == 400
    assert "Answers for this point have closed and their totals are fixed" in text(refused)


def test_the_closing_date_cannot_be_in_the_past_and_the_page_explains(app, held):
    facilitator, _links = held
    page = text(facilitator.get(URL))
    assert "How the totals stay anonymous" in page
    assert "Only members marked present at a session count" in page
    assert "Answers given or deleted later never change them" in page
    refused = close_on(facilitator, "end", london_today() - timedelta(days=1))
    assert refused.status_code == 400
    assert "Choose today or a later date" in text(refused)
    assert 'href="#end-closes_on"' in refused.text
    set_ = close_on(facilitator, "end", date(2040, 3, 1))
    assert set_.status_code == 302
    assert "Answers close at the end of Thursday 1 March 2040 (Europe/London)" in text(
        facilitator.get(URL)
    )


def test_replacing_the_private_link_makes_the_old_one_404(app, held):
    _facilitator, links = held
    member = app.test_client()
    old = links[0]
    rate(member, old, "start", [3] * 9)
    asked = member.get(f"/self-assessment/{old}/new-link")
    assert asked.status_code == 200 and "this one will stop working" in text(asked)
    assert member.get(f"/self-assessment/{old}").status_code == 200  # asking changed nothing
    replaced = member.post(f"/self-assessment/{old}/new-link")
    assert replaced.status_code == 302
    new = replaced.location.rsplit("/", 1)[-1]
    assert new != old and len(new) >= 32
    page = text(member.get(f"/self-assessment/{new}"))
    assert "This is your new private link" in page and "Your picture so far" in page
    for response in (
        member.get(f"/self-assessment/{old}"),
        member.post(f"/self-assessment/{old}", data={"phase": "start"}),
        member.post(f"/self-assessment/{old}/delete"),
        member.get(f"/self-assessment/{old}/new-link"),
    ):
        assert response.status_code == 404


def test_the_invitation_says_when_totals_appear(app, held):
    facilitator, _links = held
    assert facilitator.post(f"{URL}/send").status_code == 302
    app.extensions["toolkit"].queue.burst()
    body = " ".join(letter_to(app, "zoe@example.nhs.uk").split())
    assert "once at least four members have answered" not in body
    assert "only after answers close" in body and "members who have come to a session" in body
    assert "replace it: the old link then stops working" in body
