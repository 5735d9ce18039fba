"""Addresses of a member's page, and the "I can come" / "I can't come" lines every invite and
reminder carries (the same words and addresses in the plain text and the HTML)."""

from __future__ import annotations

from toolkit.letters import Link, Section
from toolkit.models import Meeting

# what each answer in an address means, and the words before its link
REPLY_WORDS = {"yes": ("attending", "I can come"), "no": ("apologies", "I can't come")}


def page_url(base_url: str, token: str) -> str:
    """The member's own page (the web's `members.page` route)."""
    return f"{base_url}/m/{token}"


def reply_url(base_url: str, token: str, meeting: Meeting, answer: str) -> str:
    """Where "I can come" (yes) or "I can't come" (no) leads: a page that asks before saving."""
    return f"{page_url(base_url, token)}/reply/{meeting.key}/{answer}"


def reply_section(base_url: str, token: str, meeting: Meeting) -> Section:
    """Each answer on a line of its own, its address after the words; then the member's page."""
    lines = tuple(
        (f"{words}: ", Link(url, url))
        for answer, (_status, words) in REPLY_WORDS.items()
        for url in [reply_url(base_url, token, meeting, answer)]
    )
    page = page_url(base_url, token)
    mine = ("Your page (sessions, pre-work, your actions): ", Link(page, page))
    return Section(heading="Can you come?", paragraphs=(*lines, mine))
