"""Learning sets on the web: members, schedule, the session builder, attendance and actions."""

from toolkit.web.sets.routes import bp

__all__ = ["bp"]
