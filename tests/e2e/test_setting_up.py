"""A busy facilitator's setting up, in a real browser: a pasted member list checked before it
is added, a series whose sessions take their own templates, a case added from its own page, and
attendance marked all present before the exceptions. Every page is screenshotted and passes
axe-core (test-artifacts/e2e/setting_up-*.png)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from .conftest import sign_in

pytestmark = pytest.mark.e2e

PASTED = "\n".join(
    [
        "Name\tE-mail\tGrade",  # a spreadsheet's heading row
        "Zoë Marsh\tzoe.marsh@example.nhs.uk\tGPST1",
        "Łukasz Wiśniewski\tlukasz.w@example.nhs.uk\tGPST2",
        "Aoife Ní Bhriain, aoife@example.nhs.uk, GPST3",
        "Chidera Okonkwo-Hale, chidera@example.nhs.uk",
        "Tom Reid, tom@example",  # not an address
        "Zoë again, ZOE.MARSH@example.nhs.uk, GPST1",  # already on line 2
    ]
)
CASE = "A request at the clinic door"


def test_setting_up_a_gp_set(page, check, shared_server):
    sign_in(page, shared_server)
    page.goto(shared_server.url + "/sets/new")
    page.get_by_label("Title").fill("Kent GP trainees set C")
    assert page.get_by_label("Short id").input_value() == "kent-gp-trainees-set-c"
    assert page.get_by_label("Time zone").input_value() == "Europe/London"
    page.get_by_role("button", name="Create set").click()
    page.get_by_text("Set created.").wait_for()

    # Paste the list, see who will be added and which lines are refused, then confirm.
    page.locator("summary", has_text="Paste a list of members").click()
    page.get_by_label("Paste a list of members").fill(PASTED)
    page.get_by_role("button", name="Check the list").click()
    page.get_by_role("heading", name="4 members will be added").wait_for()
    refused = page.locator("#refused-lines")
    assert refused.get_by_role("listitem").count() == 3
    assert "Line 6" in refused.inner_text() and "“tom@example” is not valid" in refused.inner_text()
    assert "also on line 2" in refused.inner_text()
    check("Pasted members to check")
    page.get_by_role("button", name="Add 4 members").click()
    page.get_by_text("4 members added.").wait_for()
    members = page.get_by_role("table", name="Members")
    assert members.get_by_role("cell", name="Łukasz Wiśniewski", exact=True).is_visible()
    assert members.get_by_role("cell", name="chidera@example.nhs.uk", exact=True).is_visible()
    check("Set with pasted members")

    # A series of four from three days ago: the first and last sessions have their own templates.
    first = date.today() - timedelta(days=3)
    series = page.locator("form", has=page.get_by_role("button", name="Schedule sessions"))
    series.get_by_label("Date of the first session").fill(first.isoformat())
    series.get_by_label("Start time").fill("13:30")
    series.get_by_label("Every how many weeks").fill("6")
    series.get_by_label("Number of sessions").fill("4")
    series.get_by_label("First session", exact=True).select_option("first-meeting")
    series.get_by_label("Sessions in between").select_option("short-action-learning-set")
    series.get_by_label("Last session", exact=True).select_option("case-discussion")
    check("Series with a template per session")
    series.get_by_role("button", name="Schedule sessions").click()
    page.get_by_text("4 sessions scheduled.").wait_for()
    rows = page.get_by_role("table", name="Sessions, in date order").locator("tbody tr")
    texts = rows.all_inner_texts()
    assert "Getting started" in texts[0] and "180 min" in texts[0]
    assert "Action learning" in texts[1] and "Short action learning set" in texts[1]
    assert "Case discussion" in texts[3] and "120 min" in texts[3]
    check("Sessions with their own templates")

    # The case's own page adds it to the last session.
    page.goto(shared_server.url + "/cases/a-request-at-the-clinic-door")
    page.get_by_label("Session").select_option(_option_for(page, "Session 4: Case discussion"))
    check("Case page, add to a session")
    page.get_by_role("button", name="Add to this session").click()
    page.get_by_text("Added to Session 4: Case discussion.").wait_for()
    summary = page.locator("dl.toolkit-summary")
    assert CASE in summary.inner_text()
    check("Session 4 with the case")

    # The first session has started: everyone present, then the one exception.
    page.get_by_role("link", name="Kent GP trainees set C").click()
    rows.first.get_by_role("link").click()
    page.get_by_role("heading", name="Agenda", exact=True).wait_for()
    assert page.locator('input[value="Review of actions"]').count() == 0
    page.get_by_role("button", name="Mark all present").click()
    page.get_by_text("Everyone is marked present").wait_for()
    attendance = page.locator("form", has=page.get_by_role("button", name="Save attendance"))
    assert attendance.get_by_role("group", name="Tom Reid").count() == 0  # refused, not added
    attendance.get_by_role("group", name="Chidera Okonkwo-Hale").get_by_label("Absent").check()
    attendance.get_by_role("button", name="Save attendance").click()
    page.get_by_text("Attendance saved.").wait_for()
    assert "3 present of 4" in page.locator("dl.toolkit-summary").inner_text()
    check("Session 1 attendance")


def _option_for(page, starts_with: str) -> str:
    """The value of this set's session option whose label starts with `starts_with`."""
    group = page.locator('optgroup[label="Kent GP trainees set C"] option')
    labels, values = group.all_inner_texts(), group.evaluate_all("os => os.map(o => o.value)")
    return next(v for label, v in zip(labels, values, strict=True) if label.startswith(starts_with))
