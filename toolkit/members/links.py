"""Addresses of a member's page, and the "I can come" / "I can't come" lines every invite and
reminder carries (the same words and addresses in the plain text and the HTML)."""

from __future__ import annotations

from toolkit.letters import Link, Section, greeting, render
from toolkit.mail import Letter
from toolkit.models import LearningSet, Meeting, Member

# what each answer in an address means, and the words before its link
REPLY_WORDS = {"yes": ("attending", "I can come"), "no": ("apologies", "I can't come")}


def page_url(base_url: str, token: str) -> str:
    """The member's own page (the web's `members.page` route)."""
    return f"{base_url}/m/{token}"


def reply_url(base_url: str, token: str, meeting: Meeting, answer: str) -> str:
    """Where "I can come" (yes) or "I can't come" (no) leads: a page that asks before saving."""
    return f"{page_url(base_url, token)}/reply/{meeting.key}/{answer}"


def evaluation_url(base_url: str, token: str, meeting: Meeting) -> str:
    """The session's evaluation on the member's page."""
    return f"{page_url(base_url, token)}/evaluation/{meeting.key}"


def reply_section(base_url: str, token: str, meeting: Meeting) -> Section:
    """Each answer on a line of its own, its address after the words; then the member's page."""
    lines = tuple(
        (f"{words}: ", Link(url, url))
        for answer, (_status, words) in REPLY_WORDS.items()
        for url in [reply_url(base_url, token, meeting, answer)]
    )
    page = page_url(base_url, token)
    mine = ("Your page (sessions, pre-work, your actions): ", Link(page, page))
    return Section(heading="Can you come", paragraphs=(*lines, mine))


def link_letter(member: Member, learning_set: LearningSet, url: str) -> Letter:
    """The e-mail with a member's private link to their page, sent again by the facilitator."""
    paragraphs = [
        greeting(member.name),
        f"This is your private link to your page for {learning_set.title}:",
        Link(url, url),
        "On it you can say whether you can come to each session, tick off the pre-work, update "
        "your actions and rate yourself in the leadership self-assessment. No account or "
        "password is needed.",
        "Keep this link to yourself: anyone who has it can see your page and reply for you. If "
        "someone else may have it, open it and choose to replace it: the old link then stops "
        "working.",
    ]
    subject = f"Your page for {learning_set.title}"
    return render(subject, subject, [Section(paragraphs=tuple((p,) for p in paragraphs))])
