"""What the e-mails say, read back: greetings, session N of M, what changed, why it was
cancelled, the HTML part parsed as a document, links from TOOLKIT_BASE_URL, the outbox's names."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser

import pytest

from toolkit import db as database
from toolkit import sets
from toolkit.letters import greeting
from toolkit.mail import Outbox
from toolkit.models import LearningSet, Member

from .conftest import send_and_deliver
from .test_invites import (  # noqa: F401 (fixtures)
    _close_sessions,
    config,
    factory,
    owed,
    send,
    set_id,
)
from .test_sets_web import make_set, text

TEMPLATE = "Action learning"  # the session title the template gives


class Node:
    """An element of a parsed HTML document: its tag, attributes, children and text."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def all(self, tag: str) -> list[Node]:
        found = [c for c in self.children if c.tag == tag]
        return found + [n for c in self.children for n in c.all(tag)]


class Document(HTMLParser):
    """html.parser into a tree of Nodes (void elements closed at once)."""

    VOID = {"meta", "br", "img", "link", "input", "hr"}

    def __init__(self, source: str) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.doctype = ""
        self.feed(source)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def html_of(message: EmailMessage) -> Document:
    return Document(message.get_body(("html",)).get_content())


def plain_of(message: EmailMessage) -> str:
    """The plain-text part, its CRLF line ends (as in the file) read as newlines."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def outbox_messages(folder) -> dict[str, EmailMessage]:
    return {
        p.name: message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted(folder.glob("*.eml"))
    }


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Zoë Marsh", "Dear Zoë,"),
        ("O'Brien, Siobhán", "Dear O'Brien,"),
        ("O'Brien,", "Dear O'Brien,"),
        ("  Tom.  ", "Dear Tom,"),
        ("Dr Amara Okafor,", "Dear Dr Amara Okafor,"),
        ("(Priya) Shah", "Dear Priya,"),
        ("Zoë\u2028Marsh", "Dear Zoë,"),
        ("", "Hello,"),
        (",,, ; .", "Hello,"),
    ],
)
def test_greetings_never_double_their_punctuation(name, said):
    assert greeting(name) == said


def test_invite_says_session_n_of_m_in_text_and_html(factory, set_id, config, tmp_path):  # noqa: F811
    send(factory, set_id, config, Outbox(tmp_path / "out"))
    message = outbox_messages(tmp_path / "out")["session-2-zoe-example-nhs-uk-request-0.eml"]
    assert message["Subject"] == (
        f"Invitation: Set A, session 2 of 3: {TEMPLATE}, Thu 25 Mar 2027, 14:00 to 17:15"
    )
    body = plain_of(message)
    assert body.startswith("Dear Zoë,\n\nYou are invited to session 2 of 3 in Set A, ")
    assert f"“{TEMPLATE}”" in body and "the next meeting" not in body
    assert "When: Thu 25 Mar 2027, 14:00 to 17:15 (Europe/London time)" in body
    assert "Video link: https://teams.example/meet/set-a" in body and "Agenda:" in body

    doc = html_of(message)
    assert doc.doctype.lower() == "doctype html"
    (page,) = doc.root.all("html")
    assert page.attrs["lang"] == "en-GB"
    assert page.all("title")[0].text == message["Subject"]
    assert [h.text for h in page.all("h1")] == [f"Invitation: Set A, session 2 of 3: {TEMPLATE}"]
    assert [h.text for h in page.all("h2")] == ["When and where", "Agenda"]
    (when_where,) = page.all("dl")
    facts = dict(zip((t.text for t in when_where.all("dt")), when_where.all("dd"), strict=True))
    assert list(facts) == ["When", "Where", "Video link"]
    assert facts["Where"].text == "Seminar Room 2"
    (link,) = facts["Video link"].all("a")
    assert link.attrs["href"] == link.text == "https://teams.example/meet/set-a"
    agenda = [li.text for li in page.all("ul")[0].all("li")]
    assert agenda[0] == "14:00 Check-in" and len(agenda) == 10
    # nothing to fetch: no images, stylesheets, scripts or frames
    for tag in ("img", "link", "script", "style", "iframe", "object"):
        assert not page.all(tag), tag
    everything = [page, *(n for t in ("a", "p", "dd", "li", "meta") for n in page.all(t))]
    assert not any("src" in n.attrs or "style" in n.attrs for n in everything)


def test_names_stay_text_in_html(factory, set_id, config, tmp_path):  # noqa: F811
    with database.transaction(factory) as db:
        s = db.get(LearningSet, set_id)
        s.title = 'Set <b>A</b> & "friends"'
        s.video_url = "javascript:alert(1)"
        member = db.query(Member).filter_by(email="zoe@example.nhs.uk").one()
        member.name = "<script>alert(1)</script>"
    send(factory, set_id, config, Outbox(tmp_path / "out"))
    message = outbox_messages(tmp_path / "out")["session-1-zoe-example-nhs-uk-request-0.eml"]
    page = html_of(message).root
    assert not page.all("script") and not page.all("b") and not page.all("a")
    assert page.all("p")[0].text == "Dear <script>alert(1)</script>,"
    assert page.all("h1")[0].text.startswith('Invitation: Set <b>A</b> & "friends", session 1')
    assert "Video link: javascript:alert(1)" in plain_of(message)  # shown, never a link


def test_update_says_what_changed(factory, set_id, config, tmp_path):  # noqa: F811
    with database.transaction(factory) as db:  # a change before anyone was invited: not news
        second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        sets.change_meeting(db, second, venue="Room 1")
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    with database.transaction(factory) as db:
        second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        moved = second.starts_at + timedelta(days=1, hours=1)
        sets.change_meeting(db, second, start=moved, minutes=180)
        sets.change_meeting(db, second, venue="Education Centre, Room 5")
        sets.change_meeting(db, second, video_url="https://teams.example/meet/new")
    send(factory, set_id, config, Outbox(tmp_path / "update"))
    updates = outbox_messages(tmp_path / "update")
    assert len(updates) == 4
    message = updates["session-2-zoe-example-nhs-uk-request-4.eml"]
    assert message["Subject"].startswith("Updated: Set A, session 2 of 3: ")
    assert message["Subject"].endswith("Fri 26 Mar 2027, 15:00 to 18:00")
    body = plain_of(message)
    assert "has changed. This replaces your earlier invitation." in body
    assert (
        "What has changed:\n"
        "- Date: was Thu 25 Mar 2027, now Fri 26 Mar 2027\n"
        "- Time: was 14:00 to 17:15, now 15:00 to 18:00\n"
        "- Place: was Room 1, now Education Centre, Room 5\n"
        "- Video link: was https://teams.example/meet/set-a, now https://teams.example/meet/new\n"
    ) in body
    page = html_of(message).root
    assert [h.text for h in page.all("h2")] == ["What has changed", "When and where", "Agenda"]
    changes = page.all("ul")[0].all("li")
    assert changes[2].text == "Place: was Room 1, now Education Centre, Room 5"
    assert [a.attrs["href"] for a in changes[3].all("a")] == [
        "https://teams.example/meet/set-a",
        "https://teams.example/meet/new",
    ]


def test_cancel_says_why_not_agenda(factory, set_id, config, tmp_path):  # noqa: F811
    send(factory, set_id, config, Outbox(tmp_path / "first"))
    reason = "The seminar rooms are closed for a fire drill.\n\nWe will add a session in June."
    with database.transaction(factory) as db:
        third = sets.meetings_in_order(db.get(LearningSet, set_id))[2]
        sets.set_status(db, third, "cancelled", reason)
    send(factory, set_id, config, Outbox(tmp_path / "cancel"))
    message = outbox_messages(tmp_path / "cancel")["session-3-zoe-example-nhs-uk-cancel-1.eml"]
    assert message["Subject"].startswith("Cancelled: Set A, session 3 of 3: ")
    body = plain_of(message)
    assert f"Session 3 of 3 in Set A, “{TEMPLATE}”, on Thu 6 May 2027, 14:00 to 17:15," in body
    assert "has been cancelled. Your calendar entry will be removed." in body
    assert "Why:\nThe seminar rooms are closed for a fire drill.\n\nWe will add a session" in body
    for absent in ("Agenda", "Check-in", "teams.example", "Video link"):
        assert absent not in body, absent
    page = html_of(message).root
    assert [h.text for h in page.all("h2")] == ["Why"]
    assert not page.all("a") and not page.all("ul")
    assert "fire drill" in page.all("p")[2].text


def test_n_of_m_counts_only_the_sessions_that_will_happen(factory, set_id, config, tmp_path):  # noqa: F811
    with database.transaction(factory) as db:
        second = sets.meetings_in_order(db.get(LearningSet, set_id))[1]
        sets.set_status(db, second, "cancelled", "Strike day")
    send(factory, set_id, config, Outbox(tmp_path / "out"))
    messages = outbox_messages(tmp_path / "out")
    third = messages["session-3-zoe-example-nhs-uk-request-0.eml"]
    assert third["Subject"].startswith("Invitation: Set A, session 2 of 2: ")
    assert "You are invited to session 2 of 2 in Set A, " in plain_of(third)
    first = messages["session-1-zoe-example-nhs-uk-request-0.eml"]
    assert first["Subject"].startswith("Invitation: Set A, session 1 of 2: ")


def test_outbox_keeps_every_message(factory, set_id, config, env):  # noqa: F811
    outbox = Outbox(env.outbox_dir)
    send(factory, set_id, config, outbox)
    with database.transaction(factory) as db:
        third = sets.meetings_in_order(db.get(LearningSet, set_id))[2]
        sets.change_meeting(db, third, venue="Room 9")
    send(factory, set_id, config, outbox)
    with database.transaction(factory) as db:
        sets.set_status(db, sets.meetings_in_order(db.get(LearningSet, set_id))[2], "cancelled")
    send(factory, set_id, config, outbox)
    resend = owed(factory, set_id, resend=True)
    from toolkit import invites

    invites.send_pending(factory, resend, config, outbox)
    invites.send_pending(factory, owed(factory, set_id, resend=True), config, outbox)
    zoe = sorted(p.name for p in env.outbox_dir.glob("session-*-zoe-*.eml"))
    assert zoe == [
        "session-1-zoe-example-nhs-uk-request-0-resend-1.eml",
        "session-1-zoe-example-nhs-uk-request-0-resend-2.eml",
        "session-1-zoe-example-nhs-uk-request-0.eml",
        "session-2-zoe-example-nhs-uk-request-0-resend-1.eml",
        "session-2-zoe-example-nhs-uk-request-0-resend-2.eml",
        "session-2-zoe-example-nhs-uk-request-0.eml",
        "session-3-zoe-example-nhs-uk-cancel-2.eml",
        "session-3-zoe-example-nhs-uk-request-0.eml",
        "session-3-zoe-example-nhs-uk-request-1.eml",
    ]
    kinds = [m["Subject"].split(":")[0] for m in outbox_messages(env.outbox_dir).values()]
    assert kinds.count("Cancelled") == 4 and kinds.count("Updated") == 4


def test_self_assessment_links_come_from_the_base_url_not_a_forged_host(app, signed_in, env):
    make_set(signed_in, first="2037-02-12")
    # the same signed-in browser, its requests sent with a stranger's Host header
    signed_in.set_cookie("session", signed_in.get_cookie("session").value, domain="evil.example")
    forged = {"base_url": "http://evil.example"}
    assert "evil.example" in signed_in.get("/sets/set-a", **forged).request.host_url
    sent = signed_in.post("/sets/set-a/self-assessment/send", **forged)
    assert sent.status_code == 302 and sent.location.startswith("/sets/set-a/sending/")
    app.extensions["toolkit"].queue.burst()
    letters = outbox_messages(env.outbox_dir)
    assert len(letters) == 6
    for message in letters.values():
        body = plain_of(message)
        assert "evil.example" not in message.as_string()
        link = next(w for w in body.split() if "/self-assessment/" in w)
        assert link.startswith("http://127.0.0.1:5000/self-assessment/")
        (anchor,) = html_of(message).root.all("a")
        assert anchor.attrs["href"] == anchor.text == link
    review = text(signed_in.get("/sets/set-a/invites", **forged))
    assert "webcal://127.0.0.1:5000/feeds/" in review and "evil.example" not in review


def test_line_separators_in_titles_and_names_send_and_read_back(app, signed_in, env):
    make_set(signed_in, first="2037-02-12")
    with database.transaction(app.extensions["toolkit"].sessions) as db:
        s = db.query(LearningSet).one()
        s.title = "Set\u2028A\u2029Kent\x85Surrey"
        s.members[0].name = "Zoë\u2028Marsh"
        sets.meetings_in_order(s)[0].title = "Starting\u2029out"
    sending = send_and_deliver(signed_in, app, "/sets/set-a/invites/send")
    assert "36 of 36 messages delivered" in " ".join(re.sub("<[^>]+>", " ", text(sending)).split())
    sent = send_and_deliver(signed_in, app, "/sets/set-a/self-assessment/send")
    assert sent.status_code == 200
    letters = outbox_messages(env.outbox_dir)
    first = letters["session-1-zoe-example-nhs-uk-request-0.eml"]
    assert first["Subject"].startswith(
        "Invitation: Set A Kent Surrey, session 1 of 6: Starting out"
    )
    assert first["To"].addresses[0].display_name == "Zoë Marsh"
    for message in letters.values():
        assert not any(c in str(message["Subject"]) for c in "\u2028\u2029\x85\r\n")
