"""The core of the journey with the keyboard alone: Tab, Shift+Tab, Enter, Space and typing.

No clicks, no `fill`, no `focus()`: every field is reached by tabbing, and every focused control
must show a visible focus indicator (WCAG 2.4.7).
"""

from __future__ import annotations

import pytest

from .conftest import PASSWORD

pytestmark = pytest.mark.e2e

MAX_TABS = 250

FOCUS_VISIBLE = """el => {
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
        && style.outlineColor !== "rgba(0, 0, 0, 0)" && style.outlineColor !== "transparent";
    return outline || style.boxShadow !== "none";
}"""


class Keyboard:
    def __init__(self, page) -> None:
        self.page = page
        self.presses: list[str] = []

    def press(self, key: str) -> None:
        self.presses.append(key)
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.presses.append(f"type {text!r}")
        self.page.keyboard.type(text)

    def focused(self, locator) -> bool:
        return locator.evaluate("el => el === document.activeElement")

    def tab_to(self, locator) -> None:
        """Tab (or Shift+Tab, when the target comes before the focus) until it has focus."""
        locator.wait_for(state="visible")
        backwards = locator.evaluate(
            """el => {
                const from = document.activeElement;
                if (!from || from === document.body) return false;
                return !!(from.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING);
            }"""
        )
        key = "Shift+Tab" if backwards else "Tab"
        for _ in range(MAX_TABS):
            if self.focused(locator):
                break
            self.press(key)
        else:
            raise AssertionError(f"{MAX_TABS} x {key} never reached {locator}")
        assert locator.evaluate(FOCUS_VISIBLE), f"no visible focus on {locator}"

    def enter_text(self, locator, text: str, replace: bool = False) -> None:
        self.tab_to(locator)
        if replace:
            self.press("Control+A")
            self.press("Delete")
        self.type(text)


def test_core_journey_by_keyboard_alone(page, shared_server):
    keys = Keyboard(page)
    page.goto(shared_server.url + "/login")

    # The skip link comes first and takes focus into the main content.
    keys.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert keys.focused(skip)
    keys.press("Enter")

    keys.enter_text(page.get_by_label("E-mail address"), "admin@example.org")
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    page.get_by_role("heading", level=1, name="Learning-set toolkit").wait_for()

    keys.tab_to(
        page.get_by_role("navigation", name="Menu").get_by_role("link", name="Learning sets")
    )
    keys.press("Enter")
    page.get_by_role("heading", level=1, name="Learning sets").wait_for()
    keys.tab_to(page.get_by_role("button", name="Create your first learning set"))
    keys.press("Enter")
    page.get_by_role("heading", level=1, name="Create a learning set").wait_for()

    keys.enter_text(page.get_by_label("Title"), "Wessex core trainees: keyboard set")
    short_id = page.get_by_label("Short id")
    assert short_id.input_value() == "wessex-core-trainees-keyboard-set"  # made from the title
    keys.press("Tab")
    keys.type("wessex-ct-keyboard")  # Tab selected the id made from the title: typing replaces it
    assert short_id.input_value() == "wessex-ct-keyboard"
    keys.enter_text(page.get_by_label("Venue (optional)"), "Room 4, Education Centre")
    keys.tab_to(page.get_by_role("button", name="Create set"))
    keys.press("Space")
    page.get_by_text("Set created.").wait_for()

    # The "Add a member" form is open while the set has no members.
    keys.enter_text(page.get_by_label("Name", exact=True), "Ngozi Ò. Adébáyò")
    keys.press("Tab")
    keys.type("ngozi.adebayo@example.nhs.uk")
    keys.press("Tab")
    keys.type("CT2")
    keys.tab_to(page.get_by_role("button", name="Add member"))
    keys.press("Enter")
    page.get_by_text("Ngozi Ò. Adébáyò added.").wait_for()
    assert page.get_by_role("cell", name="ngozi.adebayo@example.nhs.uk").is_visible()

    # A second member: the form stays open for the next one.
    assert page.locator("details#add-member").get_attribute("open") is not None
    keys.enter_text(page.get_by_label("Name", exact=True), "Ffion Pryce")
    keys.press("Tab")
    keys.type("ffion.pryce@example.nhs.uk")
    keys.press("Enter")  # submits the form from a text field
    page.get_by_text("Ffion Pryce added.").wait_for()

    # Schedule four sessions. Date and time fields take typed digits segment by segment; the
    # date has day = month and the time is typed with an "A" for a 12-hour clock, so the same
    # keys work whichever order and clock the browser's locale uses.
    series = page.locator("form", has=page.get_by_role("button", name="Schedule sessions"))
    keys.enter_text(series.get_by_label("Date of the first session"), "03032037")
    keys.enter_text(series.get_by_label("Start time"), "0930A")
    keys.enter_text(series.get_by_label("Every how many weeks"), "4", replace=True)
    keys.enter_text(series.get_by_label("Number of sessions"), "4", replace=True)
    # the first and last sessions keep the templates proposed for them; the others are short
    assert series.get_by_label("First session", exact=True).input_value() == "first-meeting"
    keys.tab_to(series.get_by_label("Sessions in between"))
    keys.type("Short")  # type-ahead picks the template in the closed select
    assert series.get_by_label("Sessions in between").input_value() == "short-action-learning-set"
    keys.tab_to(series.get_by_role("button", name="Schedule sessions"))
    keys.press("Enter")
    page.get_by_text("4 sessions scheduled.").wait_for()
    rows = page.get_by_role("table", name="Sessions, in date order").locator("tbody tr")
    assert rows.count() == 4
    assert "Tue 3 Mar 2037, 09:30 to 12:30" in rows.first.inner_text()  # the first meeting
    assert "Tue 31 Mar 2037, 09:30 to 11:30" in rows.nth(1).inner_text()  # after the clocks change

    keys.tab_to(rows.first.get_by_role("link"))
    keys.press("Enter")
    page.get_by_role("heading", name="Agenda", exact=True).wait_for()

    # Change the second block's minutes, then (Shift+Tab back) its title, and save the agenda.
    agenda = page.get_by_role("table", name="Agenda with clock times")
    minutes = agenda.get_by_label("Minutes for block 2", exact=True)
    before = int(minutes.input_value())
    keys.enter_text(minutes, str(before + 5), replace=True)
    keys.enter_text(agenda.get_by_label("Title of block 2", exact=True), "Check-in round", True)
    assert "Shift+Tab" in keys.presses
    keys.tab_to(page.get_by_role("button", name="Save agenda", exact=True))
    keys.press("Space")
    page.get_by_text("Agenda saved.").wait_for()
    assert agenda.get_by_label("Minutes for block 2", exact=True).input_value() == str(before + 5)
    assert agenda.get_by_label("Title of block 2", exact=True).input_value() == "Check-in round"
