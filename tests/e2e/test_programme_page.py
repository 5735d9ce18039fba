"""An admin's and a programme lead's view in Chromium: the Programmes page, a programme's page
(axe-clean, on a laptop and at 390 px), naming a lead, and the report and exports downloaded."""

from __future__ import annotations

import re

import pytest

from toolkit.config import REPO_ROOT

from .conftest import PASSWORD, sign_in, toolkit_server

pytestmark = pytest.mark.e2e

PROGRAMME = "kss-foundation-leadership-programme-2026-27"  # made from the example's free text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The example set (its programme made from the file's free text), an admin and a lead."""
    folder = tmp_path_factory.mktemp("programme-page")
    exe = str(REPO_ROOT / ".venv" / "bin" / "toolkit")
    admin = [exe, "users", "add", "admin@example.org", "--admin", "--name", "Dr Ada Admin"]
    lead = [exe, "users", "add", "lead@example.org", "--name", "Dr Lee Lead"]
    with toolkit_server(
        folder / "instance",
        None,
        admin + ["--password", PASSWORD],
        lead + ["--password", PASSWORD],
        [exe, "sets", "import", str(REPO_ROOT / "examples" / "learning-set.yaml")],
    ) as running:
        yield running


def test_an_admin_names_a_lead_who_then_sees_the_programme(browser, page, server, check):
    sign_in(page, server)
    page.get_by_role("link", name="Programmes").first.click()
    page.get_by_role("heading", level=1, name="Programmes").wait_for()
    check("programmes")
    page.get_by_role("link", name="KSS Foundation leadership programme 2026-27").click()
    page.get_by_role("link", name="Change the programme or its leads").click()
    page.get_by_label("Dr Lee Lead (lead@example.org)").check()
    check("change the programme")
    page.get_by_role("button", name="Save programme").click()
    page.get_by_text("Leads: Dr Lee Lead.").wait_for()

    lead = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    phone = lead.new_page()
    sign_in(phone, server, "lead@example.org")
    phone.goto(f"{server.url}/programmes/{PROGRAMME}")
    phone.get_by_role(
        "heading", level=1, name="KSS Foundation leadership programme 2026-27"
    ).wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(check.folder / "programme-page-phone.png"), full_page=True)
    with phone.expect_download() as report:
        phone.get_by_role("link", name="Programme report (PDF)").click()
    assert report.value.suggested_filename == f"{PROGRAMME}-report.pdf"
    assert report.value.path().read_bytes().startswith(b"%PDF-")
    with phone.expect_download() as sheet:
        phone.get_by_role("link", name="Attendance (Excel workbook)").click()
    assert sheet.value.path().read_bytes().startswith(b"PK")
    phone.goto(f"{server.url}/sets/kss-fy-2027-set-a")
    phone.get_by_text(re.compile("you can read everything here")).wait_for()
    assert phone.get_by_role("button", name="Save ground rules").count() == 0
    assert phone.get_by_role("link", name=re.compile("^Change")).count() == 0
    # a session: read, not changed (no button shown to change it), but printed, register too
    phone.goto(f"{server.url}/sets/kss-fy-2027-set-a/sessions/session-1")
    phone.get_by_text(re.compile("you can read this session and print")).wait_for()
    assert phone.get_by_role("textbox", name="Title of block 1").is_disabled()
    assert phone.locator("main button:disabled:visible").all_inner_texts() == []
    assert phone.get_by_role("link", name=re.compile("^Change")).count() == 0
    phone.screenshot(path=str(check.folder / "lead-session-phone.png"), full_page=True)
    phone.get_by_label("GMC number").check()
    with phone.expect_download() as register:
        phone.get_by_role("button", name="Download the register (PDF)").click()
    assert register.value.path().read_bytes().startswith(b"%PDF-")
    lead.close()

    page.goto(f"{server.url}/programmes/{PROGRAMME}")
    check("programme page")
