"""Accounts' core: passwords that are hard to guess, and slowing that concurrency cannot beat."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from toolkit import accounts, throttle
from toolkit.accounts import AccountError, create_user, password_problem
from toolkit.models import LoginThrottle

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "password1234",  # on zxcvbn's list of common passwords
        "qwertyuiop123",
        "iloveyou1234",  # close to one
        "123456789012",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "fac@example.org1",  # the person's own address
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password):
    problem = password_problem(password, "fac@example.org", "Dr Facilitator")
    assert problem and ("at least 12 characters" in problem or "harder to guess" in problem)


@pytest.mark.parametrize(
    "password", ["correct horse battery", "kent surrey sussex", "My cat is called Bob"]
)
def test_long_uncommon_passwords_are_accepted(password):
    assert password_problem(password, "fac@example.org") is None


def test_a_password_longer_than_zxcvbn_takes_is_judged_and_the_limit_holds():
    assert password_problem("correct horse battery " * 4) is None  # 88 characters
    assert "within 200 characters" in password_problem("correct horse battery " * 10)


def test_create_user_refuses_a_common_password(app):
    with app.extensions["toolkit"].sessions() as db:
        with pytest.raises(AccountError, match="very common password"):
            create_user(db, "fac@example.org", "password1234")


def test_waits_double_after_the_free_attempts_up_to_a_ceiling():
    second = timedelta(seconds=1)
    waits = [throttle.wait_after(n, 5, second).total_seconds() for n in range(1, 10)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert throttle.wait_after(1000, 5, second) == throttle.MAX_WAIT


def test_addresses_group_ipv6_by_its_64_and_ipv4_mapped_as_ipv4():
    assert throttle.address_group("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle.address_group("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert throttle.address_group("::ffff:10.0.0.1") == "10.0.0.1"
    assert throttle.address_group("10.0.0.1") == "10.0.0.1"


def test_keys_never_hold_what_was_typed(app):
    key = throttle.throttle_key("account", "my secret password", "10.0.0.1")
    assert len(key) == 64 and "secret" not in key


def test_sixteen_concurrent_claims_get_exactly_the_free_attempts(app):
    """Each thread has its own database session; on SQLite and PostgreSQL alike at most five
    claims go ahead, however the threads interleave."""
    sessions = app.extensions["toolkit"].sessions
    key = throttle.throttle_key("account", "fac@example.org", "10.0.0.1")
    start = threading.Barrier(16)
    results: list[datetime | None] = []

    def attempt() -> None:
        with sessions() as db:
            start.wait()
            results.append(throttle.claim(db, key, 5, NOW, timedelta(seconds=1)))
            db.commit()

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 5
    assert set(results) - {None} == {NOW + timedelta(seconds=1)}
    with sessions() as db:
        assert db.get(LoginThrottle, key).failures == 5


def test_old_failures_are_forgotten(app):
    sessions = app.extensions["toolkit"].sessions
    key, second = throttle.throttle_key("address", "10.0.0.1"), timedelta(seconds=1)
    with sessions() as db:
        for _ in range(8):
            throttle.claim(db, key, 5, NOW, second)
        assert throttle.claim(db, key, 5, NOW, second) is not None
        later = NOW + throttle.FORGET_AFTER + second
        assert throttle.claim(db, key, 5, later, second) is None
        assert db.get(LoginThrottle, key).failures == 1


def test_keys_whose_failures_no_longer_count_are_deleted(app):
    sessions = app.extensions["toolkit"].sessions
    key, second = throttle.throttle_key("address", "10.0.0.1"), timedelta(seconds=1)
    with sessions() as db:
        throttle.claim(db, key, 5, NOW, second)
        throttle.prune(db, NOW + throttle.FORGET_AFTER)
        assert db.get(LoginThrottle, key) is not None
        throttle.prune(db, NOW + throttle.FORGET_AFTER + second)
        db.expire_all()
        assert db.get(LoginThrottle, key) is None


def _user(sessions, email: str = "fac@example.org") -> None:
    with sessions() as db:
        create_user(db, email, "correct horse battery", "Dr Facilitator")
        db.commit()


def _failed_before(sessions, key: str, failures: int, last: datetime, until: datetime) -> None:
    """A throttle row as an earlier run of failures left it."""
    with sessions() as db:
        db.add(LoginThrottle(key=key, failures=failures, not_before=until, last_at=last))
        db.commit()


def _attempt(sessions, password: str, at: datetime, email: str = "fac@example.org"):
    """The user, None for a wrong password, or the SlowDown raised."""
    with sessions() as db:
        try:
            user = accounts.sign_in(db, email, password, "10.0.0.9", at)
        except accounts.SlowDown as exc:
            return exc
        return user and user.email


ACCOUNT_KEY = throttle.throttle_key("account", "fac@example.org", "10.0.0.9")
ADDRESS_KEY = throttle.throttle_key("address", "10.0.0.9")


def test_a_wait_left_by_earlier_failures_ends_when_it_says(app):
    """Eight failures a minute ago left a wait until NOW + 5 min: refused until then, and the
    right password signs in from that moment; a wait that never ended would fail here."""
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    _failed_before(sessions, ACCOUNT_KEY, 8, NOW - timedelta(minutes=1), NOW + timedelta(minutes=5))
    refused = _attempt(sessions, "correct horse battery", NOW + timedelta(minutes=4, seconds=59))
    assert isinstance(refused, accounts.SlowDown)
    assert refused.until == NOW + timedelta(minutes=5)
    assert _attempt(sessions, "correct horse battery", NOW + timedelta(minutes=5)) == (
        "fac@example.org"
    )
    with sessions() as db:
        assert db.get(LoginThrottle, ACCOUNT_KEY) is None  # forgotten after the right password


def test_after_a_wait_the_next_failure_waits_twice_as_long_up_to_fifteen_minutes(app):
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    _failed_before(sessions, ACCOUNT_KEY, 8, NOW - timedelta(seconds=9), NOW - timedelta(seconds=1))
    assert _attempt(sessions, "wrong password!!", NOW) is None  # the 9th failure
    refused = _attempt(sessions, "wrong password!!", NOW + timedelta(seconds=15))
    assert refused.until == NOW + timedelta(seconds=16)  # 2 ** (9 - 5) seconds
    with sessions() as db:
        db.get(LoginThrottle, ACCOUNT_KEY).failures = 40
        db.commit()
    assert _attempt(sessions, "wrong password!!", NOW + timedelta(seconds=16)) is None
    later = NOW + timedelta(seconds=17)
    assert _attempt(sessions, "wrong password!!", later).until == NOW + timedelta(
        seconds=16, minutes=15
    )


def test_failures_older_than_a_day_no_longer_count(app):
    """Thirty failures that ended a day and a second ago (their wait long over) are forgotten:
    the next wrong password is the first again, with no wait after it."""
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    last = NOW - throttle.FORGET_AFTER - timedelta(seconds=1)
    _failed_before(sessions, ACCOUNT_KEY, 30, last, last + throttle.MAX_WAIT)
    assert _attempt(sessions, "wrong password!!", NOW) is None
    with sessions() as db:
        row = db.get(LoginThrottle, ACCOUNT_KEY)
        assert row.failures == 1 and row.not_before.replace(tzinfo=UTC) == NOW
    for _ in range(3):
        assert _attempt(sessions, "wrong password!!", NOW) is None
    assert _attempt(sessions, "correct horse battery", NOW) == "fac@example.org"


def test_failures_just_under_a_day_old_still_count(app):
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    last = NOW - throttle.FORGET_AFTER + timedelta(seconds=1)
    _failed_before(sessions, ACCOUNT_KEY, 30, last, NOW - timedelta(seconds=1))
    assert _attempt(sessions, "wrong password!!", NOW) is None
    assert _attempt(sessions, "correct horse battery", NOW).until == NOW + throttle.MAX_WAIT


def test_one_address_has_twenty_free_attempts_across_accounts_and_the_21st_waits(app):
    """A hospital's staff share one address: twenty wrong passwords for twenty accounts go
    ahead at once; the 21st attempt, even with the right password, waits a second."""
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    for n in range(1, 21):
        assert _attempt(sessions, "wrong password!!", NOW, f"user{n}@example.org") is None, n
    refused = _attempt(sessions, "correct horse battery", NOW)
    assert isinstance(refused, accounts.SlowDown) and refused.until == NOW + timedelta(seconds=1)
    with sessions() as db:
        assert db.get(LoginThrottle, ADDRESS_KEY).failures == 20
        assert db.get(LoginThrottle, ACCOUNT_KEY) is None  # refused before it was counted
    assert _attempt(sessions, "correct horse battery", NOW + timedelta(seconds=1)) == (
        "fac@example.org"
    )


def test_a_right_password_gives_back_the_address_attempt_it_used(app):
    sessions = app.extensions["toolkit"].sessions
    _user(sessions)
    for n in range(1, 20):
        assert _attempt(sessions, "wrong password!!", NOW, f"user{n}@example.org") is None
    assert _attempt(sessions, "correct horse battery", NOW) == "fac@example.org"  # the 20th
    with sessions() as db:
        assert db.get(LoginThrottle, ADDRESS_KEY).failures == 19
    later = NOW + timedelta(seconds=1)
    assert _attempt(sessions, "wrong password!!", later, "user20@example.org") is None  # 20th
    refused = _attempt(sessions, "wrong password!!", later, "x@example.org")
    assert refused.until == later + timedelta(seconds=1)
