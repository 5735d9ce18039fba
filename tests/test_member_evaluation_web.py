"""Evaluations and the portfolio record from the member's page, and what the facilitator sees:
answers once, only by members who came, anonymous until released; reflections private."""

from __future__ import annotations

import html
import io
import subprocess
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from toolkit import evaluations, sets
from toolkit.models import EvaluationAnswer, EvaluationAnswerer, Reflection

from .test_self_assessment import mark_present, tokens
from .test_sets_web import days_ago, make_set, meetings

ANSWERS = {
    **{q.id: "5" for q in evaluations.RATINGS},
    "take-away": "Asking before advising",
    "improve": "",
}
SECRET = "I froze when the consultant shouted and nobody noticed"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def held(app, db, signed_in):
    """Set A: session 1 held 50 days ago (its evaluation closed), everyone present but Priya
    (absent); session 2 held 8 days ago (open), Priya absent there too. Returns the
    facilitator's client and the tokens."""
    make_set(signed_in, first=days_ago(50))
    everyone = [m.email for m in meetings(db)[0].learning_set.members]
    came = [e for e in everyone if not e.startswith("priya")]
    mark_present(signed_in, db, came, session=0)
    mark_present(signed_in, db, came, session=1)
    return signed_in, tokens(app)


def test_a_double_submit_answers_once(app, db, held):
    _facilitator, links = held
    member = app.test_client()
    url = f"/m/{links['zoe@example.nhs.uk']}/evaluation/session-2"
    page = text(member.get(url))
    assert "Evaluation of session 2" in page and "It closes on" in page
    assert page.count('type="radio"') == 5 * len(evaluations.RATINGS)
    first = member.post(url, data=ANSWERS)
    second = member.post(url, data=ANSWERS)  # a double click, or the form again in another tab
    assert first.status_code == second.status_code == 303
    assert "already answered" in text(member.get(f"/m/{links['zoe@example.nhs.uk']}"))
    assert len(db.scalars(select(EvaluationAnswer)).all()) == 1
    assert len(db.scalars(select(EvaluationAnswerer)).all()) == 1
    assert "You have already answered" in text(member.get(url))  # no form any more


def test_a_member_marked_absent_cannot_answer(app, db, held):
    _facilitator, links = held
    member = app.test_client()
    token = links["priya@example.nhs.uk"]
    assert "Answer the evaluation" not in text(member.get(f"/m/{token}"))
    refused = member.post(f"/m/{token}/evaluation/session-2", data=ANSWERS)
    assert refused.status_code == 400 and "came to the session" in text(refused)
    assert db.scalars(select(EvaluationAnswerer)).all() == []


def test_another_sets_member_cannot_answer_for_this_set(app, db, signed_in, held):
    _facilitator, links = held
    make_set(signed_in, slug="set-b", first=days_ago(400))  # all of set B's sessions are past
    other = meetings(db, "set-b")[0].learning_set.members[0]
    from toolkit.self_assessment import ensure_token

    token = ensure_token(other)
    db.commit()
    member = app.test_client()
    ours = meetings(db)[1]
    assert member.get(f"/m/{token}/evaluation/{ours.key}x").status_code == 404
    member.post(f"/m/{token}/evaluation/{ours.key}", data=ANSWERS)  # their own session 2: closed
    assert evaluations.answered_count(db, ours.id) == 0
    assert db.scalars(select(EvaluationAnswerer)).all() == []


def _answer_directly(db, meeting, emails, now):
    people = {m.email: m for m in meeting.learning_set.members}
    for email in emails:
        evaluations.submit(db, meeting, people[email], dict(ANSWERS), now=now)
    db.commit()


def test_results_show_only_once_closed_with_four_answers(app, db, held):
    facilitator, links = held
    first, second = meetings(db)[:2]
    _answer_directly(
        db,
        first,
        ["zoe@example.nhs.uk", "lukasz@example.nhs.uk", "tom@example.nhs.uk"],
        sets.end_time(first) + timedelta(hours=2),
    )
    page = text(facilitator.get(f"/sets/set-a/sessions/{first.key}"))
    assert "3 of 5 members have answered; results appear when it closes with at least 4" in page
    assert "Asking before advising" not in page and "Strongly agree" not in page  # 3, closed
    member = app.test_client()
    for email in ("zoe", "lukasz", "siobhan", "amara"):
        token = links[f"{email}@example.nhs.uk"]
        assert member.post(f"/m/{token}/evaluation/{second.key}", data=ANSWERS).status_code == 303
    page = text(facilitator.get(f"/sets/set-a/sessions/{second.key}"))
    assert "4 of 5 members have answered; results appear" in page
    assert "Asking before advising" not in page and "Strongly agree" not in page  # 4, open
    assert "Close the evaluation now" in page
    assert facilitator.get(f"/sets/set-a/sessions/{second.key}/evaluation/close").status_code in (
        404,
        405,
    )  # never on GET
    closed = facilitator.post(f"/sets/set-a/sessions/{second.key}/evaluation/close")
    assert closed.status_code == 302
    page = text(facilitator.get(f"/sets/set-a/sessions/{second.key}"))
    assert "4 of 5 members have answered." in page and "It closed on" in page
    assert "Asking before advising" in page and "Strongly agree" in page  # 4, closed
    assert "Close the evaluation now" not in page
    late = member.post(f"/m/{links['tom@example.nhs.uk']}/evaluation/{second.key}", data=ANSWERS)
    assert late.status_code == 400 and "has closed" in text(late)


def test_bad_input_is_a_form_error_and_saves_nothing(app, db, held):
    _facilitator, links = held
    member = app.test_client()
    token = links["zoe@example.nhs.uk"]
    long = member.post(
        f"/m/{token}/evaluation/session-2", data={**ANSWERS, "improve": "x" * 10_000}
    )
    assert long.status_code == 400 and "the limit is 2000" in text(long)
    assert 'class="nhsuk-error-summary"' in text(long)
    unrated = member.post(f"/m/{token}/evaluation/session-2", data={"take-away": "hi"})
    assert unrated.status_code == 400 and "every statement" in text(unrated)
    nul = member.post(f"/m/{token}/evaluation/session-2", data={**ANSWERS, "improve": "a\x00b"})
    assert nul.status_code == 400 and "NUL" in text(nul)
    assert db.scalars(select(EvaluationAnswerer)).all() == []
    too_long = member.post(f"/m/{token}/reflection/session-1", data={"what": "y" * 10_000})
    assert too_long.status_code == 400 and "the limit is 5000" in text(too_long)
    nul = member.post(f"/m/{token}/reflection/session-1", data={"so_what": "\x00"})
    assert nul.status_code == 400
    assert db.scalars(select(Reflection)).all() == []


def _reflect(app, token):
    member = app.test_client()
    url = f"/m/{token}/reflection/session-1"
    assert "What?" in text(member.get(url))
    saved = member.post(
        url, data={"what": SECRET, "so_what": "Silence is not agreement.", "now_what": ""}
    )
    assert saved.status_code == 303
    return member


def test_facilitator_pages_packs_and_set_file_never_show_reflections(app, db, held):
    facilitator, links = held
    _reflect(app, links["zoe@example.nhs.uk"])
    assert db.scalars(select(Reflection)).one().what == SECRET
    first = meetings(db)[0]
    zoe = next(m for m in first.learning_set.members if m.email.startswith("zoe"))
    pages = [
        "/",
        "/sets/set-a",
        f"/sets/set-a/sessions/{first.key}",
        "/sets/set-a/actions",
        "/sets/set-a/map",
        "/sets/set-a/messages",
        f"/sets/set-a/members/{zoe.id}/edit",
        "/sets/set-a/export",
    ]
    for url in pages:
        response = facilitator.get(url)
        assert response.status_code == 200, url
        assert "froze when the consultant" not in text(response), url
    bundle = facilitator.get(f"/sets/set-a/sessions/{first.key}/print/all.zip")
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as zipped:
        names = [n for n in zipped.namelist() if n.endswith(".pdf")]
        assert len(names) >= 6
        for name in names:
            assert "froze when" not in pdf_text(zipped.read(name)), name


def test_the_record_downloads_change_nothing_and_hold_the_members_own_record(app, db, held):
    facilitator, links = held
    first = meetings(db)[0]
    url = f"/sets/set-a/sessions/{first.key}/actions"
    zoe = next(m for m in first.learning_set.members if m.email.startswith("zoe"))
    facilitator.post(
        url, data={"action-member": str(zoe.id), "action-text": "Shadow a bed manager"}
    )
    facilitator.post(
        f"/sets/set-a/sessions/{first.key}/attach", data={"case": "a-colleague-under-strain"}
    )
    from toolkit.programmes.records import create_programme

    first.learning_set.programme = create_programme(db, "kss-2027", "KSS Foundation 2027")
    db.commit()
    member = _reflect(app, links["zoe@example.nhs.uk"])
    token = links["zoe@example.nhs.uk"]
    before = db.scalars(select(Reflection)).one().updated_at
    pdf = member.get(f"/m/{token}/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    assert 'filename="learning-set-record-set-a.pdf"' in pdf.headers["Content-Disposition"]
    got = pdf_text(pdf.data)
    for expected in (
        "Learning set record",
        "Zoë Marsh (FY2)",
        "Learning set: Set A",
        "Programme: KSS Foundation 2027",
        "Session 1: Action learning",
        "Session 2: Action learning",
        "Total: 6.5 hours over 2 sessions",
        "Shadow a bed manager (raised at Session 1). Status: Open.",
        "Healthcare Leadership Model • 2 Leading with care",
        "Medical Leadership Competency Framework • 1 Demonstrating Personal Qualities",
        "Generic Professional Capabilities • 1 Professional values and behaviours",
        SECRET,
        "Silence is not agreement.",
    ):
        assert expected in got, expected
    plain = member.get(f"/m/{token}/record.txt")
    assert plain.headers["Cache-Control"] == "no-store"
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"
    body = plain.data.decode("utf-8")
    assert body.startswith("LEARNING SET RECORD\n\nName: Zoë Marsh (FY2)\n")
    assert "\nProgramme: KSS Foundation 2027\n" in body
    assert "SESSIONS ATTENDED" in body and SECRET in body and "\t" not in body and "|" not in body
    db.expire_all()
    assert db.scalars(select(Reflection)).one().updated_at == before  # GETs changed nothing
    certificate = member.get(f"/m/{token}/certificate/session-1.pdf")
    assert certificate.headers["Cache-Control"] == "no-store"
    assert "Zoë Marsh" in pdf_text(certificate.data)
    assert "Łukasz" not in pdf_text(certificate.data)  # only her own
    assert (
        member.get(f"/m/{links['priya@example.nhs.uk']}/certificate/session-1.pdf").status_code
        == 404
    )
    assert member.get(f"/m/{links['priya@example.nhs.uk']}/reflection/session-1").status_code == 404


def test_every_new_change_needs_the_forms_csrf_token(env, app, db, held):
    from toolkit.web import create_app

    facilitator, links = held
    strict = create_app({"TESTING": True}).test_client()
    token = links["zoe@example.nhs.uk"]
    assert strict.post(f"/m/{token}/evaluation/session-2", data=ANSWERS).status_code == 400
    saved = strict.post(f"/m/{token}/reflection/session-1", data={"what": SECRET})
    assert saved.status_code == 400
    assert strict.post("/sets/set-a/sessions/session-2/evaluation/close").status_code in (
        302,  # to sign in: this client has no session
        400,
    )
    db.expire_all()
    assert db.scalars(select(EvaluationAnswerer)).all() == []
    assert db.scalars(select(Reflection)).all() == []
    assert evaluations.closes_at(db, meetings(db)[1]) > sets.end_time(meetings(db)[1]) + timedelta(
        days=13
    )


def test_deleting_a_members_data_deletes_their_reflections_and_keeps_answers_anonymous(
    app, db, held
):
    _facilitator, links = held
    token = links["zoe@example.nhs.uk"]
    member = _reflect(app, token)
    assert member.post(f"/m/{token}/evaluation/session-2", data=ANSWERS).status_code == 303
    zoe = next(m for m in meetings(db)[0].learning_set.members if m.email.startswith("zoe"))
    sets.delete_member(db, zoe)
    db.commit()
    assert db.scalars(select(Reflection)).all() == []
    assert db.scalars(select(EvaluationAnswerer)).all() == []
    assert len(db.scalars(select(EvaluationAnswer)).all()) == 1
