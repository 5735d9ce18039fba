"""Accessibility beyond the journey: every other page passes axe-core, and forms show the NHS.UK
error summary whose links move focus to the fields in error."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import pytest

from .conftest import run_axe, sign_in

pytestmark = pytest.mark.e2e

DEMO = "/sets/kss-fy-2027-set-a"

# Every page a signed-in facilitator can reach (with the demo set loaded), in the order of the
# menu. The journey covers the rest: setup, sign-in, an empty set, invites being sent.
PAGES = [
    ("/account", "Your account"),
    ("/sets/", "Learning sets"),
    ("/sets/new", "Create a learning set"),
    ("/sets/import", "Import a learning-set file"),
    (DEMO, "KSS Foundation leadership set A"),
    (f"{DEMO}/edit", "Edit KSS Foundation leadership set A"),
    (f"{DEMO}/sessions/session-1", "Session 1: Getting started"),
    (f"{DEMO}/sessions/session-2", "Session 2: Action learning set 1"),
    (f"{DEMO}/sessions/session-4?q=handover", "Session 4: Leading change without authority"),
    (f"{DEMO}/invites", "Invites: KSS Foundation leadership set A"),
    (f"{DEMO}/messages", "Automatic messages: KSS Foundation leadership set A"),
    (
        f"{DEMO}/messages/preview/reminder",
        "Preview: reminder before each session: KSS Foundation leadership set A",
    ),
    (
        f"{DEMO}/messages/preview/follow-up",
        "Preview: follow-up after each session: KSS Foundation leadership set A",
    ),
    (f"{DEMO}/self-assessment", "Self-assessment: KSS Foundation leadership set A"),
    (f"{DEMO}/replies", "Calendar replies: KSS Foundation leadership set A"),
    (f"{DEMO}/actions", "Action log: KSS Foundation leadership set A"),
    (f"{DEMO}/map", "Programme map: KSS Foundation leadership set A"),
    (f"{DEMO}/members/1/delete", "Delete Zoë Marsh's data"),
    (f"{DEMO}/delete", "Delete KSS Foundation leadership set A"),
    ("/cases/", "Case bank"),
    ("/cases/?hlm=engaging-the-team&stage=foundation", "Case bank"),
    ("/cases/?search=zzzz-no-such-case", "Case bank"),
    ("/cases/the-stalled-sepsis-project", "The stalled sepsis project"),
    ("/cases/the-stalled-sepsis-project/handout", "The stalled sepsis project (handout)"),
    ("/resources/", "Resource library"),
    ("/resources/?kind=podcast", "Resource library"),
    ("/frameworks/", "Frameworks"),
    ("/frameworks/hlm/engaging-the-team", "Engaging the team"),
    ("/frameworks/mlcf/working-with-others", "Working with Others"),
    ("/frameworks/gpc/gpc-5", "Capabilities in leadership and team working"),
    ("/admin/users", "Users"),
    ("/admin/users/1", "Change Dr Ada Admin's account"),
]
PREVIEWS = ["facilitator-pack", "handout", "sign-in", "reflection", "evaluation", "ground-rules"]


def test_every_page_passes_axe(page, check, shared_server, axe_source):
    sign_in(page, shared_server)
    check("Home", breadcrumbs=False)
    for path, title in PAGES:
        response = page.goto(shared_server.url + path)
        assert response.status == 200, path
        assert page.title() == f"{title} – Learning-set toolkit", path
        assert page.get_by_role("heading", level=1).count() == 1, path
        check(title)

    # The print previews are documents of their own: a title and a language, and axe-clean.
    for stem in PREVIEWS:
        page.goto(f"{shared_server.url}{DEMO}/sessions/session-2/print/{stem}.html")
        assert page.title() and page.locator("html").get_attribute("lang") == "en-GB", stem
        violations = run_axe(page, axe_source)
        assert not violations, (stem, violations)


def test_member_self_assessment_page(browser, page, shared_server, check):
    """The page a member opens from their private link: no account, no breadcrumbs."""
    sign_in(page, shared_server)
    page.goto(shared_server.url + f"{DEMO}/self-assessment")
    page.get_by_role("button", name="E-mail each member their private link").click()
    page.get_by_role("heading", level=1, name="Sending self-assessment links").wait_for()
    page.get_by_text(re.compile(r"(\d+) of \1 messages delivered")).wait_for()  # live, queued
    check("Sending self-assessment links")
    letters = sorted((shared_server.data_dir / "outbox").rglob("self-assessment-*.eml"))
    assert letters, "no letters in the outbox"
    body = message_from_bytes(letters[-1].read_bytes(), policy=default).get_body(("plain",))
    link = re.search(r"https?://\S+/self-assessment/\S+", body.get_content()).group(0)

    page.context.clear_cookies()  # the member has no account
    page.goto(link)
    assert page.get_by_role("heading", level=1).count() == 1
    check("Member's self-assessment", breadcrumbs=False)
    page.get_by_role("link", name="Replace my private link").click()
    check("Replace your private link", breadcrumbs=False)


def test_error_summary_links_focus_fields(page, shared_server, check):
    sign_in(page, shared_server)
    page.goto(shared_server.url + "/sets/new")
    page.get_by_role("button", name="Create set").click()

    summary = page.locator(".nhsuk-error-summary")
    summary.wait_for()
    assert summary.get_by_role("heading", name="There is a problem").is_visible()
    # The NHS.UK script moves focus to the summary, so screen readers announce it first.
    page.wait_for_function("document.activeElement.classList.contains('nhsuk-error-summary')")
    links = summary.get_by_role("link")
    assert links.all_inner_texts() == ["Enter a title"]  # the short id comes from the title
    check("Create a learning set with errors")

    # Each link names its field's error and moves focus to that field.
    slug_error = "Use only lower-case letters, digits and single hyphens"
    for text, field_id, label in [
        ("Enter a title", "title", "Title"),
        (slug_error, "slug", "Short id"),
    ]:
        if field_id == "slug":  # a short id typed by hand is checked
            page.get_by_label("Short id", exact=True).fill("Not A Short Id")
            page.get_by_role("button", name="Create set").click()
            summary.get_by_role("link", name=text).wait_for()
        link = summary.get_by_role("link", name=text)
        assert link.get_attribute("href") == f"#{field_id}"
        link.click()
        page.wait_for_function(f"document.activeElement.id === {field_id!r}")
        field = page.get_by_label(label, exact=True)
        assert field.evaluate("el => el === document.activeElement")
        # the same message is next to the field, and read out with it
        described = (field.get_attribute("aria-describedby") or "").split()
        assert f"{field_id}-error" in described, described
        assert text in page.locator(f"#{field_id}-error").inner_text()
        assert field.evaluate("el => el.closest('.nhsuk-form-group--error') !== null")

    # By keyboard too: back to the summary's first link, Enter, and focus is on the short id.
    page.keyboard.press("Shift+Tab")
    for _ in range(20):
        if page.evaluate("document.activeElement.getAttribute('href') === '#slug'"):
            break
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'slug'")

    # A form folded away in a <details> opens when it has errors, so its links lead somewhere.
    page.goto(shared_server.url + DEMO)
    open_member_form = page.locator("summary", has_text="Add a member")
    open_member_form.click()
    page.get_by_label("Name", exact=True).fill("Nobody Atall")
    page.get_by_label("E-mail address").fill("not-an-address")
    page.get_by_role("button", name="Add member").click()
    page.locator(".nhsuk-error-summary").wait_for()
    link = page.locator(".nhsuk-error-summary").get_by_role("link")
    assert link.all_inner_texts() == ["Enter an e-mail address like name@example.nhs.uk"]
    link.click()
    page.wait_for_function("document.activeElement.id === 'member-email'")
    assert page.get_by_label("E-mail address").is_visible()
    check("Add a member with errors")
