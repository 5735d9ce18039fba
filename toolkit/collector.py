"""Python's cyclic garbage collector, tuned for the toolkit's processes.

Laying out a document and serving a page each allocate hundreds of thousands of short-lived
objects; with Python's default threshold (a collection every 700 new objects) the collector
walked WeasyPrint's box tree again and again while a handout was written (a tenth of its time,
freeing nothing). Every `toolkit` command calls `tune()` once, first thing.

`toolkit serve` also calls `freeze()` once its app is built, before it forks: what the app holds
for its lifetime (the case bank, templates, the ORM's mappings) leaves the collector's view, so
no worker walks it again, and pages a collection would have written stay shared between
the processes.
"""

from __future__ import annotations

import gc

# a young collection after 50,000 new objects (not 700): a few megabytes at most in waiting;
# the older generations keep Python's defaults
THRESHOLDS = (50_000, 10, 10)


def tune() -> None:
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    gc.freeze()
