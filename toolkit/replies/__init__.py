"""Members' replies to sessions: from their page, their calendar's iTIP REPLY, or a set file.

One flat API over the modules of this package; import from `toolkit.replies`. Names load their
module on first use (`toolkit.lazy`): registering `toolkit replies`, as every command does,
loads neither icalendar nor the database models.
"""

from toolkit.lazy import exports

__getattr__, __all__ = exports(
    __name__,
    {
        "itip": ("CalendarReply", "Found", "read_bytes", "read_path", "read_upload"),
        "matching": ("Outcome", "Refused", "apply_reply", "import_replies"),
        "record": (
            "SOURCES",
            "STATUSES",
            "WORDS",
            "Summary",
            "record_reply",
            "replies_by_member",
            "summary",
        ),
    },
)
