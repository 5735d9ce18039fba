"""Calendar replies uploaded from the set page in a browser: the results page lists each one."""

from __future__ import annotations

import pytest

from ..conftest import DATA
from .conftest import sign_in

pytestmark = pytest.mark.e2e

DEMO = "/sets/kss-fy-2027-set-a"


def test_upload_from_the_set_page_lists_each_outcome(page, check, shared_server):
    sign_in(page, shared_server)
    page.goto(shared_server.url + DEMO)
    files = page.get_by_label("E-mails with calendar replies")
    files.set_input_files(
        [DATA / "replies" / "wrong-attendee.ics", DATA / "replies" / "several.mbox"]
    )
    page.get_by_role("button", name="Read the replies").click()
    page.wait_for_load_state()  # the click waits for the page to start, not to be parsed
    assert (
        page.title()
        == "Calendar replies read: KSS Foundation leadership set A – Learning-set toolkit"
    )
    # they answer another server's sessions (not the demo set's): each is refused, and says why
    heading = page.get_by_role("heading", name="0 of 5 replies recorded")
    assert heading.is_visible()
    rows = page.get_by_role("row")
    assert rows.count() == 6
    assert "several.mbox, message 2" in rows.nth(3).inner_text()
    assert "is not a session invited from 127.0.0.1" in rows.nth(1).inner_text()
    check("Calendar replies read")
