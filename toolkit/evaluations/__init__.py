"""Session evaluations answered online from members' own pages: anonymous, once per member,
closing 14 days after the session, and released to the facilitator only when closed with enough
answers. One flat API; import from `toolkit.evaluations`. Names load their module on first use
(`toolkit.lazy`): printing the form needs only its questions, not the results' dependencies."""

from toolkit.lazy import exports

__getattr__, __all__ = exports(
    __name__,
    {
        "answers": (
            "NOT_THERE",
            "OPEN_DAYS",
            "REFUSALS",
            "answered_count",
            "close",
            "closes_at",
            "has_answered",
            "is_closed",
            "read_form",
            "status",
            "statuses",
            "submit",
        ),
        "questions": (
            "GROUPS",
            "QUESTIONS",
            "RATINGS",
            "SCALE",
            "TEXTS",
            "Group",
            "Question",
            "grouped",
        ),
        "results": (
            "MIN_ANSWERS",
            "Progress",
            "RatingResult",
            "SessionResults",
            "TextResult",
            "progress_for",
            "released",
            "released_for",
        ),
    },
)
