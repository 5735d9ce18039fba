"""Slowing repeated attempts: after a few free failures under a key, each further attempt must
wait twice as long as the one before. Nothing is ever locked for good, so nobody can lock a user
out; every attempt is claimed in the database before it is checked, so concurrent attempts
cannot get past the limit either."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from toolkit.models import LoginThrottle

MAX_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)  # failures this old no longer count
CLAIM_TRIES = 50  # compare-and-swap rounds before an attempt is refused as too busy


def throttle_key(kind: str, *parts: str) -> str:
    """A key for `parts` (an address, an e-mail...), hashed so the table never holds what was
    typed: a password put in the e-mail field by mistake stays unreadable."""
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()


def address_group(address: str) -> str:
    """The address that counts as one client: IPv4 as it is, IPv6 by its /64 (one home or
    phone holds a whole /64, so counting single IPv6 addresses would slow nobody)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def wait_after(failures: int, free: int, unit: timedelta) -> timedelta:
    """How long the next attempt waits after `failures` in a row: nothing for the first `free`,
    then one `unit`, two, four ... up to MAX_WAIT."""
    if failures < free:
        return timedelta(0)
    return min(unit * 2 ** min(failures - free, 20), MAX_WAIT)


def claim(db: Session, key: str, free: int, now: datetime, unit: timedelta) -> datetime | None:
    """Count an attempt under `key` before it is checked: None if it may go ahead, else the time
    from which one may. Commit before checking, so concurrent attempts see the count."""
    _ensure_row(db, key, now)
    for _ in range(CLAIM_TRIES):
        row = db.execute(
            select(LoginThrottle.failures, LoginThrottle.not_before, LoginThrottle.last_at).where(
                LoginThrottle.key == key
            )
        ).one()
        if row.not_before > now:
            return row.not_before
        failures = 0 if now - row.last_at > FORGET_AFTER else row.failures
        swapped = db.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures == row.failures)
            .where(LoginThrottle.last_at == row.last_at)
            .values(failures=failures + 1, not_before=now + wait_after(failures + 1, free, unit))
            .values(last_at=now)
        )
        if swapped.rowcount == 1:
            return None
    return now + timedelta(seconds=1)


def refund(db: Session, key: str) -> None:
    """Take back one claimed attempt that turned out right, or was never checked."""
    db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


def forget(db: Session, key: str) -> None:
    """Clear every failure under `key`, after a successful attempt."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def prune(db: Session, now: datetime) -> None:
    """Delete keys whose failures no longer count, so the table holds about a day of them."""
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_at < now - FORGET_AFTER, LoginThrottle.not_before <= now
        )
    )


def _ensure_row(db: Session, key: str, now: datetime) -> None:
    """Create the key's row if it is missing; a concurrent creator is no error."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    row = {"key": key, "failures": 0, "not_before": now, "last_at": now}
    db.execute(dialect.insert(LoginThrottle).values(**row).on_conflict_do_nothing())
