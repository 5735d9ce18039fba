"""Benchmark: render every document of an 8-member session, against bare WeasyPrint and the cache.

Run with `make bench`. Targets: the full set under 3 s on a 2-core machine; a cached repeat
under 50 ms; our overhead over bare WeasyPrint under 10%.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock
from pathlib import Path

from toolkit import db as database
from toolkit import sets
from toolkit.accounts import create_user
from toolkit.casebank import load_bank
from toolkit.config import REPO_ROOT
from toolkit.frameworks import load_frameworks
from toolkit.packs import build_pack, document_names, render_document
from toolkit.packs.render import bare_pdf
from toolkit.planning import local_start
from toolkit.session_templates import load_session_templates

MEMBERS = ["Siobhán Kelly", "Zoë Marsh", "Łukasz Nowak", "Anaïs Dubois", "Rhodri ap Siôn",
           "Chidera Okonkwo-Hale", "Tomás Ó Súilleabháin", "Hana Nováková"]  # fmt: skip
ROUNDS = 3


def build(folder: Path, members: list[str] = MEMBERS):
    """A session like a busy real one: 8 members, 2 cases, 16 prompts, attendance recorded."""
    engine = database.make_engine(f"sqlite:///{folder / 'bench.sqlite3'}")
    database.upgrade(engine)
    bank = load_bank(REPO_ROOT / "casebank")
    templates = load_session_templates(REPO_ROOT / "session_templates")
    with database.transaction(database.session_factory(engine)) as db:
        owner = create_user(db, "fac@example.org", None, "Dr Facilitator")
        s = sets.create_set(db, owner, "bench", "Benchmark set", venue="Room 4")
        for n, name in enumerate(members):
            sets.add_member(db, s, name, f"m{n}@example.nhs.uk", "ST3")
        start = local_start(date(2027, 3, 25), clock(13, 30), "Europe/London")
        meeting = sets.add_meeting(db, s, start, templates["action-learning-set"])
        for case_id in list(bank.cases)[:2]:
            sets.attach(db, meeting, bank, case_id=case_id)
        for prompt_id in list(bank.prompts)[::4]:
            sets.attach(db, meeting, bank, prompt_id=prompt_id)
        after = start + timedelta(hours=1)
        sets.record_attendance(db, meeting, {m.id: "present" for m in s.members}, now=after)
        return build_pack(db, meeting, bank, load_frameworks())


def best(seconds: list[float]) -> float:
    return min(seconds)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pack = build(folder)
        render_document(pack, "sign-in")  # warm up fonts and imports
        print(f"{'document':22} {'ours':>8} {'bare':>8} {'overhead':>9} {'cached':>9}")
        totals = {"ours": 0.0, "bare": 0.0, "cached": 0.0}
        for stem in document_names(pack):
            html = render_document(pack, stem).html
            ours = best([timed(lambda s=stem: render_document(pack, s)) for _ in range(ROUNDS)])
            bare = best([timed(lambda h=html: bare_pdf(h)) for _ in range(ROUNDS)])
            cache = folder / f"cache-{stem}"
            render_document(pack, stem, cache)
            cached = statistics.median(
                timed(lambda s=stem, c=cache: render_document(pack, s, c)) for _ in range(ROUNDS)
            )
            totals["ours"] += ours
            totals["bare"] += bare
            totals["cached"] += cached
            overhead = (ours - bare) / bare * 100
            print(
                f"{stem:22} {ours * 1000:7.0f}ms {bare * 1000:7.0f}ms {overhead:8.1f}% "
                f"{cached * 1000:8.1f}ms"
            )
        overhead = (totals["ours"] - totals["bare"]) / totals["bare"] * 100
        print(
            f"{'all documents':22} {totals['ours'] * 1000:7.0f}ms {totals['bare'] * 1000:7.0f}ms "
            f"{overhead:8.1f}% {totals['cached'] * 1000:8.1f}ms"
        )
        ok = totals["ours"] < 3 and totals["cached"] < 0.05
        print("targets: all < 3 s, cached < 50 ms:", "met" if ok else "NOT met")
        return totals


if __name__ == "__main__":
    main()
    sys.exit(0)
