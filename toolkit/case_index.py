"""Indexes of the case bank, built once per loaded bank, so a search reads only what matches.

`filter_cases` answers from these exactly as `CaseFilter.matches` would case by case: a tag
filter is a set looked up, and each search word is a substring of some whitespace-separated
word of a case's text (a word typed has no spaces, so it can only be found inside one), found
by scanning the bank's distinct words once rather than every case's text.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING

from toolkit.frameworks import mlcf_covers

if TYPE_CHECKING:
    from toolkit.casebank import Case

WORD_CACHE = 1024  # search words remembered per bank


class CaseIndex:
    """Cases by tag, stage, setting and word, and their order by title."""

    def __init__(self, cases: Mapping[str, Case], searchable) -> None:
        self.rank = {
            c.id: n for n, c in enumerate(sorted(cases.values(), key=lambda c: c.title.lower()))
        }
        self.everything = frozenset(cases)
        self.by_field: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.mlcf_tags: dict[str, set[str]] = defaultdict(set)
        postings: dict[str, set[str]] = defaultdict(set)
        for case in cases.values():
            for key in ("hlm", "gpc"):
                for tag in getattr(case.tags, key):
                    self.by_field[key, tag].add(case.id)
            for tag in case.tags.mlcf:
                self.mlcf_tags[tag].add(case.id)
            for stage in case.stages:
                self.by_field["stage", stage].add(case.id)
            for setting in case.settings:
                self.by_field["setting", setting].add(case.id)
            for word in searchable(case).split():
                postings[word].add(case.id)
        self.words = sorted(postings)
        self.postings = [frozenset(postings[w]) for w in self.words]
        self.starts: list[int] = []
        position = 0
        for word in self.words:
            self.starts.append(position)
            position += len(word) + 1
        self.blob = "\n".join(self.words)  # no word holds a newline, so no match spans two
        self.found: dict[str, frozenset[str]] = {}

    def matching(self, field: str, value: str) -> frozenset[str] | set[str]:
        """Ids of the cases a filter field admits."""
        if field == "mlcf":
            tags = [ids for tag, ids in self.mlcf_tags.items() if mlcf_covers(tag, value)]
            return set().union(*tags)
        return self.by_field.get((field, value), frozenset())

    def containing(self, word: str) -> frozenset[str]:
        """Ids of the cases whose text holds `word` (lower case, no whitespace)."""
        found = self.found.get(word)
        if found is not None:
            return found
        ids: set[str] = set()
        at = self.blob.find(word)
        while at != -1:
            n = bisect_right(self.starts, at) - 1
            ids |= self.postings[n]
            following = self.starts[n + 1] if n + 1 < len(self.starts) else len(self.blob)
            at = self.blob.find(word, following)
        found = frozenset(ids)
        if len(self.found) >= WORD_CACHE:
            self.found.clear()
        self.found[word] = found
        return found
