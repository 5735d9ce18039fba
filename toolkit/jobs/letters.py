"""What the automatic messages say: the reminder before a session and the follow-up after it."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit import sets
from toolkit.casebank import Resource
from toolkit.letters import (
    Link,
    Section,
    greeting,
    n_of_m,
    prework_sections,
    render,
    session_label,
    when_where,
)
from toolkit.mail import Letter
from toolkit.models import Action, Meeting, Member
from toolkit.text import one_line


@dataclass(frozen=True)
class Reminder:
    """A reminder's facts: the session, the member, their open actions, whether they present."""

    meeting: Meeting
    member: Member
    facilitator: str
    actions: tuple[Action, ...] = ()
    presenting: bool = False
    replies: Section | None = None  # "I can come" / "I can't come", to the member's page


def reminder_letter(reminder: Reminder, library: dict[str, Resource]) -> Letter:
    """Time, place and video link; the pre-work with its total time; the member's actions from
    earlier meetings; and whether they are down to present."""
    meeting = reminder.meeting
    which = f"{n_of_m(meeting)} in {meeting.learning_set.title}, “{meeting.title}”"
    subject = f"Reminder: {session_label(meeting)}, {sets.describe_when(meeting)}"
    opening = f"A reminder that {which} is on {sets.describe_when(meeting)}."
    sections = [Section(paragraphs=((greeting(reminder.member.name),), (opening,)))]
    sections.append(when_where(meeting))
    sections += [reminder.replies] if reminder.replies else []
    sections += prework_sections(meeting, library)
    if reminder.presenting:
        sections.append(
            Section(
                heading="You are presenting",
                paragraphs=(
                    (
                        "You are down to present at this session: bring a situation from your work "
                        "that you would like the set's help with.",
                    ),
                ),
            )
        )
    if reminder.actions:
        items = tuple((_action_line(a),) for a in reminder.actions)
        sections.append(Section(heading="Your actions from earlier meetings", items=items))
    sections.append(_sign_off(reminder.facilitator))
    return render(subject, f"Reminder: {session_label(meeting)}", sections)


@dataclass(frozen=True)
class FollowUp:
    """A follow-up's facts: the session, the member, how they attended, their new actions."""

    meeting: Meeting
    member: Member
    facilitator: str
    attended: str | None  # present, apologies, absent, or None when attendance was not taken
    actions: tuple[Action, ...] = ()
    attachments: tuple[str, ...] = ()  # titles of the PDFs attached
    evaluation: str | None = None  # the evaluation on the member's page, for members who came
    closes: str = ""  # when the evaluation closes, on the set's clock


def follow_up_letter(follow_up: FollowUp) -> Letter:
    """Thanks (or "you were missed"), the member's actions as recorded, and what is attached."""
    meeting = follow_up.meeting
    which = f"{n_of_m(meeting)} in {meeting.learning_set.title}, “{meeting.title}”"
    if follow_up.attended in ("apologies", "absent"):
        opening = f"You were missed at {which}. Here is what you need to catch up."
    else:
        opening = f"Thank you for coming to {which}."
    sections = [Section(paragraphs=((greeting(follow_up.member.name),), (opening,)))]
    if follow_up.actions:
        items = tuple((_action_line(a),) for a in follow_up.actions)
        sections.append(Section(heading="Your actions, as recorded", items=items))
    elif follow_up.attended != "apologies" and follow_up.attended != "absent":
        none = "No actions were recorded for you at this session."
        sections.append(Section(heading="Your actions, as recorded", paragraphs=((none,),)))
    paragraphs: list[tuple] = []
    if follow_up.evaluation:
        paragraphs += [
            (
                "Please answer the session's evaluation on your page: it takes a few minutes, "
                f"is anonymous, and closes on {follow_up.closes} "
                f"({meeting.learning_set.time_zone} time). It shapes the next meetings.",
            ),
            ("Evaluation: ", Link(follow_up.evaluation, follow_up.evaluation)),
            (
                "On the same page you can write your own reflection (What? So what? Now what?) "
                "and download your learning set record for your ePortfolio.",
            ),
        ]
    if follow_up.attachments:
        paragraphs.append(("Attached: " + ", ".join(follow_up.attachments) + ".",))
        paragraphs.append(
            (
                "Use the reflection sheet to write up what you learned for your ePortfolio"
                + (
                    "; if you would rather answer on paper, return the evaluation form to your "
                    "facilitator."
                    if follow_up.evaluation
                    else ", and return the evaluation form to your facilitator: it shapes the "
                    "next meetings."
                ),
            )
        )
    if paragraphs:
        sections.append(Section(heading="Reflection and evaluation", paragraphs=tuple(paragraphs)))
    sections.append(_sign_off(follow_up.facilitator))
    subject = f"After {session_label(meeting)}"
    return render(subject, subject, sections)


def _action_line(action: Action) -> str:
    due = f" (by {one_line(action.due)})" if action.due.strip() else ""
    support = f"; support: {one_line(action.support)}" if action.support.strip() else ""
    return f"{one_line(action.text)}{due}{support}"


def _sign_off(facilitator: str) -> Section:
    who = one_line(facilitator) or "Your facilitator"
    return Section(
        paragraphs=((f"{who} facilitates this set: reply to this e-mail to reach them.",),)
    )
