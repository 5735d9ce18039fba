"""Sign-in throttling: behaviour no test pinned until mutation testing (scripts/mutation.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from toolkit import accounts, limits, throttle
from toolkit import db as database
from toolkit.models import LoginThrottle, SignIn

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def factory(env):
    return database.session_factory(database.make_engine(env.database_url))


def test_waits_double_after_the_free_attempts_up_to_fifteen_minutes():
    waits = [throttle.wait_after(n, 5, SECOND) for n in range(0, 17)]
    assert waits[:5] == [timedelta(0)] * 5
    assert waits[5:11] == [SECOND * 2**k for k in range(6)]  # 1 s, 2 s, 4 s ... 32 s
    assert throttle.wait_after(14, 5, SECOND) == SECOND * 512
    assert throttle.wait_after(15, 5, SECOND) == timedelta(minutes=15)  # 1024 s is past the cap
    assert throttle.wait_after(10**6, 5, SECOND) == timedelta(minutes=15)  # no overflow


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client seen through an IPv6 socket
        ("not an address", "not an address"),
    ],
)
def test_one_client_is_one_ipv4_address_or_one_ipv6_slash_64(address, group):
    assert throttle.address_group(address) == group


def test_keys_never_hold_what_was_typed_and_keep_kinds_apart():
    key = throttle.throttle_key("account", "zoe@example.nhs.uk", "192.0.2.7")
    assert len(key) == 64 and "zoe" not in key
    assert key == throttle.throttle_key("account", "zoe@example.nhs.uk", "192.0.2.7")
    assert key != throttle.throttle_key("address", "zoe@example.nhs.uk", "192.0.2.7")
    # the parts stay apart: "a" + "bc" is not "ab" + "c"
    assert throttle.throttle_key("k", "a", "bc") != throttle.throttle_key("k", "ab", "c")


def test_attempts_go_ahead_until_the_free_ones_are_used_then_wait(factory):
    key = throttle.throttle_key("address", "192.0.2.7")
    with database.transaction(factory) as db:
        assert [throttle.claim(db, key, 3, NOW, SECOND) for _ in range(3)] == [None] * 3
        # the third failure set the wait: the fourth attempt must wait a second
        assert throttle.claim(db, key, 3, NOW, SECOND) == NOW + SECOND
        assert throttle.claim(db, key, 3, NOW + SECOND, SECOND) is None  # after the wait
        assert throttle.claim(db, key, 3, NOW + SECOND, SECOND) == NOW + 3 * SECOND
        row = db.get(LoginThrottle, key)
        assert (row.failures, row.last_at) == (4, NOW + SECOND)


def test_a_right_password_gives_back_its_attempt_and_never_below_nothing(factory):
    key = throttle.throttle_key("address", "192.0.2.8")
    with database.transaction(factory) as db:
        throttle.claim(db, key, 3, NOW, SECOND)
        throttle.refund(db, key)
        throttle.refund(db, key)
        assert db.get(LoginThrottle, key).failures == 0
        throttle.claim(db, key, 3, NOW, SECOND)
        throttle.claim(db, key, 3, NOW, SECOND)
        throttle.forget(db, key)
        assert db.get(LoginThrottle, key) is None


def test_failures_a_day_old_are_forgotten_and_pruned(factory):
    key = throttle.throttle_key("address", "192.0.2.9")
    other = throttle.throttle_key("address", "192.0.2.10")
    with database.transaction(factory) as db:
        for _ in range(4):
            throttle.claim(db, key, 1, NOW, timedelta(minutes=30))
        throttle.claim(db, other, 1, NOW, SECOND)
        # the fourth failure in a row waits the longest there is
        assert db.get(LoginThrottle, key).not_before == NOW + timedelta(minutes=15)
    day = timedelta(days=1)
    with database.transaction(factory) as db:
        throttle.prune(db, NOW + day)  # exactly a day: still counts
        assert {r for r in db.scalars(select(LoginThrottle.key))} == {key, other}
        throttle.prune(db, NOW + day + SECOND)
        assert {r for r in db.scalars(select(LoginThrottle.key))} == set()
    with database.transaction(factory) as db:
        throttle.claim(db, key, 2, NOW, SECOND)
        throttle.claim(db, key, 2, NOW, SECOND)
        # a day and a second later the two failures no longer count: a free attempt again
        assert throttle.claim(db, key, 2, NOW + day + SECOND, SECOND) is None
        assert db.get(LoginThrottle, key).failures == 1


# --- survivors of the mutation run of 30 Nov 2026 ---------------------------------------------

EMAIL, NAME = "zorbleflax.quintaro@example.org", "Dr Wexolind Prandtaver"
NEW = "a quiet walk by the river"


def test_a_reset_link_itself_refuses_a_password_easy_to_guess_and_still_works(factory):
    """The web form checks the password first; `finish_reset` checks it again, with the e-mail
    address and the name as words an attacker would try (each alone would let one through)."""
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        link = accounts.start_reset(db, user, NOW)
        for weak in ("password1234", "zorbleflaxquintaro", "wexolindprandtaver"):
            with pytest.raises(accounts.AccountError, match="^Choose a password that is harder"):
                accounts.finish_reset(db, link.token, weak, NOW)
        assert accounts.finish_reset(db, link.token, NEW, NOW) is user
        assert accounts.authenticate(db, EMAIL, NEW) is user


def test_a_spent_or_expired_link_says_so(factory):
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        spent = accounts.start_reset(db, user, NOW)
        accounts.finish_reset(db, spent.token, NEW, NOW)
        late = accounts.start_reset(db, user, NOW)
        for token, when in ((spent.token, NOW), (late.token, late.expires_at)):
            with pytest.raises(accounts.AccountError) as refused:
                accounts.finish_reset(db, token, NEW + "!", when)
            assert str(refused.value) == accounts.RESET_GONE


def test_a_reset_spends_only_that_users_links(factory):
    with database.transaction(factory) as db:
        mine = accounts.start_reset(db, accounts.create_user(db, EMAIL, None, NAME), NOW)
        other = accounts.create_user(db, "someone.else@example.org", None, "Dr Else")
        theirs = accounts.start_reset(db, other, NOW)
        accounts.finish_reset(db, mine.token, NEW, NOW)
        assert accounts.reset_user(db, theirs.token, NOW) is other
        assert accounts.finish_reset(db, theirs.token, NEW, NOW) is other


def test_reset_requests_are_counted_per_account_and_per_address(factory):
    """Three links for one account, ten requests from one address: other accounts, and other
    addresses, are not slowed by them."""
    with database.transaction(factory) as db:
        accounts.create_user(db, EMAIL, None, NAME)
        accounts.create_user(db, "someone.else@example.org", None, "Dr Else")
    with factory() as db:  # request_reset commits
        links = [accounts.request_reset(db, EMAIL, "192.0.2.1", NOW) for _ in range(4)]
        assert [link is not None for link in links] == [True, True, True, False]
        other = accounts.request_reset(db, "someone.else@example.org", "192.0.2.1", NOW)
        assert other is not None and other.user.email == "someone.else@example.org"
        for n in range(10):  # ten other clients, each asking once for an unknown address
            accounts.request_reset(db, f"nobody{n}@example.org", f"198.51.100.{n}", NOW)
        again = accounts.request_reset(db, "someone.else@example.org", "203.0.113.9", NOW)
        assert again is not None


def test_an_admin_changes_a_name_and_role_within_the_limits(factory):
    """`update_user` (the admin page): no run reached it, as its tests are the admin pages'."""
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        accounts.update_user(db, user, "  Dr Ann\nLee ", True)
        assert (user.name, user.is_admin) == ("Dr Ann Lee", True)
        accounts.update_user(db, user, "x" * limits.NAME, False)  # exactly the limit
        assert (user.name, user.is_admin) == ("x" * limits.NAME, False)
        for name, why in (
            (" \n ", "Enter their name"),
            ("x" * (limits.NAME + 1), f"Keep the name within {limits.NAME} characters"),
        ):
            with pytest.raises(accounts.AccountError) as refused:
                accounts.update_user(db, user, name, True)
            assert str(refused.value) == why
        assert (user.name, user.is_admin) == ("x" * limits.NAME, False)


def test_setting_a_password_refuses_one_easy_to_guess_from_the_address_or_the_name(factory):
    """`set_password` (the change-password page, the command line and a reset all use it)."""
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        for weak in ("password1234", "zorbleflaxquintaro", "wexolindprandtaver"):
            with pytest.raises(accounts.AccountError, match="^Choose a password that is harder"):
                accounts.set_password(db, user, weak)
        assert user.password_hash == ""
        accounts.set_password(db, user, NEW)
        assert accounts.authenticate(db, EMAIL, NEW) is user


def test_a_link_opens_only_with_its_own_token(factory):
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        link = accounts.start_reset(db, user, NOW)
        assert accounts.reset_user(db, link.token, NOW) is user
        for wrong in ("", link.token[:-1], "x" * len(link.token)):
            assert accounts.reset_user(db, wrong, NOW) is None
            with pytest.raises(accounts.AccountError):
                accounts.finish_reset(db, wrong, NEW, NOW)
        assert accounts.authenticate(db, EMAIL, NEW) is None


def test_a_new_sign_in_clears_only_that_users_expired_ones(factory):
    """Signing in again keeps the user's other browsers (fourteen days to the second) and
    deletes that user's sign-ins that have expired, no one else's."""
    lifetime = accounts.SIGN_IN_LIFETIME
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        other = accounts.create_user(db, "someone.else@example.org", None, "Dr Else")
        expired = accounts.start_sign_in(db, user, NOW - lifetime - SECOND)
        theirs = accounts.start_sign_in(db, other, NOW - lifetime - SECOND)
        oldest = accounts.start_sign_in(db, user, NOW - lifetime)  # valid to this second
        phone = accounts.start_sign_in(db, user, NOW - timedelta(days=1))
        laptop = accounts.start_sign_in(db, user, NOW)
        for token in (oldest, phone, laptop):
            assert accounts.signed_in_user(db, user.id, token, NOW) is user
        assert accounts.signed_in_user(db, user.id, oldest, NOW + SECOND) is None
        assert accounts.signed_in_user(db, user.id, expired, NOW) is None
        kept = {(s.user_id, s.created_at) for s in db.scalars(select(SignIn))}
        assert kept == {
            (other.id, NOW - lifetime - SECOND),  # someone else's, left for their next sign-in
            (user.id, NOW - lifetime),
            (user.id, NOW - timedelta(days=1)),
            (user.id, NOW),
        }
        assert accounts.signed_in_user(db, other.id, theirs, NOW - lifetime) is other


def test_a_sign_in_token_is_good_only_for_its_own_user(factory):
    with database.transaction(factory) as db:
        user = accounts.create_user(db, EMAIL, None, NAME)
        other = accounts.create_user(db, "someone.else@example.org", None, "Dr Else")
        token = accounts.start_sign_in(db, user, NOW)
        assert accounts.signed_in_user(db, user.id, token, NOW) is user
        assert accounts.signed_in_user(db, other.id, token, NOW) is None


def test_failures_exactly_a_day_old_still_count(factory):
    key = throttle.throttle_key("address", "192.0.2.11")
    with database.transaction(factory) as db:
        throttle.claim(db, key, 2, NOW, SECOND)
        throttle.claim(db, key, 2, NOW, SECOND)
        assert throttle.claim(db, key, 2, NOW + timedelta(days=1), SECOND) is None
        assert db.get(LoginThrottle, key).failures == 3


def test_attempts_refused_for_one_account_give_back_the_addresss_attempt(factory):
    """Once an account is slowed from an address, its refused attempts are not checked and do
    not count against the address's twenty: the other accounts there can still sign in."""
    with database.transaction(factory) as db:
        accounts.create_user(db, "someone.else@example.org", NEW, "Dr Else")
        accounts.create_user(db, EMAIL, None, NAME)
    with factory() as db:  # sign_in commits
        for _ in range(accounts.ACCOUNT_FREE):
            assert accounts.sign_in(db, EMAIL, "wrong", "192.0.2.20", NOW) is None
        for _ in range(accounts.ADDRESS_FREE):
            with pytest.raises(accounts.SlowDown):
                accounts.sign_in(db, EMAIL, "wrong", "192.0.2.20", NOW)
        user = accounts.sign_in(db, "someone.else@example.org", NEW, "192.0.2.20", NOW)
        assert user is not None and user.name == "Dr Else"


def test_a_new_account_is_a_facilitator_named_from_its_address_unless_told(factory):
    with database.transaction(factory) as db:
        plain = accounts.create_user(db, "Ann.Lee@Example.org", None)
        assert (plain.email, plain.name, plain.is_admin) == (
            "ann.lee@example.org",
            "ann.lee",
            False,
        )
        named = accounts.create_user(db, "b@example.org", None, "x" * limits.NAME, is_admin=True)
        assert (named.name, named.is_admin) == ("x" * limits.NAME, True)


def test_a_new_account_is_refused_in_words_that_say_why(factory):
    with database.transaction(factory) as db:
        with pytest.raises(accounts.AccountError) as refused:
            accounts.create_user(db, "not-an-address", None, NAME)
        assert str(refused.value).startswith("'not-an-address' is not an e-mail address: ")
        with pytest.raises(accounts.AccountError) as refused:
            accounts.create_user(db, EMAIL, None, "x" * (limits.NAME + 1))
        assert str(refused.value) == f"keep the name within {limits.NAME} characters"
        for weak in ("zorbleflaxquintaro", "wexolindprandtaver"):  # the address, the name
            with pytest.raises(accounts.AccountError, match="^Choose a password that is harder"):
                accounts.create_user(db, EMAIL, weak, NAME)
        assert accounts.create_user(db, EMAIL, NEW, NAME).name == NAME
        with pytest.raises(accounts.AccountError) as refused:
            accounts.create_user(db, EMAIL.upper(), None, "Someone Else")
        assert str(refused.value) == f"an account for {EMAIL} already exists"


def test_setting_up_is_needed_until_an_admin_who_can_sign_in_exists(factory):
    with database.transaction(factory) as db:
        assert accounts.setup_needed(db)  # nobody at all
        accounts.create_user(db, "imported@example.org", None, "Imported", is_admin=True)
        assert accounts.setup_needed(db)  # an admin with no password cannot sign in
        accounts.create_user(db, "fac@example.org", "correct horse battery staple", "Dr Fac")
        assert accounts.setup_needed(db)  # one who can is not an admin
        accounts.create_user(
            db, "admin@example.org", "correct horse battery staple", "Admin", is_admin=True
        )
        assert not accounts.setup_needed(db)


def test_a_password_is_taken_at_the_length_limit_and_at_the_score_needed():
    assert accounts.password_problem("kettle lantern") is None  # zxcvbn scores it 3: enough
    at_limit = ("kettle lantern " * 20)[: limits.PASSWORD]
    assert accounts.password_problem(at_limit) is None
    assert accounts.password_problem(at_limit + "x") == (
        f"Keep the password within {limits.PASSWORD} characters"
    )
    # zxcvbn scores this 2 and gives no warning of its own: the page still says why
    assert accounts.password_problem("hospitalward1") == (
        "Choose a password that is harder to guess. It would be easy to guess. "
        "Add another word or two."
    )
