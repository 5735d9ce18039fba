"""Facilitator and admin accounts: creation and password checks."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from toolkit.models import User

MIN_PASSWORD = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A reason an account cannot be created, in words the user can act on."""


def normalise_email(email: str) -> str:
    """Trim and lower-case an e-mail address so sign-in ignores case."""
    return email.strip().lower()


def user_count(db: Session) -> int:
    """How many accounts exist (0 means the first-run setup is still open)."""
    return db.scalar(select(func.count(User.id))) or 0


def create_user(
    db: Session, email: str, password: str | None, name: str = "", is_admin: bool = False
) -> User:
    """Add an account; raise AccountError for a bad address, a short password or a duplicate.

    `password=None` makes an account that cannot sign in until a password is set.
    """
    email = normalise_email(email)
    if not EMAIL.match(email):
        raise AccountError(f"'{email}' is not an e-mail address")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if db.scalar(select(User).where(User.email == email)):
        raise AccountError(f"an account for {email} already exists")
    user = User(
        email=email,
        name=name.strip() or email.split("@")[0],
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
