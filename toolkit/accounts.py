"""Facilitator and admin accounts: creation, passwords that are hard to guess, sign-in slowed
(never locked) after failures, signed-in browsers that sign-out revokes, and reset links."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from toolkit import limits, throttle
from toolkit.models import PasswordReset, SignIn, User
from toolkit.text import one_line

MIN_PASSWORD = 12
MIN_SCORE = 3  # zxcvbn's "safely unguessable": at least 10^8 guesses
ZXCVBN_LENGTH = 72  # zxcvbn refuses more; later characters only make a password stronger


@cache
def _dummy_hash() -> str:
    """Checked against when the e-mail is unknown, so a wrong address costs as long as a wrong
    password. Made on first use: hashing takes a tenth of a second that commands which never
    check a password should not pay."""
    return generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A reason an account cannot be created, in words the user can act on."""


def normalise_email(email: str) -> str:
    """Trim and lower-case an e-mail address so sign-in ignores case."""
    return email.strip().lower()


def check_email(address: str) -> str:
    """The address, normalised, if it is a valid e-mail address; else ValueError saying why."""
    try:
        found = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"'{one_line(address)}' is not an e-mail address: {exc}") from None
    return normalise_email(found.normalized)


def setup_needed(db: Session) -> bool:
    """True until an admin who can sign in exists (accounts made by imports have no password)."""
    admins = select(func.count(User.id)).where(User.is_admin.is_(True), User.password_hash != "")
    return (db.scalar(admins) or 0) == 0


def create_user(
    db: Session, email: str, password: str | None, name: str = "", is_admin: bool = False
) -> User:
    """Add an account; raise AccountError for a bad address, a short password or a duplicate.

    `password=None` makes an account that cannot sign in until a password is set.
    """
    try:
        email = check_email(email)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    name = one_line(name)
    if password is not None:
        check_password(password, email, name)
    if len(name) > limits.NAME:
        raise AccountError(f"keep the name within {limits.NAME} characters")
    if db.scalar(select(User).where(User.email == email)):
        raise AccountError(f"an account for {email} already exists")
    user = User(
        email=email,
        name=name or email.split("@")[0],
        password_hash=generate_password_hash(password) if password is not None else "",
        is_admin=is_admin,
    )
    db.add(user)
    db.flush()
    return user


def update_user(db: Session, user: User, name: str, is_admin: bool) -> None:
    """Change an account's name and role; raise AccountError for a name that is too long."""
    name = one_line(name)
    if not name:
        raise AccountError("Enter their name")
    if len(name) > limits.NAME:
        raise AccountError(f"Keep the name within {limits.NAME} characters")
    user.name, user.is_admin = name, is_admin
    db.flush()


def authenticate(db: Session, email: str, password: str) -> User | None:
    """Return the user if the e-mail and password match, else None (in similar time either way)."""
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def password_problem(password: str, *context: str) -> str | None:
    """Why `password` would be easy to guess, or None: at least MIN_PASSWORD characters, within
    the limit, and not a common password or close to one (zxcvbn's lists, with `context`, such
    as the person's e-mail and name, counted as known to an attacker)."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters: three or four words you will remember"
    if len(password) > limits.PASSWORD:
        return f"Keep the password within {limits.PASSWORD} characters"
    words = [part for text in context for part in _context_words(text)]
    from zxcvbn import zxcvbn  # its word lists load on import: only where a password is set

    found = zxcvbn(password[:ZXCVBN_LENGTH], user_inputs=words)
    if found["score"] >= MIN_SCORE:
        return None
    why = found["feedback"]["warning"] or "It would be easy to guess."
    return f"Choose a password that is harder to guess. {why} Add another word or two."


def _context_words(text: str) -> list[str]:
    """Pieces of an e-mail address or name that an attacker would try first."""
    local, _, domain = text.lower().partition("@")
    return [text.lower(), local, domain, *local.replace(".", " ").split(), *text.split()]


def check_password(password: str, *context: str) -> None:
    """Raise AccountError if `password` would be easy to guess (see `password_problem`)."""
    problem = password_problem(password, *context)
    if problem:
        raise AccountError(problem)


def set_password(db: Session, user: User, password: str) -> None:
    """Give the user a new password (refused if easy to guess) and sign out all their browsers."""
    check_password(password, user.email, user.name)
    user.password_hash = generate_password_hash(password)
    sign_out_everywhere(db, user)


ACCOUNT_FREE = 5  # wrong passwords for one account from one address before each waits
ADDRESS_FREE = 20  # wrong passwords from one address, any accounts (a hospital shares one)


class SlowDown(Exception):
    """Too many recent failures: no attempt is checked before `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"try again from {until.isoformat()}")
        self.until = until


def sign_in(db: Session, email: str, password: str, address: str, now: datetime) -> User | None:
    """The user if the e-mail and password match, else None; raises SlowDown while this
    account from this address, or this address, has failed too often of late.

    The attempt is counted and committed before the password is checked, so concurrent attempts
    cannot get past the limit; an account is never locked, so an attacker elsewhere cannot keep
    its owner out, and nothing here depends on whether the account exists.
    """
    group = throttle.address_group(address)
    keys = [
        (throttle.throttle_key("address", group), ADDRESS_FREE),
        (throttle.throttle_key("account", normalise_email(email), group), ACCOUNT_FREE),
    ]
    _claim_all(db, keys, now, timedelta(seconds=1))
    user = authenticate(db, email, password)
    if user is not None:
        throttle.refund(db, keys[0][0])
        throttle.forget(db, keys[1][0])
        db.commit()
    return user


def _claim_all(db: Session, keys: list[tuple[str, int]], now: datetime, unit: timedelta) -> None:
    """Claim an attempt under every key and commit, or claim none and raise SlowDown."""
    throttle.prune(db, now)
    claimed: list[str] = []
    for key, free in keys:
        until = throttle.claim(db, key, free, now, unit)
        if until is not None:
            for done in claimed:
                throttle.refund(db, done)
            db.commit()
            raise SlowDown(until)
        claimed.append(key)
    db.commit()


SIGN_IN_LIFETIME = timedelta(days=14)  # then the browser signs in again


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_sign_in(db: Session, user: User, now: datetime) -> str:
    """Record a newly signed-in browser and return the token its cookie keeps."""
    token = secrets.token_urlsafe(32)
    db.execute(
        delete(SignIn).where(SignIn.user_id == user.id, SignIn.created_at < now - SIGN_IN_LIFETIME)
    )
    db.add(SignIn(user_id=user.id, token_hash=_token_hash(token), created_at=now))
    db.flush()
    return token


def signed_in_user(db: Session, user_id: int, token: str, now: datetime) -> User | None:
    """The user whose browser holds `token`, unless it has signed out since or grown too old."""
    found = db.scalar(
        select(SignIn).where(
            SignIn.token_hash == _token_hash(token),
            SignIn.user_id == user_id,
            SignIn.created_at >= now - SIGN_IN_LIFETIME,
        )
    )
    return db.get(User, user_id) if found else None


def end_sign_in(db: Session, token: str) -> None:
    """Sign one browser out: its cookie, and every copy of it, stops working."""
    db.execute(delete(SignIn).where(SignIn.token_hash == _token_hash(token)))


def sign_out_everywhere(db: Session, user: User) -> None:
    """End every session of this user, on every device."""
    db.execute(delete(SignIn).where(SignIn.user_id == user.id))
    db.flush()


RESET_LIFETIME = timedelta(hours=1)
RESET_FREE = 3  # reset e-mails asked for one address before each further one waits
RESET_ADDRESS_FREE = 10  # reset e-mails asked for from one address, for any accounts


@dataclass(frozen=True)
class ResetLink:
    """Who a reset link is for, the secret token in it, and when it stops working."""

    user: User
    token: str
    expires_at: datetime


def start_reset(db: Session, user: User, now: datetime) -> ResetLink:
    """A new single-use reset link for `user`; only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = now + RESET_LIFETIME
    db.add(
        PasswordReset(
            user_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=expires
        )
    )
    db.flush()
    return ResetLink(user, token, expires)


def request_reset(db: Session, email: str, address: str, now: datetime) -> ResetLink | None:
    """A reset link to e-mail for the account at `email`, or None when there is no such account
    or too many were asked for of late (the asker is told the same either way). Commits."""
    group = throttle.address_group(address)
    keys = [
        (throttle.throttle_key("reset-address", group), RESET_ADDRESS_FREE),
        (throttle.throttle_key("reset", normalise_email(email)), RESET_FREE),
    ]
    try:
        _claim_all(db, keys, now, timedelta(minutes=1))
    except SlowDown:
        return None
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    link = start_reset(db, user, now) if user is not None else None
    db.commit()
    return link


def reset_user(db: Session, token: str, now: datetime) -> User | None:
    """The user a reset link is for, if it is unused and has not expired."""
    reset = db.scalar(
        select(PasswordReset).where(
            PasswordReset.token_hash == _token_hash(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
    )
    return db.get(User, reset.user_id) if reset else None


def finish_reset(db: Session, token: str, password: str, now: datetime) -> User:
    """Set a new password through a reset link, spending the link (and any others the user
    has); every browser the user had signed in is signed out. Raises AccountError for a
    password that is easy to guess (the link still works) or a link already used or expired."""
    user = reset_user(db, token, now)
    if user is None:
        raise AccountError(RESET_GONE)
    check_password(password, user.email, user.name)
    spent = db.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == _token_hash(token), PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # used at this very moment by another request
        raise AccountError(RESET_GONE)
    db.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    set_password(db, user, password)
    return user


RESET_GONE = "This link has been used or has expired. Ask for a new one below."
