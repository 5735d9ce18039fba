"""A member's journey on a phone: from the invite in the outbox to their own page, where they
say they can come, tick the pre-work and report on an action, each page axe-clean at 390 px."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import pytest

from toolkit.config import REPO_ROOT

from .conftest import PASSWORD, sign_in, toolkit_server

pytestmark = pytest.mark.e2e

SET = "/sets/kss-fy-2027-set-a"
ZOE = "zoe.marsh@example.nhs.uk"
PREWORK = "    prework: [healthcare-leadership-model, the-reflective-practitioner]\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The example set, with pre-work for session 2 (the next to come), and an admin."""
    folder = tmp_path_factory.mktemp("member-page")
    text = (REPO_ROOT / "examples" / "learning-set.yaml").read_text("utf-8")
    marker = "    title: Action learning set 1\n"
    assert text.count(marker) == 1
    setfile = folder / "set.yaml"
    setfile.write_text(text.replace(marker, marker + PREWORK), "utf-8")
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


def test_a_member_replies_ticks_pre_work_and_updates_an_action_on_a_phone(
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
    finally:
        check.page = page
        phone.close()

    # the facilitator sees the reply at the top of the session page
    page.goto(server.url + SET + "/sessions/session-2")
    replies = page.locator("#replies").inner_text()
    assert re.search(r"1 coming, \d+ apologies, \d+ not answered", replies), replies
    assert "Zoë Marsh (coming): I may be 10 minutes late" in replies
    check("Session page with the replies")
