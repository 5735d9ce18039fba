"""Admin pages: the accounts of facilitators and admins (add, change, send a password link)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

from toolkit import limits
from toolkit.accounts import AccountError, ResetLink, create_user, start_reset, update_user
from toolkit.mail import MailError
from toolkit.models import User, utcnow
from toolkit.web import get_db, public_url, toolkit
from toolkit.web.auth import PASSWORD_HINT, HardToGuess, email_field, send_reset_link

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN_LABEL = "Admin (sees every set and can add accounts)"


def name_field() -> StringField:
    return StringField(
        "Name", validators=[DataRequired("Enter their name"), Length(max=limits.NAME)]
    )


class UserForm(FlaskForm):
    name = name_field()
    email = email_field("Enter their e-mail address")
    password = PasswordField(
        "Password (optional)",
        description=(
            "Leave it blank and they get an e-mail with a link to choose their own. "
            f"If you set one: {PASSWORD_HINT} Give it to them in person or by phone."
        ),
        validators=[Optional(), HardToGuess()],
    )
    admin = BooleanField(ADMIN_LABEL)


class EditUserForm(FlaskForm):
    name = name_field()
    admin = BooleanField(ADMIN_LABEL)


@bp.before_request
def _admins_only():
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(404)


@bp.route("/users", methods=["GET", "POST"])
def users():
    """Every account; add a facilitator or admin."""
    form = UserForm()
    db = get_db()
    if form.validate_on_submit():
        password = form.password.data or None
        try:
            user = create_user(db, form.email.data, password, form.name.data, form.admin.data)
            db.commit()
        except AccountError as exc:
            db.rollback()
            form.email.errors.append(str(exc))
        else:
            flash(f"Account added for {user.email}.")
            if password is None:
                _send_link(user)
            return redirect(url_for("admin.users"))
    accounts = db.scalars(select(User).order_by(User.name)).all()
    status = 400 if form.errors else 200
    return render_template("admin/users.html", form=form, accounts=accounts), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """Change an account's name and whether it is an admin (never your own admin rights, so
    the toolkit always keeps someone who can add accounts)."""
    db = get_db()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    form = EditUserForm(data={"name": user.name, "admin": user.is_admin})
    if form.validate_on_submit():
        if user.id == current_user.id and not form.admin.data:
            form.admin.errors.append(
                "You cannot remove your own admin rights: ask another admin to do it"
            )
        else:
            try:
                update_user(db, user, form.name.data, form.admin.data)
                db.commit()
            except AccountError as exc:
                db.rollback()
                form.name.errors.append(str(exc))
            else:
                flash(f"Saved the changes to {user.email}.")
                return redirect(url_for("admin.users"))
    status = 400 if form.errors else 200
    return render_template("admin/user.html", form=form, user=user), status


@bp.post("/users/<int:user_id>/reset")
def send_reset(user_id: int):
    """E-mail an account a single-use link to set a new password (its current one still works
    until then)."""
    form = FlaskForm()
    db = get_db()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    if not form.validate_on_submit():
        abort(400, "The form has expired: go back to Users and try again.")
    _send_link(user)
    return redirect(url_for("admin.users"))


def _send_link(user: User) -> None:
    """Issue a link to set a password and e-mail it; when no mail server is set up (messages go
    to the outbox folder) or it cannot be sent, show the link so the admin can pass it on."""
    db = get_db()
    link = start_reset(db, user, utcnow())
    db.commit()
    try:
        how = send_reset_link(link, current_user.user)
    except MailError as exc:
        flash(_link_to_pass_on(link, f"The e-mail to {user.email} was not sent ({exc})."), "error")
        return
    if not toolkit().settings.smtp_url:
        flash(_link_to_pass_on(link, "No mail server is set up, so it was not e-mailed."))
        return
    flash(f"Sent {user.email} a link to set a new password ({how}).")


def _link_to_pass_on(link: ResetLink, why: str) -> Markup:
    url = public_url("auth.reset", token=link.token)
    return Markup(
        "{why} Give {name} this link to set their password (it works once, within an hour): "
        '<span class="toolkit-break-anywhere">{url}</span>'
    ).format(why=why, name=link.user.name, url=url)
