"""Settings from `TOOLKIT_*` environment variables, with defaults that work from a fresh clone."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from toolkit.private_files import private_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
SMTP_TIMEOUT = 15.0  # seconds to wait for any answer from the SMTP server


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the app reaches the outside world."""

    data_dir: Path
    database_url: str
    casebank_dir: Path
    session_templates_dir: Path
    assets_dir: Path
    base_url: str
    smtp_url: str | None
    mail_from: str
    reminder_minutes: int
    proxies: int  # reverse proxies in front of the app whose X-Forwarded-* headers to trust
    smtp_timeout: float = SMTP_TIMEOUT
    queue_url: str | None = None  # redis://… to share the task queue between machines
    send_lease: float = 0.0  # seconds before a send that never finished is tried again (0: auto)
    imap_url: str | None = None  # imaps://user:password@host/INBOX, polled for calendar replies

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from the environment (or `env`), filling in defaults."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("TOOLKIT_DATA_DIR") or REPO_ROOT / "instance").resolve()
        default_db = f"sqlite:///{data_dir / 'toolkit.sqlite3'}"
        return cls(
            data_dir=data_dir,
            database_url=env.get("TOOLKIT_DATABASE_URL") or default_db,
            casebank_dir=Path(env.get("TOOLKIT_CASEBANK_DIR") or REPO_ROOT / "casebank"),
            session_templates_dir=Path(
                env.get("TOOLKIT_SESSION_TEMPLATES_DIR") or REPO_ROOT / "session_templates"
            ),
            assets_dir=Path(
                env.get("TOOLKIT_ASSETS_DIR")
                or REPO_ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
            ),
            base_url=(env.get("TOOLKIT_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            smtp_url=env.get("TOOLKIT_SMTP_URL") or None,
            mail_from=env.get("TOOLKIT_MAIL_FROM") or "learning-sets@localhost",
            reminder_minutes=int(env.get("TOOLKIT_REMINDER_MINUTES") or 1440),
            proxies=int(env.get("TOOLKIT_PROXIES") or 0),
            smtp_timeout=float(env.get("TOOLKIT_SMTP_TIMEOUT") or SMTP_TIMEOUT),
            queue_url=env.get("TOOLKIT_QUEUE_URL") or None,
            send_lease=float(env.get("TOOLKIT_SEND_LEASE") or 0),
            imap_url=env.get("TOOLKIT_IMAP_URL") or None,
        )

    @property
    def host(self) -> str:
        """The host name in `TOOLKIT_BASE_URL`, used in calendar UIDs and Message-IDs."""
        return urlsplit(self.base_url).hostname or "localhost"

    @property
    def lease(self) -> float:
        """How long a message may stay "sending" before it counts as abandoned (its worker died):
        by default far longer than one send can take, every wait bounded by the SMTP timeout."""
        return self.send_lease or max(20 * self.smtp_timeout, 60.0)

    @property
    def queue_file(self) -> Path:
        """The embedded task queue (Huey's SQLite storage), used when no TOOLKIT_QUEUE_URL."""
        return self.data_dir / "queue.sqlite3"

    @property
    def outbox_dir(self) -> Path:
        """Where e-mails are written as .eml files when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def pdf_cache_dir(self) -> Path:
        """Where rendered PDFs are kept, keyed by a hash of their HTML."""
        return self.data_dir / "pdf-cache"

    def secret_key(self, env: Mapping[str, str] | None = None) -> str:
        """`TOOLKIT_SECRET_KEY`, or a random key generated once and kept in the data dir."""
        env = os.environ if env is None else env
        if env.get("TOOLKIT_SECRET_KEY"):
            return env["TOOLKIT_SECRET_KEY"]
        path = self.data_dir / "secret_key"
        if not path.exists():
            private_folder(self.data_dir)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip()
