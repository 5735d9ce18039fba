"""Facilitator and admin accounts: creation and password checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from toolkit import limits
from toolkit.models import LoginFailure, User
from toolkit.text import one_line

MIN_PASSWORD = 12
# Checked against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


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
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    name = one_line(name)
    if len(name) > limits.NAME or (password and len(password) > limits.PASSWORD):
        raise AccountError(
            f"keep the name within {limits.NAME} characters and the password within "
            f"{limits.PASSWORD}"
        )
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


def authenticate(db: Session, email: str, password: str) -> User | None:
    """Return the user if the e-mail and password match, else None (in similar time either way)."""
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


FAILURE_WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20


def _failure_keys(email: str, address: str) -> tuple[str, str]:
    return f"email:{normalise_email(email)}", f"addr:{address}"


def sign_in_blocked(db: Session, email: str, address: str) -> bool:
    """True while an account or an address has too many recent failed sign-ins."""
    since = datetime.now(UTC) - FAILURE_WINDOW
    account, addr = _failure_keys(email, address)

    def recent(key: str) -> int:
        query = select(func.count(LoginFailure.id)).where(
            LoginFailure.key == key, LoginFailure.at >= since
        )
        return db.scalar(query) or 0

    return recent(account) >= MAX_PER_ACCOUNT or recent(addr) >= MAX_PER_ADDRESS


def record_failure(db: Session, email: str, address: str) -> None:
    """Count a failed sign-in against both the account and the address."""
    for key in _failure_keys(email, address):
        db.add(LoginFailure(key=key))
    db.flush()


def clear_failures(db: Session, email: str) -> None:
    """Forget an account's failures after a successful sign-in."""
    account, _addr = _failure_keys(email, "")
    db.execute(delete(LoginFailure).where(LoginFailure.key == account))


def sign_out_everywhere(db: Session, user: User) -> None:
    """End every session of this user, on every device."""
    user.session_epoch += 1
    db.flush()
