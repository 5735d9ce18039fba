"""Building a session: the summary at the top, one form for the agenda, block kinds in plain
words, case search that never stops silently, adding a case from its own page, suggestions that
suit the set, a move that says invites are out of date, and "Mark all present"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from toolkit.models import LearningSet, Meeting, SentInvite

from .conftest import add_user, sign_in
from .test_sets_web import days_ago, make_set, meetings, text


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


def session_url(db, n: int = 0) -> str:
    return f"/sets/set-a/sessions/{meetings(db)[n].key}"


def test_the_summary_and_contents_come_first(db, signed_in):
    make_set(signed_in)
    page = text(signed_in.get(session_url(db, 1)))
    summary = page[page.index('id="summary"') : page.index('id="agenda"')]
    for key in ["When", "Where", "Agenda", "Presenters", "Cases", "Invites"]:
        assert f'<dt class="nhsuk-summary-list__key">{key}</dt>' in summary, key
    assert "Fits the 195-minute slot" in summary and "None yet" in summary
    assert "Tom Reid" in summary  # session 2's proposed presenters
    assert "6 not sent yet" in summary
    assert 'href="#attendance"' in summary and 'href="#details"' in summary


def test_block_kinds_are_in_plain_words(db, signed_in):
    make_set(signed_in)
    page = text(signed_in.get(session_url(db, 1)))
    agenda = page[page.index('id="agenda-form"') : page.index("</form>", page.index("agenda-form"))]
    assert "Reviewing actions" in agenda and "Process review: how did we work?" in agenda
    assert "action-review" not in agenda.replace('value="action-review"', "")
    assert re.search(r'value="process-review"\s*>Process review: how did we work\?<', page)


def test_one_form_saves_the_whole_agenda_and_moves_a_block(db, signed_in):
    make_set(signed_in)
    url = session_url(db, 1)
    blocks = sorted(meetings(db)[1].blocks, key=lambda b: b.position)
    page = text(signed_in.get(url))
    assert page.count("Save agenda") == 1 and "Save block" not in page
    typed = {f"title-{b.id}": b.title for b in blocks} | {
        f"minutes-{b.id}": b.minutes for b in blocks
    }
    typed |= {f"title-{blocks[0].id}": "Arrival", f"minutes-{blocks[1].id}": "7"}
    saved = signed_in.post(url + "/agenda", data=typed | {"do": f"down:{blocks[0].id}"})
    assert saved.status_code == 302
    after = sorted(meetings(db)[1].blocks, key=lambda b: b.position)
    assert [b.title for b in after[:2]] == ["Ground rules", "Arrival"]  # saved, then moved
    assert after[0].minutes == 7
    refused = signed_in.post(url + "/agenda", data=typed | {f"minutes-{blocks[2].id}": "x"})
    assert refused.status_code == 400 and "minutes must be a whole number" in text(refused)
    assert 'value="Arrival"' in refused.text  # everything kept as typed
    assert meetings(db)[1].blocks[0].title == "Ground rules"  # and nothing half-saved


def test_case_search_shows_stage_and_setting_and_never_stops_silently(db, signed_in):
    make_set(signed_in)
    url = session_url(db)
    page = text(signed_in.get(url + "?q=the"))
    count = int(re.search(r"(\d+) cases match “the”, most relevant first", page).group(1))
    assert count > 10 and "showing the first 10" in page
    assert f"Show all {count} matching cases" in page and f"({count - 10} more)" in page
    assert page.count('name="do" value="attach"') >= 10
    everything = text(signed_in.get(url + "?q=the&all=1"))
    assert "showing the first" not in everything and "Show all" not in everything
    assert "Foundation" in everything and "primary care" in everything  # stages and settings


def test_a_case_page_adds_the_case_to_a_chosen_session(db, signed_in):
    make_set(signed_in)
    page = text(signed_in.get("/cases/the-stalled-sepsis-project"))
    assert "Add to a session" in page and "Set A" in page
    target = meetings(db)[2]
    assert f'value="set-a/{target.key}">Session 3: Action learning' in page
    done = signed_in.post(
        "/sets/add-case",
        data={"case": "the-stalled-sepsis-project", "session": f"set-a/{target.key}"},
    )
    assert done.headers["Location"].endswith(f"/sets/set-a/sessions/{target.key}#content")
    assert [c.case_id for c in meetings(db)[2].cases] == ["the-stalled-sepsis-project"]
    assert "Added to Session 3: Action learning." in text(signed_in.get(session_url(db, 2)))
    nothing = signed_in.post("/sets/add-case", data={"case": "the-stalled-sepsis-project"})
    assert "Choose a session to add the case to." in text(
        signed_in.get(nothing.headers["Location"])
    )


def test_someone_elses_session_is_not_offered_or_reachable(app, db, signed_in):
    make_set(signed_in)
    client = app.test_client()
    sign_in(client, add_user(app, "other@example.org"))
    assert "Set A" not in text(client.get("/cases/the-stalled-sepsis-project"))
    key = meetings(db)[0].key
    refused = client.post(
        "/sets/add-case", data={"case": "the-stalled-sepsis-project", "session": f"set-a/{key}"}
    )
    assert refused.status_code == 404


def test_a_gp_set_is_offered_primary_care_cases_first(app, db, signed_in):
    signed_in.post("/sets/new", data={"title": "Kent GP trainees", "slug": "gp"})
    for n, grade in enumerate(["GPST1", "GPST2", "GPST3", "GPST1"]):
        signed_in.post(
            "/sets/gp/members",
            data={
                "member-name": f"M {n}",
                "member-email": f"m{n}@example.nhs.uk",
                "member-grade": grade,
            },
        )
    signed_in.post(
        "/sets/gp/schedule",
        data={
            "series-first_date": "2027-02-11",
            "series-start_time": "14:00",
            "series-every_weeks": "6",
            "series-count": "2",
            "series-template": "case-discussion",
        },
    )
    key = meetings(db, "gp")[0].key
    page = text(signed_in.get(f"/sets/gp/sessions/{key}"))
    suggested = page[page.index("Suggested: cases for this set") :]
    first = re.search(r'href="/cases/([a-z0-9-]+)"', suggested).group(1)
    bank = app.extensions["toolkit"].bank
    assert "primary-care" in bank.cases[first].settings
    assert "intensive-care" not in bank.cases[first].settings


def test_after_a_move_the_session_page_says_invites_are_out_of_date(db, signed_in):
    make_set(signed_in)
    meeting = meetings(db)[1]
    for member in meeting.learning_set.members:  # as if the invites went out
        db.add(
            SentInvite(
                meeting_id=meeting.id,
                member_id=member.id,
                email=member.email,
                method="REQUEST",
                sequence=0,
                transport="smtp",
                delivered=True,
            )
        )
    db.commit()
    url = session_url(db, 1)
    assert "invites are out of date" not in text(signed_in.get(url))
    moved = signed_in.post(
        url + "/details",
        data={
            "details-title": meeting.title,
            "details-date": "2027-03-25",
            "details-start_time": "15:00",
            "details-minutes": "195",
            "details-version": str(meetings(db)[1].version),
        },
    )
    assert moved.status_code == 302
    page = text(signed_in.get(url))
    warning = page[page.index('id="invites-out-of-date"') :]
    assert "6 members hold an invite for this session that no longer matches it" in warning
    assert 'action="/sets/set-a/invites/send"' in warning
    assert "Send the updated invites" in warning
    assert "Out of date for 6 members" in page


def test_mark_all_present_keeps_apologies_then_the_exceptions_change(db, signed_in):
    make_set(signed_in, first=days_ago(3))
    url = session_url(db)
    members = meetings(db)[0].learning_set.members
    signed_in.post(url + "/attendance", data={f"member-{members[1].id}": "apologies"})
    page = text(signed_in.get(url))
    assert "Mark all present" in page
    marked = signed_in.post(url + "/attendance", data={"do": "all-present"})
    assert marked.status_code == 302
    status = {a.member_id: a.status for a in meetings(db)[0].attendance}
    assert status[members[1].id] == "apologies"
    assert [status[m.id] for m in members if m.id != members[1].id] == ["present"] * 5
    assert "5 present of 6" in text(signed_in.get(url))
    signed_in.post(url + "/attendance", data={f"member-{members[2].id}": "absent"})
    status = {a.member_id: a.status for a in meetings(db)[0].attendance}
    assert status[members[2].id] == "absent" and status[members[0].id] == "present"


def test_mark_all_present_waits_for_the_start(db, signed_in):
    make_set(signed_in)
    refused = signed_in.post(session_url(db) + "/attendance", data={"do": "all-present"})
    assert refused.status_code == 400
    assert db.scalars(select(Meeting)).first().attendance == []
    assert db.scalar(select(LearningSet)).slug == "set-a"


def suggested_ids(page: str) -> list[str]:
    part = page[page.index("Suggested: cases for this set") :]
    part = part[: part.index("</ul>")] if "</ul>" in part else part
    return re.findall(r'href="/cases/([a-z0-9-]+)"', part)


def test_suggestions_follow_each_change_though_the_page_remembers_them(db, signed_in):
    """The suggestions are remembered between page views: a case attached to another session
    must still change them at once."""
    make_set(signed_in)
    url, other = session_url(db, 0), session_url(db, 1)
    before = suggested_ids(text(signed_in.get(url)))
    assert before and suggested_ids(text(signed_in.get(url))) == before
    attached = signed_in.post(other + "/attach", data={"case": before[0]})
    assert attached.status_code == 302
    after = suggested_ids(text(signed_in.get(url)))
    assert before[0] not in after  # used in the programme now


def test_a_set_in_a_programme_has_its_suggestions_remembered_between_views(app, db, signed_in):
    """The remembered suggestions are keyed by what they depend on, in plain values: a key
    holding the programme's database object would differ on every request and never be found."""
    from toolkit.programmes.records import create_programme

    make_set(signed_in)
    learning_set = db.scalar(select(LearningSet))
    learning_set.programme = create_programme(db, "kss-2027", "KSS Foundation 2027")
    db.commit()
    url = session_url(db, 0)
    first = suggested_ids(text(signed_in.get(url)))
    assert first and suggested_ids(text(signed_in.get(url))) == first
    assert len(app.extensions["toolkit"].once("suggested-cases", dict)) == 1
