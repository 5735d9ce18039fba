"""A member's own page, reached by their private link: what it shows, and what they may change.

One flat API over the modules of this package; import from `toolkit.members`.
"""

from toolkit.members.links import (  # noqa: F401
    REPLY_WORDS,
    evaluation_url,
    link_letter,
    page_url,
    reply_section,
    reply_url,
)
from toolkit.members.page import (  # noqa: F401
    EvaluationLine,
    MemberPage,
    PreworkItem,
    SessionLine,
    find_meeting,
    member_page,
    own_action,
    tick_prework,
)
