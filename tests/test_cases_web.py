import html

import pytest

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


def test_no_participant_rendering_contains_facilitator_notes(signed_in, app):
    bank = toolkit(app).bank
    assert len(bank.cases) >= 12
    for case in bank.cases.values():
        page = signed_in.get(f"/cases/{case.id}/handout")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert case.title in text and case.questions[0] in text
        for line in case.facilitator_notes.splitlines():
            words = line.strip("-* ").strip()
            if len(words) > 30:
                assert words not in text, case.id
        assert "Facilitator notes" not in text


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
