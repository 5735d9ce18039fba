"""`toolkit pack` from cold against bare WeasyPrint, also from cold, on the same HTML.

Each runs as a fresh process (imports, fonts, the case bank, the database): what someone waits
for when they type the command. The bare run renders the HTML `toolkit pack --html` wrote with
WeasyPrint's own API and nothing else, against the same stylesheet folder.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
TOOLKIT = str(ROOT / ".venv" / "bin" / "toolkit")
ROUNDS = 3

BARE = """
import sys, pathlib, weasyprint
static = pathlib.Path(sys.argv[1])
for page in sys.argv[2:]:
    html = pathlib.Path(page).read_text("utf-8")
    out = pathlib.Path(page).with_suffix(".bare.pdf")
    doc = weasyprint.HTML(string=html, base_url=static.as_uri() + "/")
    out.write_bytes(doc.write_pdf(pdf_tags=True))
"""


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def run() -> tuple[float, float]:
    """(toolkit pack, bare WeasyPrint): the best of a few cold runs each, in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"TOOLKIT_DATA_DIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("TOOLKIT_DATABASE_URL", None)
        subprocess.run([TOOLKIT, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([TOOLKIT, "demo", "load"], env=env, check=True, capture_output=True)
        listed = subprocess.run(
            [TOOLKIT, "sets", "list"], env=env, check=True, capture_output=True, text=True
        )
        set_id = listed.stdout.split()[0]
        out = Path(tmp) / "pack"
        command = [TOOLKIT, "pack", set_id, "--session", "1", "--out", str(out), "--html"]
        ours = []
        for _ in range(ROUNDS):
            for cached in (Path(tmp) / "pdf-cache").glob("**/*.pdf"):
                cached.unlink()  # render every time: the cache is not what is measured
            ours.append(_timed(command, env))
        pages = sorted(str(p) for p in out.glob("*.html"))
        static = ROOT / "toolkit" / "packs" / "static"
        bare = [_timed([PYTHON, "-c", BARE, str(static), *pages], env) for _ in range(ROUNDS)]
        return min(ours), min(bare)


if __name__ == "__main__":
    ours, bare = run()
    print(f"toolkit pack, cold: {ours:.2f} s; bare WeasyPrint: {bare:.2f} s ({ours / bare:.2f}x)")
