"""Session evaluations answered online from members' own pages: anonymous, once per member,
closing 14 days after the session, and released to the facilitator only when closed with enough
answers. One flat API; import from `toolkit.evaluations`."""

from toolkit.evaluations.answers import (  # noqa: F401
    NOT_THERE,
    OPEN_DAYS,
    REFUSALS,
    answered_count,
    close,
    closes_at,
    has_answered,
    is_closed,
    read_form,
    status,
    statuses,
    submit,
)
from toolkit.evaluations.questions import (  # noqa: F401
    GROUPS,
    QUESTIONS,
    RATINGS,
    SCALE,
    TEXTS,
    Group,
    Question,
    grouped,
)
from toolkit.evaluations.results import (  # noqa: F401
    MIN_ANSWERS,
    Progress,
    RatingResult,
    SessionResults,
    TextResult,
    progress_for,
    released,
    released_for,
)
