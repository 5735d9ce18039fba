"""Learning sets on the web: members, schedule, the session builder, attendance and actions."""

from toolkit.web.sets import (  # noqa: F401  (routes on bp)
    assessment,
    invites,
    messages,
    replies,
    sessions,
)
from toolkit.web.sets.invites import feeds
from toolkit.web.sets.routes import bp

__all__ = ["bp", "feeds"]
