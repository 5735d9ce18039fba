"""Markdown to safe HTML for cases and notes written by facilitators."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(source: str) -> str:
    """Render Markdown and sanitise the result, so a data file can never inject script."""
    return nh3.clean(_md.render(source), link_rel="noopener noreferrer")


# control characters (C0, DEL, C1 such as NEL U+0085) and the Unicode line and paragraph separators
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """A value safe for one line: no line breaks or control characters, so no header injection."""
    return _BREAKS.sub(" ", text).strip()
