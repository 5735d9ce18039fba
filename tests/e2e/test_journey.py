"""The facilitator's journey in a real browser, from first-run setup to certificates.

One test, steps in order, against `toolkit serve` with its own data dir and a real SMTP server on
loopback. After every step the page is screenshotted (test-artifacts/e2e/journey-*.png), must have
a <title> and (except the home, setup and sign-in pages) breadcrumbs, and must pass axe-core's
WCAG 2.x A/AA rules with no serious or critical violation.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

import icalendar
import pytest
from pypdf import PdfReader

from tests.smtp_server import SmtpServer

from .conftest import PASSWORD, toolkit_server

pytestmark = pytest.mark.e2e

ADMIN = ("Dr Siân Ó Ceallaigh", "sian.oceallaigh@example.nhs.uk")
MEMBERS = [
    ("Zoë Marsh", "zoe.marsh@example.nhs.uk", "FY2"),
    ("Łukasz Wiśniewski", "lukasz.wisniewski@example.nhs.uk", "FY1"),
    ("Aoife Ní Bhriain", "aoife.nibhriain@example.nhs.uk", "FY2"),
    ("Chidera Okonkwo-Hale", "chidera.okonkwo-hale@example.nhs.uk", "CT1"),
    ("Anaïs Dubois", "anais.dubois@example.nhs.uk", "FY1"),
    ("José Núñez", "jose.nunez@example.nhs.uk", "ST3"),
]
SLUG = "tv-fy-2037-b"
CASE = "The stalled sepsis project"
ACTION = "Ask the ward manager for ten minutes at Thursday's huddle to pitch the sepsis audit"
# 12 Mar 2037 and every 2 weeks: 26 Mar, then 9 Apr after the clocks go forward on 29 March.
DATES = ["Thu 12 Mar 2037", "Thu 26 Mar 2037", "Thu 9 Apr 2037", "Thu 23 Apr 2037"]


@pytest.fixture(scope="module")
def journey_smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory, journey_smtp):
    """A fresh install: no accounts yet, so the first visit goes to /setup."""
    with toolkit_server(tmp_path_factory.mktemp("journey") / "instance", journey_smtp.url) as s:
        yield s


def calendar_part(message: EmailMessage) -> EmailMessage:
    """The text/calendar alternative (not the invite.ics attachment)."""
    parts = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_filename() is None
    ]
    assert len(parts) == 1, [p.get_content_type() for p in message.walk()]
    return parts[0]


def calendar_of(message: EmailMessage) -> tuple[str, icalendar.Calendar]:
    """The calendar alternative's method parameter and its parsed calendar."""
    part = calendar_part(message)
    return part.get_param("method"), icalendar.Calendar.from_ical(part.get_payload(decode=True))


def event_of(message: EmailMessage) -> icalendar.Event:
    events = calendar_of(message)[1].walk("VEVENT")
    assert len(events) == 1
    return events[0]


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF"), data[:20]
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() or "" for p in reader.pages))


def session_link(page, number: int):
    """The link to session N in the set page's Sessions table."""
    rows = page.get_by_role("table", name="Sessions, in date order").locator("tbody tr")
    return rows.nth(number - 1).get_by_role("link")


def open_details(page, summary: str) -> None:
    """Open a <details> by its summary text, unless it is open already."""
    details = page.locator("details", has=page.locator("summary", has_text=summary))
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def form_with(page, button: str):
    return page.locator("form", has=page.get_by_role("button", name=button, exact=True))


def download(page, link_name: str) -> bytes:
    """Click a download link in the browser and return the file's bytes."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    return Path(info.value.path()).read_bytes()


def fetch(page, link_name: str) -> bytes:
    """Fetch a link's target with the page's cookies (no download prompt)."""
    href = page.get_by_role("link", name=link_name, exact=True).get_attribute("href")
    response = page.request.get(urljoin(page.url, href))
    assert response.ok, response.status
    return response.body()


def send_invites(
    page, smtp: SmtpServer, expected: int, plain: str, calendar: str, check
) -> list[EmailMessage]:
    """On the invites page: review what will go (in `plain` words, the `calendar` method and
    sequence only under Technical details), send it, watch each recipient's result, and
    return what arrived at the SMTP server."""
    before = len(smtp.recorder.messages)
    review = page.get_by_role("table", name="Messages that will be sent")
    review.wait_for()
    rows = review.locator("tbody tr")
    assert rows.count() == expected
    assert all(plain in text and calendar not in text for text in rows.all_inner_texts()), plain
    assert all(calendar in text for text in rows.all_text_contents()), calendar
    page.get_by_role(
        "button", name=f"Send {expected} message{'s' if expected != 1 else ''}"
    ).click()
    # The progress page follows the send log live while the queue (run by `toolkit serve`)
    # delivers: one line per message, then the tally.
    page.get_by_role("heading", level=1, name="Sending invites").wait_for()
    plural = "s" if expected != 1 else ""
    page.get_by_text(f"{expected} of {expected} message{plural} delivered").wait_for()
    lines = page.locator(".toolkit-progress > li")
    assert lines.count() == expected
    assert lines.filter(has_text="Delivered").count() == expected
    check(f"Sending {expected} {calendar.split(',')[0]} messages")  # the file names stay
    page.get_by_role("link", name="Back to calendar invites").click()
    page.get_by_text("Everyone has up-to-date invites").wait_for()
    # the send log has one row per recipient and message, each with its outcome
    log = page.get_by_role("table", name="Send log, newest first").locator("tbody tr")
    assert log.count() == before + expected
    assert log.filter(has_text="Delivered").count() == before + expected
    arrived = smtp.recorder.messages[before:]
    assert len(arrived) == expected
    return arrived


def test_journey(page, check, journey_server, journey_smtp, artifacts):
    server, smtp = journey_server, journey_smtp

    def keep(data: bytes, name: str) -> bytes:
        (artifacts / f"journey-{name}").write_bytes(data)
        return data

    # First run: every page sends us to /setup, which creates the admin account.
    page.goto(server.url + "/")
    assert page.url.endswith("/setup")
    check("First-run setup", breadcrumbs=False)
    page.get_by_label("Your name").fill(ADMIN[0])
    page.get_by_label("E-mail address").fill(ADMIN[1])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create admin account").click()
    page.get_by_text("Your admin account is ready.").wait_for()
    check("Home after setup", breadcrumbs=False)

    # Sign out, then sign in again.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    check("Sign in", breadcrumbs=False)
    page.get_by_label("E-mail address").fill(ADMIN[1])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="Learning-set toolkit").wait_for()
    assert page.get_by_role("link", name=f"{ADMIN[0]} (admin)").is_visible()

    # The admin adds the deanery's programme, which the set will belong to.
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Programmes").click()
    page.get_by_label("Short id").fill("tv-foundation-2036")
    page.get_by_label("Title").fill("Thames Valley Foundation 2036-37")
    page.get_by_role("button", name="Add programme").click()
    page.get_by_text("Thames Valley Foundation 2036-37").first.wait_for()

    # Learning sets: the empty state says what to do next.
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Learning sets").click()
    page.get_by_text("You have no learning sets yet").wait_for()
    check("Learning sets, empty")
    page.get_by_role("button", name="Create your first learning set").click()
    page.get_by_role("heading", name="Create a learning set").wait_for()
    check("Create a learning set")
    page.get_by_label("Title").fill("Thames Valley FY leadership set B")
    page.get_by_label("Short id").fill(SLUG)
    page.get_by_label("Programme (optional)").select_option(
        label="Thames Valley Foundation 2036-37"
    )
    page.get_by_label("Venue (optional)").fill("Seminar Room 3, Postgraduate Centre")
    page.get_by_role("button", name="Create set").click()
    page.get_by_text("Set created.").wait_for()
    assert page.get_by_text("No members yet").is_visible()
    assert page.get_by_text("No sessions yet").is_visible()
    check("New set, empty")

    # Six members, with accented names; the size warning goes at four.
    for i, (name, email, grade) in enumerate(MEMBERS, 1):
        open_details(page, "Add a member")
        member_form = form_with(page, "Add member")
        member_form.get_by_label("Name").fill(name)
        member_form.get_by_label("E-mail address").fill(email)
        member_form.get_by_label("Grade").fill(grade)
        member_form.get_by_role("button", name="Add member").click()
        page.get_by_text(f"{name} added.").wait_for()
        assert page.get_by_role("heading", name=f"Members ({i})").is_visible()
        warning = page.locator(".nhsuk-warning-callout", has_text="Set size")
        assert warning.count() == (1 if i < 4 else 0), i
        if i == 1:
            check("Set with one member (size warning)")
    members = page.get_by_role("table", name="Members")
    for name, email, _grade in MEMBERS:
        assert members.get_by_role("cell", name=name, exact=True).is_visible()
        assert members.get_by_role("cell", name=email, exact=True).is_visible()
    check("Set with six members")

    # Six sessions every two weeks at 14:00 from 12 March 2037, across the clock change.
    open_details(page, "Schedule a series of sessions")
    series = form_with(page, "Schedule sessions")
    series.get_by_label("Date of the first session").fill("2037-03-12")
    series.get_by_label("Start time").fill("14:00")
    series.get_by_label("Every how many weeks").fill("2")
    series.get_by_label("Number of sessions").fill("6")
    # the form proposes their own templates for the first and last meetings; this set keeps
    # the final review for the last, but starts straight in with action learning
    assert series.get_by_label("First session", exact=True).input_value() == "first-meeting"
    assert series.get_by_label("Last session", exact=True).input_value() == "final-review"
    series.get_by_label("First session", exact=True).select_option("")
    series.get_by_label("Sessions in between").select_option("action-learning-set")
    series.get_by_role("button", name="Schedule sessions").click()
    page.get_by_text("6 sessions scheduled.").wait_for()
    rows = page.get_by_role("table", name="Sessions, in date order").locator("tbody tr")
    assert rows.count() == 6
    for number, day in enumerate(DATES, 1):
        # 14:00 local before and after the clocks go forward on 29 March 2037
        assert f"{day}, 14:00 to 17:15" in rows.nth(number - 1).inner_text()
    # titles say what each meeting is, and each slot is its template's length
    assert "Action learning\n" in rows.first.inner_text()
    assert "Looking back and moving on" in rows.last.inner_text()
    assert "14:00 to 16:30" in rows.last.inner_text()
    check("Six sessions scheduled")

    # Session 1: rebuild from the classic action learning set.
    session_link(page, 1).click()
    page.get_by_role("heading", name="Agenda", exact=True).wait_for()
    for empty in [
        "No case attached.",
        "No prompt attached.",
        "No open actions from earlier sessions.",
        "No actions recorded for this session yet.",
        "Certificates appear once attendance is recorded, after the session has started.",
    ]:
        assert page.get_by_text(empty, exact=True).is_visible(), empty
    assert page.get_by_role("link", name="Certificates of attendance (PDF)").count() == 0
    check("Session 1")
    agenda_inputs = page.get_by_role("table", name="Agenda with clock times").locator("input[id]")
    blocks_before = agenda_inputs.evaluate_all("els => els.map(e => e.id)")
    open_details(page, "Rebuild the agenda from a template")
    page.get_by_label("Rebuild the agenda from").select_option("action-learning-set")
    page.get_by_role("button", name="Rebuild agenda").click()
    page.get_by_text("Agenda rebuilt from 'Action learning set (classic, 3 presenters)'").wait_for()
    blocks_after = agenda_inputs.evaluate_all("els => els.map(e => e.id)")
    assert blocks_after and not set(blocks_after) & set(blocks_before)
    # the set's first session has no earlier actions to review, so no review block
    assert page.get_by_text("The agenda fits the 195-minute slot with 25 min to spare").is_visible()
    assert page.locator('input[value="Review of actions"]').count() == 0
    session_1 = page.url.split("#")[0]

    # Attach a case found by searching the bank on the page, and a suggested prompt.
    page.get_by_label("Find a case in the bank").fill("sepsis")
    page.get_by_role("search", name="Find a case").get_by_role("button", name="Search").click()
    page.get_by_text("Search results").wait_for()
    check("Session 1, case search")
    page.get_by_role("button", name=f"Add {CASE}", exact=True).click()
    page.get_by_text("Added to the session.").wait_for()
    cases = page.locator("h3:text-is('Cases for this session') + ul")
    assert cases.get_by_role("link", name=CASE).is_visible()
    # the case brings a block of its own 35 minutes, just before process review: now it over-runs
    agenda = page.get_by_role("table", name="Agenda with clock times")
    assert agenda.locator(f'input[value="Case: {CASE}"]').count() == 1
    assert "runs 10 min over the slot" in page.locator("#overrun").inner_text()
    first_prompt = page.get_by_role("button", name=re.compile(r"^Add prompt ")).first
    prompt_id = " ".join(first_prompt.text_content().split()).removeprefix("Add prompt ")
    first_prompt.click()
    # (the flash is the same as for the case, so wait for the prompt itself)
    page.get_by_role("button", name=f"Remove prompt {prompt_id}").wait_for()
    assert page.get_by_text("No prompt attached.").count() == 0

    # Make room for the case: two presenter rounds instead of three.
    round_3 = agenda.locator("tbody tr", has=page.locator('input[value="Presenter round 3"]'))
    round_3.get_by_role("button", name=re.compile(r"^Remove block \d+$")).click()
    page.get_by_text("Agenda saved.").wait_for()
    assert page.get_by_text("The agenda fits the 195-minute slot with 30 min to spare").is_visible()

    # The rota: everyone presents before anyone presents twice.
    assert page.get_by_text("Proposed by the rota (follows earlier sessions)").is_visible()
    page.get_by_role("button", name="Use the proposed rota").click()
    page.get_by_text("Presenters saved: the rota chooses them.").wait_for()
    rota = form_with(page, "Save presenters").get_by_role("combobox")
    chosen = [rota.nth(i).input_value() for i in range(rota.count())]
    assert len(chosen) == 2 and len(set(chosen)) == 2 and "" not in chosen, chosen
    check("Session 1 with case, prompt and rota")

    # A block that over-runs the slot; the warning says by how much; fix it; the warning goes.
    open_details(page, "Add a block")
    block_form = form_with(page, "Add block")
    block_form.get_by_label("Block title").fill("Peer coaching in pairs")
    block_form.get_by_label("Kind").select_option("input")
    block_form.get_by_label("Minutes").fill("50")
    block_form.get_by_role("button", name="Add block").click()
    page.get_by_text("Block added.").wait_for()
    overrun = page.locator("#overrun")
    assert "runs 20 min over the slot" in overrun.inner_text()
    assert "'Peer coaching in pairs' is the first block that ends late" in overrun.inner_text()
    assert page.get_by_text("The agenda over-runs its slot").is_visible()
    check("Session 1 over-runs")
    last = page.get_by_role("table", name="Agenda with clock times").locator("tbody tr").last
    minutes = last.get_by_label(re.compile(r"^Minutes for block \d+$"))
    minutes.fill("5")
    page.get_by_role("button", name="Save agenda").click()
    page.get_by_text("Agenda saved.").wait_for()
    assert page.locator("#overrun").count() == 0
    assert page.get_by_text("The agenda fits the 195-minute slot with 25 min to spare").is_visible()
    check("Session 1 over-run fixed")

    # Print: the facilitator pack (downloaded in the browser) and the handout.
    pack = pdf_text(keep(download(page, "Facilitator pack (PDF)"), "session-1-pack.pdf"))
    assert CASE in pack and "Facilitator note" in pack
    handout = pdf_text(keep(fetch(page, "Participant handout (PDF)"), "session-1-handout.pdf"))
    assert CASE in handout
    assert "Facilitator note" not in handout

    # Calendar invites: review, then send; 6 members x 6 sessions arrive as REQUESTs.
    page.get_by_role("link", name="Invites for the set").click()
    page.get_by_role("heading", name="Calendar invites").wait_for()
    assert page.get_by_text("Nothing sent yet.").is_visible()
    check("Invites to review")
    first_round = send_invites(page, smtp, 36, "Invitation", "REQUEST, sequence 0", check)
    check("Invites sent")
    uids: dict[str, str] = {}
    for message in first_round:
        assert message.get_content_type() == "multipart/mixed"
        method, calendar = calendar_of(message)
        assert method == "REQUEST" and calendar["METHOD"] == "REQUEST"
        event = event_of(message)
        assert int(event.get("SEQUENCE", 0)) == 0
        start = event.decoded("DTSTART")
        assert (start.hour, start.minute) == (14, 0), start  # local time, clock change or not
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        summer = start.month >= 4  # the clocks go forward on 29 March 2037
        assert start.utcoffset() == timedelta(hours=1 if summer else 0), start
        uids.setdefault(start.date().isoformat(), str(event["UID"]))
    recipients = {(a.display_name, a.addr_spec) for m in first_round for a in m["To"].addresses}
    assert recipients == {(name, email) for name, email, _grade in MEMBERS}  # accents intact
    assert sorted(len(m["To"].addresses) for m in first_round) == [1] * 36  # one each
    assert len(uids) == 6 and len(set(uids.values())) == 6

    # Move session 2 to 15:00 and send the updates: same UID, SEQUENCE 1.
    page.get_by_role("link", name="Thames Valley FY leadership set B").click()
    session_link(page, 2).click()
    details = form_with(page, "Save date, time and place")
    details.get_by_label("Start time").fill("15:00")
    details.get_by_role("button", name="Save date, time and place").click()
    page.get_by_text("Session details saved.").wait_for()
    assert page.get_by_text(f"{DATES[1]}, 15:00 to 18:15").is_visible()
    # the session page itself says the invites are now wrong, with the send button there
    warning = page.locator("#invites-out-of-date")
    assert "6 members hold an invite for this session" in warning.inner_text()
    assert warning.get_by_role("button", name="Send the updated invites").is_visible()
    check("Session 2 moved")
    page.get_by_role("link", name="Thames Valley FY leadership set B").click()
    page.get_by_text("6 members have out-of-date invites").wait_for()
    check("Set with out-of-date invites")
    page.get_by_role("link", name="Review and send the updates").click()
    updates = send_invites(
        page, smtp, 6, "Update: the session has changed", "REQUEST, sequence 1", check
    )
    for message in updates:
        method, _calendar = calendar_of(message)
        event = event_of(message)
        assert method == "REQUEST"
        assert str(event["UID"]) == uids["2037-03-26"]
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART").hour == 15
        assert b"\r\nSEQUENCE:1\r\n" in calendar_part(message).get_payload(decode=True)

    # Cancel session 3 and send the cancellations.
    page.get_by_role("link", name="Thames Valley FY leadership set B").click()
    session_link(page, 3).click()
    page.get_by_role("button", name="Cancel this session").click()
    page.get_by_text("Session cancelled.").wait_for()
    assert page.get_by_role("button", name="Restore this session").is_visible()
    check("Session 3 cancelled")
    page.get_by_role("link", name="Invites for the set").click()
    cancellations = send_invites(
        page, smtp, 6, "Cancellation: the session is cancelled", "CANCEL, sequence 1", check
    )
    for message in cancellations:
        method, calendar = calendar_of(message)
        event = event_of(message)
        assert method == "CANCEL" and calendar["METHOD"] == "CANCEL"
        assert str(event["UID"]) == uids["2037-04-09"]
        assert str(event["STATUS"]) == "CANCELLED"
    check("Cancellations sent")

    # Session 1 afterwards: attendance waits for the start, so first the session is moved to a
    # day that has passed (the server's clock cannot be moved on 2037); then attendance (one
    # sent apologies) and an action.
    page.goto(session_1)
    assert page.get_by_text("You can record who was present once the session has started").count()
    details = form_with(page, "Save date, time and place")
    details.get_by_label("Date").fill((date.today() - timedelta(days=1)).isoformat())
    details.get_by_role("button", name="Save date, time and place").click()
    page.get_by_text("Session details saved.").wait_for()
    absent = MEMBERS[2][0]
    page.get_by_role("button", name="Mark all present").click()
    page.get_by_text("Everyone is marked present").wait_for()
    attendance = form_with(page, "Save attendance")
    for name, _email, _grade in MEMBERS:
        assert attendance.get_by_role("group", name=name).get_by_label("Present").is_checked()
    attendance.get_by_role("group", name=absent).get_by_label("Apologies").check()  # the exception
    attendance.get_by_role("button", name="Save attendance").click()
    page.get_by_text("Attendance saved.").wait_for()
    open_details(page, "Record an action")
    action_form = form_with(page, "Record action")
    action_form.get_by_label("Member").select_option(label=MEMBERS[0][0])
    action_form.get_by_label("Action").fill(ACTION)
    action_form.get_by_label("By when").fill("Next session")
    action_form.get_by_label("Support needed").fill("A slot on the huddle agenda")
    action_form.get_by_role("button", name="Record action").click()
    page.get_by_text("Action recorded.").wait_for()
    assert (
        page.get_by_role("table", name="Actions agreed at this session")
        .get_by_text(ACTION)
        .is_visible()
    )
    check("Session 1 attendance and action")

    # Session 2 lists the action for review, on the page and in its facilitator pack.
    page.get_by_role("link", name="Thames Valley FY leadership set B").click()
    session_link(page, 2).click()
    review = page.get_by_role("table", name="Open actions from earlier sessions")
    review.wait_for()
    assert review.get_by_text(ACTION).is_visible()
    assert review.get_by_text(MEMBERS[0][0]).is_visible()
    check("Session 2 actions to review")
    pack_2 = pdf_text(keep(fetch(page, "Facilitator pack (PDF)"), "session-2-pack.pdf"))
    assert ACTION in pack_2

    # Certificates for session 1: one for each member who was present, none for apologies.
    page.goto(session_1)
    certificates = download(page, "Certificates of attendance (PDF)")
    certificates = pdf_text(keep(certificates, "session-1-certificates.pdf"))
    for name, _email, _grade in MEMBERS:
        assert (name in certificates) == (name != absent), name
    check("Session 1 certificates available")
