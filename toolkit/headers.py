"""E-mail headers written so that every reader parses them back exactly as they were meant.

The standard library's folding (Python 3.11 and 3.12) can turn an en dash into an empty
encoded-word (`=?utf-8?q??=`), double a space, or leave part of a display name unencoded after
an encoded-word, so a name holding commas can show as several addresses. `POLICY` is
`email.policy.SMTP` except that it folds the headers the toolkit writes from people's text
(Subject and the address headers) itself: plain ASCII words as they are, display names with
specials as one quoted-string, and anything else as UTF-8 encoded-words (RFC 2047) of whole
characters, each at most 75 long, on lines of at most 78.
"""

from __future__ import annotations

import base64
import re
from email.policy import EmailPolicy
from typing import Any

MAX_LINE = 78
# "=?utf-8?b?" + base64 of 42 bytes (56) + "?=" is 68 long: after "Reply-To: " a line of 78
_WORD_BYTES = 42
_LONGEST_PLAIN_WORD = 60
_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # atoms: a display name as it is
_FOLDED_HERE = frozenset({"subject", "from", "sender", "reply-to", "to", "cc"})


def encoded_words(text: str) -> list[str]:
    """`text` as UTF-8 base64 encoded-words of whole characters, cut after a space where one
    is near (Python's parser, unlike RFC 2047, keeps a space between two encoded-words of a
    display name, so a cut inside a word would show there)."""
    chunks, chunk = [], ""
    for char in text:
        if chunk and len((chunk + char).encode()) > _WORD_BYTES:
            cut = chunk.rfind(" ") + 1 or len(chunk)
            chunks.append(chunk[:cut])
            chunk = chunk[cut:]
        chunk += char
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c.encode()).decode()}?=" for c in chunks if c]


def _plain_words(text: str) -> list[str] | None:
    """The text's words if it can stand in a header as it is, else None."""
    words = text.split(" ")
    plain = text.isascii() and text.isprintable() and "=?" not in text
    if not plain or "" in words or max(len(w) for w in words) > _LONGEST_PLAIN_WORD:
        return None
    return words


def text_words(text: str) -> list[str]:
    """Words for an unstructured header such as Subject."""
    return _plain_words(text) or encoded_words(text)


def phrase_words(name: str) -> list[str]:
    """Words for a display name: runs of ASCII words as atoms or one quoted-string, runs of
    other words as encoded-words; a run never shares an encoded-word with its neighbours."""
    words: list[str] = []
    for plain, run in _runs(name):
        if not plain:
            words += encoded_words(run)
        elif _PHRASE.fullmatch(run) and "" not in run.split(" "):
            words += run.split(" ")
        else:
            quoted = '"' + run.replace("\\", "\\\\").replace('"', '\\"') + '"'
            words += quoted.split(" ")  # a quoted-string may fold at its spaces
    return words


def _runs(name: str) -> list[tuple[bool, str]]:
    """The name cut at spaces into runs of plain ASCII words and runs of other words."""
    runs: list[tuple[bool, list[str]]] = []
    for word in name.split(" "):
        plain = word.isascii() and word.isprintable() and "=?" not in word
        if runs and runs[-1][0] == plain:
            runs[-1][1].append(word)
        else:
            runs.append((plain, [word]))
    return [(plain, " ".join(run)) for plain, run in runs]


def fold(name: str, words: list[str], linesep: str) -> str:
    """`Name: words…`, breaking lines between words so that none passes 78 where it can help."""
    lines, line = [], f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > MAX_LINE and line.strip() != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return linesep.join(lines) + linesep


def _mailbox_words(address: Any) -> list[str] | None:
    spec = address.addr_spec
    if not spec.isascii() or not spec.isprintable():
        return None  # an internationalised address: left to the standard library
    if not address.display_name:
        return [spec]
    return [*phrase_words(address.display_name), f"<{spec}>"]


def address_words(header: Any) -> list[str] | None:
    """Words for an address header, or None if it holds something only the stdlib folds."""
    if any(group.display_name for group in header.groups):
        return None
    words: list[str] = []
    for address in header.addresses:
        mailbox = _mailbox_words(address)
        if mailbox is None:
            return None
        if words:
            words[-1] += ","
        words += mailbox
    return words


def _words(name: str, value: Any) -> list[str] | None:
    if name.lower() not in _FOLDED_HERE or not hasattr(value, "name"):
        return None  # not ours, or a raw source value
    if name.lower() == "subject":
        return text_words(str(value))
    return address_words(value) if hasattr(value, "addresses") else None


def _looks_encoded(value: str) -> bool:
    """Whether a one-line value holds something a parser would decode as an encoded-word."""
    return "=?" in value and len(value.splitlines()) == 1


class _Policy(EmailPolicy):
    """EmailPolicy that folds Subject and the address headers itself (see the module's note)."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if name.lower() == "subject" and isinstance(value, str) and _looks_encoded(value):
            # a title that merely looks like an encoded-word is kept as written, not decoded
            value = " ".join(encoded_words(value))
        return super().header_store_parse(name, value)

    def fold(self, name: str, value: Any) -> str:
        words = _words(name, value)
        return super().fold(name, value) if words is None else fold(name, words, self.linesep)

    def fold_binary(self, name: str, value: Any) -> bytes:
        words = _words(name, value)
        if words is None:
            return super().fold_binary(name, value)
        return fold(name, words, self.linesep).encode("ascii")


POLICY = _Policy(linesep="\r\n")
