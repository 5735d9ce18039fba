import html
import re

import pytest

from toolkit.text import render_markdown
from toolkit.web import toolkit


@pytest.fixture
def bank_app(env, monkeypatch):
    from .conftest import DATA

    monkeypatch.setenv("TOOLKIT_CASEBANK_DIR", str(DATA / "casebank"))


@pytest.fixture
def fixture_client(bank_app):
    from toolkit.web import create_app

    from .conftest import add_user, sign_in

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    sign_in(client, add_user(app))
    return client


def test_list_counts_and_filters(fixture_client):
    page = fixture_client.get("/cases/")
    assert "2 of 2 cases" in page.text
    page = fixture_client.get("/cases/?stage=foundation")
    assert "1 of 2 cases" in page.text and "Night shift escalation" in page.text
    assert "Budget for the clinic" not in page.text
    page = fixture_client.get("/cases/?mlcf=managing-services.managing-resources")
    assert "Budget for the clinic" in page.text and "Night shift" not in page.text


def test_empty_state_says_what_to_do(fixture_client):
    page = fixture_client.get("/cases/?search=nothing+matches+this")
    assert "0 of 2 cases" in page.text
    assert "No case matches these filters" in page.text


def test_facilitator_view_marks_notes(fixture_client):
    page = fixture_client.get("/cases/night-shift-escalation")
    assert "SECRET-FACILITATOR-NOTE" in page.text
    assert "Not for participants" in page.text
    assert fixture_client.get("/cases/no-such-case").status_code == 404
    shown = html.unescape(page.text)
    assert "FY2 on nights" in shown and "district general hospital" in shown
    assert "short trigger" in shown


def plain(markup: str) -> str:
    """Text as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def note_lines(case) -> list[str]:
    """Every non-blank line of a case's facilitator notes, as it reads once rendered."""
    lines = [plain(render_markdown(line)) for line in case.facilitator_notes.splitlines()]
    return [line for line in lines if line]


def test_no_participant_rendering_contains_facilitator_notes(signed_in, app):
    """Every line of every case's notes: each is found in the facilitator's view (so the check
    can see it) and none in the participant handout."""
    bank = toolkit(app).bank
    assert len(bank.cases) >= 12
    checked = 0
    for case in bank.cases.values():
        handout = signed_in.get(f"/cases/{case.id}/handout")
        assert handout.status_code == 200
        shown = plain(handout.text)
        assert plain(case.title) in shown and plain(case.questions[0]) in shown
        assert "Facilitator notes" not in shown
        facilitator = plain(signed_in.get(f"/cases/{case.id}").text)
        for line in note_lines(case):
            assert line in facilitator, (case.id, line)
            assert line not in shown, (case.id, line)
            checked += 1
    assert checked == sum(len(note_lines(c)) for c in bank.cases.values()) > 700


def test_framework_pages(fixture_client):
    index = fixture_client.get("/frameworks/")
    assert "Healthcare Leadership Model" in index.text
    assert "2.3 Encouraging Contribution" in index.text
    domain = fixture_client.get("/frameworks/mlcf/working-with-others")
    assert "Night shift escalation" in domain.text  # tagged with the domain
    assert "Who else needs to be part of this conversation?" in domain.text
    assert "2.1 Developing Networks" in domain.text  # lists its elements
    assert fixture_client.get("/frameworks/mlcf/nope").status_code == 404
    assert fixture_client.get("/frameworks/xyz/gpc-1").status_code == 404


def test_markdown_in_cases_is_sanitised():
    from toolkit.text import render_markdown

    html = render_markdown("Hello <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
