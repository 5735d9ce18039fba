"""A member's journey on a phone: from the invite in the outbox to their own page, where they
say they can come, tick the pre-work, report on an action, answer the last session's evaluation,
write a reflection and download their record, each page axe-clean at 390 px."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default

import pytest

from toolkit.config import REPO_ROOT

from .conftest import PASSWORD, sign_in, toolkit_server

pytestmark = pytest.mark.e2e

SET = "/sets/kss-fy-2027-set-a"
ZOE = "zoe.marsh@example.nhs.uk"
REFLECTION = "Silence in the room is not the same as agreement."
PREWORK = "    prework: [healthcare-leadership-model, the-reflective-practitioner]\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The example set, with pre-work for session 2 (the next to come), session 1 held two days
    ago (so its evaluation is open), and an admin."""
    folder = tmp_path_factory.mktemp("member-page")
    text = (REPO_ROOT / "examples" / "learning-set.yaml").read_text("utf-8")
    marker = "    title: Action learning set 1\n"
    assert text.count(marker) == 1
    setfile = folder / "set.yaml"
    held = "    start: 2026-11-19 14:00\n"
    assert text.count(held) == 1
    recent = f"    start: {date.today() - timedelta(days=2):%Y-%m-%d} 14:00\n"
    setfile.write_text(text.replace(marker, marker + PREWORK).replace(held, recent), "utf-8")
    exe = str(REPO_ROOT / ".venv" / "bin" / "toolkit")
    admin = [exe, "users", "add", "admin@example.org", "--admin", "--name", "Dr Ada Admin"]
    with toolkit_server(
        folder / "instance",
        None,
        admin + ["--password", PASSWORD],
        [exe, "sets", "import", str(setfile)],
    ) as running:
        yield running


def invite_to(server, address: str) -> str:
    """The plain text of the newest invite in the outbox for `address`."""
    for path in sorted(
        (server.data_dir / "outbox").rglob("session-2-*-request-*.eml"), reverse=True
    ):
        letter = message_from_bytes(path.read_bytes(), policy=default)
        if letter["To"].addresses[0].addr_spec == address:
            return letter.get_body(("plain",)).get_content().replace("\r\n", "\n")
    raise AssertionError(f"no invite to {address}")


def test_a_member_replies_ticks_pre_work_updates_an_action_evaluates_and_takes_a_record(
    browser, page, server, check
):
    sign_in(page, server)
    page.goto(server.url + SET + "/invites")
    page.get_by_role("button", name=re.compile(r"^Send \d+ messages$")).click()
    page.get_by_text(re.compile(r"(\d+) of \1 messages delivered")).wait_for()
    plain = invite_to(server, ZOE)
    come = re.search(r"^I can come: (http\S+)$", plain, re.M).group(1)
    assert re.search(r"^I can't come: http\S+/no$", plain, re.M)

    phone = browser.new_context(
        locale="en-GB",
        timezone_id="Europe/London",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    try:
        member = phone.new_page()
        check.page = member
        member.goto(come)
        member.get_by_role("heading", level=1, name="I can come").wait_for()
        check("Confirm I can come", breadcrumbs=False)
        member.get_by_label("A note for your facilitator (optional)").fill(
            "I may be 10 minutes late"
        )
        member.get_by_role("button", name="Send my reply").click()
        member.get_by_text("your facilitator knows you are coming").wait_for()
        assert (
            "I can come (I may be 10 minutes late)"
            in member.locator("#session-session-2").inner_text()
        )
        check("Member's page after replying", breadcrumbs=False)
        wide = member.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 390, f"the page scrolls sideways on a phone: {wide} px"

        member.get_by_label(re.compile(r"^Healthcare Leadership Model")).check()
        member.get_by_role("button", name="Save my ticks").click()
        member.get_by_text("Your pre-work ticks are saved").wait_for()
        assert member.get_by_label(re.compile(r"^Healthcare Leadership Model")).is_checked()
        assert not member.get_by_label(re.compile(r"^The reflective practitioner")).is_checked()
        check("Pre-work ticked", breadcrumbs=False)

        action = member.locator("form", has_text="educational supervisor")
        action.get_by_label("Status").select_option("done")
        action.get_by_label("What came of it").fill("The draft rota now comes a week earlier.")
        action.get_by_role("button", name="Save this action").click()
        member.get_by_text("Your action is updated").wait_for()
        assert (
            "a week earlier"
            in member.locator("form", has_text="educational supervisor")
            .locator("textarea")
            .input_value()
        )
        assert "discharge coordinator" not in member.content()  # another member's action
        check("Action updated", breadcrumbs=False)

        # the evaluation of session 1, which she came to
        member.get_by_role("link", name="Answer the evaluation of session 1").click()
        member.get_by_role("heading", level=1, name="Evaluation of session 1").wait_for()
        assert "It closes on" in member.content()
        check("Evaluation form", breadcrumbs=False)
        statements = member.locator("fieldset")
        for index in range(statements.count()):
            statements.nth(index).get_by_label("Agree", exact=True).check()
        member.get_by_label("The most useful thing I will take away (optional)").fill(
            "Asking before advising"
        )
        member.get_by_role("button", name="Send my answers").click()
        member.get_by_text("your answers are saved, without your name").wait_for()
        assert "Session 1: answered, thank you" in member.locator("main").inner_text()
        check("Evaluation answered", breadcrumbs=False)

        # a reflection for her portfolio, then the record with it
        member.get_by_role("link", name="Write a reflection on Getting started").click()
        member.get_by_label("What?", exact=True).fill(
            "We agreed ground rules and named our issues."
        )
        member.get_by_label("So what?", exact=True).fill(REFLECTION)
        member.get_by_label("Now what?", exact=True).fill(
            "Ask one open question on every ward round."
        )
        check("Writing a reflection", breadcrumbs=False)
        member.get_by_role("button", name="Save my reflection").click()
        member.get_by_text("Your reflection is saved").wait_for()
        check("Record section", breadcrumbs=False)
        wide = member.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 390, f"the page scrolls sideways on a phone: {wide} px"
        with member.expect_download() as downloading:
            member.get_by_role("link", name="Download your record (PDF)").click()
        download = downloading.value
        assert download.suggested_filename == "learning-set-record-kss-fy-2027-set-a.pdf"
        pdf = download.path().read_bytes()
        out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
        record = " ".join(out.stdout.decode().split())
        for expected in (
            "Learning set record",
            "Zoë Marsh (FY2)",
            "Session 1: Getting started",
            "Total: 3 hours over 1 session.",
            REFLECTION,
            "The draft rota now comes a week earlier.",
        ):
            assert expected in record, expected
    finally:
        check.page = page
        phone.close()

    # the facilitator sees the reply at the top of the session page
    page.goto(server.url + SET + "/sessions/session-2")
    replies = page.locator("#replies").inner_text()
    assert re.search(r"1 coming, \d+ apologies, \d+ not answered", replies), replies
    assert "Zoë Marsh (coming): I may be 10 minutes late" in replies
    check("Session page with the replies")
