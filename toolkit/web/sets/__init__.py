"""Learning sets on the web: members, schedule, the session builder, attendance and actions."""

from toolkit.web.sets import invites  # noqa: F401  (registers the invite routes on bp)
from toolkit.web.sets.invites import feeds
from toolkit.web.sets.routes import bp

__all__ = ["bp", "feeds"]
