"""Members' replies to sessions: from their page, their calendar's iTIP REPLY, or a set file.

One flat API over the modules of this package; import from `toolkit.replies`.
"""

from toolkit.replies.itip import (  # noqa: F401
    CalendarReply,
    Found,
    read_bytes,
    read_path,
    read_upload,
)
from toolkit.replies.matching import (  # noqa: F401
    Outcome,
    Refused,
    apply_reply,
    import_replies,
)
from toolkit.replies.record import (  # noqa: F401
    SOURCES,
    STATUSES,
    WORDS,
    Summary,
    record_reply,
    replies_by_member,
    summary,
)
