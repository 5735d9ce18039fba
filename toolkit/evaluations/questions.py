"""The session evaluation's questions: one definition for the printed form and the online one."""

from __future__ import annotations

from dataclasses import dataclass

# the five points of every rating question, 1 to 5
SCALE = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")


@dataclass(frozen=True)
class Question:
    """One question: a statement rated on SCALE (kind "rating") or a free-text answer ("text")."""

    id: str
    kind: str  # rating or text
    text: str
    group: str  # the heading it sits under on the form


@dataclass(frozen=True)
class Group:
    """A heading of the form and what kind of evaluation it is (the Kirkpatrick level)."""

    title: str
    level: str


GROUPS = (
    Group("How was the session?", "reaction"),
    Group("What did you learn?", "learning"),
    Group("Looking ahead", "next steps"),
)

QUESTIONS: tuple[Question, ...] = (
    Question("use-of-time", "rating", "The session was a good use of my time.", GROUPS[0].title),
    Question("speak-openly", "rating", "I felt able to speak openly.", GROUPS[0].title),
    Question("focus", "rating", "The facilitation kept us focused and on time.", GROUPS[0].title),
    Question(
        "relevance", "rating", "The case and questions were relevant to my work.", GROUPS[0].title
    ),
    Question(
        "understanding",
        "rating",
        "I understand a leadership issue better than before.",
        GROUPS[1].title,
    ),
    Question(
        "open-questions", "rating", "I can ask more open questions than before.", GROUPS[1].title
    ),
    Question(
        "next-step", "rating", "I know what I will try next in my own practice.", GROUPS[1].title
    ),
    Question("take-away", "text", "The most useful thing I will take away", GROUPS[2].title),
    Question(
        "improve", "text", "One thing that would make the next session better", GROUPS[2].title
    ),
)

RATINGS = tuple(q for q in QUESTIONS if q.kind == "rating")
TEXTS = tuple(q for q in QUESTIONS if q.kind == "text")


def grouped() -> list[tuple[Group, list[Question]]]:
    """The questions under their headings, in the form's order."""
    return [(g, [q for q in QUESTIONS if q.group == g.title]) for g in GROUPS]
