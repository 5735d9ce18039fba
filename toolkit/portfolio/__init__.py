"""A member's portfolio: their private reflections on sessions they came to, and their learning
set record (PDF and plain text) to paste into an ePortfolio. Import from `toolkit.portfolio`."""

from toolkit.portfolio.record import (  # noqa: F401
    Record,
    build_record,
    certificate_pdf,
    record_html,
    record_pdf,
    record_text,
)
from toolkit.portfolio.reflections import (  # noqa: F401
    PARTS,
    Written,
    attended,
    reflections_of,
    save_reflection,
)
