"""End-to-end fixtures: `toolkit serve` on loopback with its own data dir, Debian's Chromium
driven by Playwright, axe-core on every page, and screenshots kept as test artefacts.

The tests are marked `e2e` and run after every other test (see `pytest_collection_modifyitems`).
Playwright never downloads a browser here: it drives /usr/bin/chromium, which `make test`
installs from Debian's packages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = ROOT / ".venv" / "bin" / "toolkit"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PASSWORD = "correct horse battery staple"
TITLE_SUFFIX = " – Learning-set toolkit"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, always direct


def pytest_collection_modifyitems(session, config, items) -> None:
    """Run the browser tests last, whatever order the folders are collected in."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


def _toolkit_executable() -> str:
    return str(TOOLKIT) if TOOLKIT.exists() else shutil.which("toolkit") or "toolkit"


@dataclass
class Server:
    """A running `toolkit serve` and the data dir it owns."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen = field(repr=False)


@contextmanager
def toolkit_server(data_dir: Path, smtp_url: str | None = None, *setup: list[str]):
    """Migrate a fresh data dir, run each `setup` command, then serve it until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    env.update(TOOLKIT_DATA_DIR=str(data_dir), TOOLKIT_BASE_URL=url)
    if smtp_url:
        env["TOOLKIT_SMTP_URL"] = smtp_url
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [_toolkit_executable(), "db", "upgrade"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        assert process.wait(timeout=120) == 0, log_path.read_text()
        for command in setup:
            assert (
                subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=log).returncode == 0
            )
        process = subprocess.Popen(
            [_toolkit_executable(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, data_dir, env, process)
    try:
        _wait_until_up(server, log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(server: Server, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"toolkit serve exited early:\n{log_path.read_text()}")
        try:
            with NO_PROXY.open(server.url + "/login", timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"toolkit serve did not answer within {timeout} s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def playwright_instance():
    """Playwright; a missing browser or library fails every browser test, since a skipped suite
    reads as green in CI. TOOLKIT_ALLOW_NO_BROWSER=1 turns that into a skip, for a machine that
    cannot have Chromium."""
    missing = None
    if not CHROMIUM.exists():
        missing = (
            "Debian's Chromium is not installed at /usr/bin/chromium: "
            "apt-get install chromium (make test does it)"
        )
    else:
        try:
            from playwright import sync_api
        except ImportError:
            missing = "Playwright is not installed: pip install -e '.[test]' (make test does it)"
    if missing and os.environ.get("TOOLKIT_ALLOW_NO_BROWSER") == "1":
        pytest.skip(missing)
    if missing:
        pytest.fail(f"{missing}; set TOOLKIT_ALLOW_NO_BROWSER=1 to skip the browser tests")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    chromium = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def axe_source() -> str:
    assert AXE.exists(), "axe-core is missing: run `npm ci` (make test does it)"
    return AXE.read_text("utf-8")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory) -> Iterator[Server]:
    """A server with an admin account and the demo set, for the tests that are not the journey."""
    exe = _toolkit_executable()
    add_admin = [exe, "users", "add", "admin@example.org", "--admin", "--name", "Dr Ada Admin"]
    add_admin += ["--password", PASSWORD]
    with toolkit_server(
        tmp_path_factory.mktemp("shared") / "instance", None, add_admin, [exe, "demo", "load"]
    ) as server:
        yield server


@pytest.fixture
def context(browser):
    """A fresh browser context (own cookies), British English, a laptop-sized window."""
    ctx = browser.new_context(
        locale="en-GB",
        timezone_id="Europe/London",
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    """A page that records CSP violations and script errors; the test fails if any happened."""
    new = context.new_page()
    problems: list[str] = []
    new.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    new.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield new
    assert not problems, problems


def sign_in(page, server: Server, email: str = "admin@example.org") -> None:
    page.goto(server.url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="Learning-set toolkit").wait_for()


class Checker:
    """Per page: a screenshot, a <title>, breadcrumbs where they belong, and an axe-core run."""

    def __init__(self, page, axe_source: str, folder: Path, prefix: str) -> None:
        self.page = page
        self.axe_source = axe_source
        self.folder = folder
        self.prefix = prefix
        self.step = 0
        self.report: list[str] = []

    def __call__(self, name: str, breadcrumbs: bool = True) -> None:
        self.step += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.page.screenshot(
            path=str(self.folder / f"{self.prefix}-{self.step:02d}-{slug}.png"), full_page=True
        )
        title = self.page.title()
        assert title.endswith(TITLE_SUFFIX) and len(title) > len(TITLE_SUFFIX), (name, title)
        crumbs = self.page.locator("nav.nhsuk-breadcrumb")
        if breadcrumbs:
            assert crumbs.count() == 1, f"{name}: no breadcrumbs on {self.page.url}"
            assert crumbs.get_by_role("link", name="Home").count() == 1, name
        assert not duplicate_ids(self.page), f"{name}: duplicate ids {duplicate_ids(self.page)}"
        violations = run_axe(self.page, self.axe_source)
        self.report.append(f"{self.step:02d} {name} ({title}): {len(violations)} serious/critical")
        assert not violations, f"{name} ({self.page.url}):\n" + describe(violations)


def duplicate_ids(page) -> list[str]:
    """Ids used twice: a label or error-summary link would then reach the wrong field.

    (axe-core reports these only as "needs review", so they are checked here directly.)
    """
    return page.evaluate(
        """() => {
            const seen = new Set(), twice = new Set();
            for (const el of document.querySelectorAll("[id]")) {
                (seen.has(el.id) ? twice : seen).add(el.id);
            }
            return [...twice];
        }"""
    )


def run_axe(page, axe_source: str, expand: bool = True) -> list[dict]:
    """axe-core's serious and critical WCAG 2.x A/AA violations on the page.

    With `expand`, every closed <details> is opened for the run (and closed again after), so
    the forms folded away inside them are checked too.

    The script goes in through the DevTools protocol (`evaluate`), which the page's
    Content-Security-Policy does not govern, so the CSP stays on for everything else.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    results = page.evaluate(
        """async ([tags, expand]) => {
            const closed = expand ? [...document.querySelectorAll("details:not([open])")] : [];
            closed.forEach(d => { d.open = true; });
            try {
                return await window.axe.run(document, {
                    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]
                });
            } finally {
                closed.forEach(d => { d.open = false; });
            }
        }""",
        [WCAG_TAGS, expand],
    )
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
    return "\n".join(lines)


@pytest.fixture
def check(request, page, axe_source, artifacts) -> Checker:
    """Call `check("step name")` after each step of a journey."""
    prefix = request.node.name.removeprefix("test_")
    for old in artifacts.glob(f"{prefix}-*.png"):
        old.unlink()
    checker = Checker(page, axe_source, artifacts, prefix)
    yield checker
    (artifacts / f"{prefix}-axe.txt").write_text("\n".join(checker.report) + "\n", "utf-8")
