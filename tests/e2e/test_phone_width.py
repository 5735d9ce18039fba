"""Every main page at a phone's width (390 px): no sideways scrolling, and a phone-sized
screenshot of each in test-artifacts/e2e/phone-*.png; print previews ask for nothing missing."""

from __future__ import annotations

import re

import pytest

from .conftest import sign_in
from .test_accessibility import DEMO, PAGES

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
SIGNED_OUT = ["/login", "/login/forgot"]
# Beyond the accessibility list: home, and the send log (after a send).
MORE = ["/", f"{DEMO}/invites#log"]
PREVIEWS = ["facilitator-pack", "handout", "sign-in"]

# The elements that stick out past the viewport's right edge, deepest first, to name in failures.
WIDER_THAN_VIEWPORT = """() => {
    const width = document.documentElement.clientWidth;
    const scrolls = el => el && el !== document.body
        && (["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX)
            || scrolls(el.parentElement));
    const out = [];
    for (const el of document.body.querySelectorAll("*")) {
        const box = el.getBoundingClientRect();
        if (box.right > width + 1 && !scrolls(el.parentElement)) {
            if (![...el.children].some(c => c.getBoundingClientRect().right > width + 1)) {
                const id = el.id ? "#" + el.id : "";
                const cls = el.className && el.className.baseVal === undefined
                    ? "." + String(el.className).trim().split(/\\s+/).join(".") : "";
                const right = Math.round(box.right);
                out.push(`${el.tagName.toLowerCase()}${id}${cls} (right edge ${right})`);
            }
        }
    }
    return out.slice(0, 8);
}"""


@pytest.fixture
def phone(browser):
    """A phone-sized browser context, and the responses that failed while it was open."""
    ctx = browser.new_context(
        locale="en-GB", timezone_id="Europe/London", viewport=PHONE, device_scale_factor=1
    )
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.failed = []
    page.on(
        "response",
        lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    yield page
    ctx.close()


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def fits(page, path: str, artifacts, step: int) -> str | None:
    """Open `path`, keep a screenshot, and say what sticks out if the page scrolls sideways."""
    response = page.goto(page.base + path)
    assert response.status == 200, path
    page.screenshot(path=str(artifacts / f"phone-{step:02d}-{slug(path)}.png"), full_page=True)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll <= PHONE["width"]:
        return None
    return f"{path}: {scroll} px wide: " + "; ".join(page.evaluate(WIDER_THAN_VIEWPORT))


def test_every_page_fits_a_phone(phone, shared_server, artifacts):
    for old in artifacts.glob("phone-*.png"):
        old.unlink()
    phone.base = shared_server.url
    problems, step = [], 0
    for path in SIGNED_OUT:
        step += 1
        problems.append(fits(phone, path, artifacts, step))
    sign_in(phone, shared_server)
    phone.goto(shared_server.url + f"{DEMO}/invites")
    if phone.get_by_role("button", name=re.compile(r"^Send \d+ message")).count():
        phone.get_by_role("button", name=re.compile(r"^Send \d+ message")).click()
        phone.get_by_role("status").first.wait_for()
    for path in MORE + [path for path, _title in PAGES]:
        step += 1
        problems.append(fits(phone, path, artifacts, step))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
    assert not phone.failed, phone.failed


def test_print_previews_request_nothing_that_is_missing(phone, shared_server):
    phone.base = shared_server.url
    sign_in(phone, shared_server)
    phone.failed.clear()
    for stem in PREVIEWS:
        phone.goto(f"{shared_server.url}{DEMO}/sessions/session-2/print/{stem}.html")
        phone.wait_for_load_state("networkidle")
    assert not phone.failed, phone.failed  # a favicon.ico that is not there, for one
