"""Signing in and out, resetting a forgotten password, and the one-time setup of the first
admin account."""

from __future__ import annotations

import hmac
import math
import threading
from datetime import datetime
from email.message import EmailMessage
from logging import Logger

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from toolkit import limits
from toolkit.accounts import (
    MIN_PASSWORD,
    RESET_GONE,
    RESET_LIFETIME,
    AccountError,
    ResetLink,
    SlowDown,
    create_user,
    end_sign_in,
    finish_reset,
    password_problem,
    request_reset,
    reset_user,
    set_password,
    setup_needed,
    sign_in,
    sign_out_everywhere,
    signed_in_user,
    start_sign_in,
)
from toolkit.calendar import Person
from toolkit.config import Settings
from toolkit.letters import reset_letter
from toolkit.mail import SERVICE, MailError, compose_plain, send_with_retry, transport_for
from toolkit.models import User, utcnow
from toolkit.web import ValidEmail, get_db, public_url, safe_target, toolkit

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.forgot",
    "auth.reset",
    "auth.setup",
    "assets",
    "static",
    "feeds.feed",
    "self_assessment.member",  # the private token in the link is the only key
    "self_assessment.delete",
    "self_assessment.new_link",
    "members.page",  # the member's own page: the same private token
    "members.reply",
    "members.prework",
    "members.action",
    "members.new_link",
    "members.evaluation",
    "members.reflection",
    "members.record_pdf",
    "members.record_txt",
    "members.certificate",
}
LOOPBACK = {"127.0.0.1", "::1"}


class LoginUser:
    """Adapts a User row to what Flask-Login expects."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.id
        self.is_admin = user.is_admin
        self.name = user.name
        self.email = user.email

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


def email_field(missing: str, check: bool = True) -> EmailField:
    """An e-mail address field within the column's limit (`check`: also a real address)."""
    validators = [DataRequired(missing), Length(max=limits.EMAIL)]
    return EmailField("E-mail address", validators=validators + ([ValidEmail()] if check else []))


PASSWORD_HINT = (
    f"At least {MIN_PASSWORD} characters, and not a common password: three or four words you "
    "will remember work well."
)


class HardToGuess:
    """WTForms validator: a password long and uncommon enough (`password_problem`), judged
    with the form's own e-mail and name fields as words an attacker would try."""

    def __call__(self, form, field) -> None:
        from wtforms.validators import ValidationError

        context = [form[name].data or "" for name in ("email", "name") if name in form]
        problem = password_problem(field.data or "", *context)
        if problem:
            raise ValidationError(problem)


def new_password_field(description: str = PASSWORD_HINT) -> PasswordField:
    """A password to set: long enough and hard to guess."""
    return PasswordField(
        "Password",
        description=description,
        validators=[DataRequired("Enter a password"), HardToGuess()],
    )


def confirm_field() -> PasswordField:
    """The new password typed again."""
    return PasswordField(
        "Password again",
        validators=[
            DataRequired("Enter the password again"),
            EqualTo("password", "The passwords do not match"),
        ],
    )


class LoginForm(FlaskForm):
    email = email_field("Enter your e-mail address", check=False)
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password"), Length(max=limits.PASSWORD)],
    )


class SetupForm(FlaskForm):
    name = StringField(
        "Your name", validators=[DataRequired("Enter your name"), Length(max=limits.NAME)]
    )
    email = email_field("Enter your e-mail address")
    password = new_password_field()
    confirm = confirm_field()


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password"), Length(max=limits.PASSWORD)],
    )
    password = new_password_field()
    confirm = confirm_field()


class ForgotForm(FlaskForm):
    email = email_field("Enter your e-mail address", check=False)


class ResetForm(FlaskForm):
    password = new_password_field()
    confirm = confirm_field()


def init_app(app: Flask) -> None:
    """Attach Flask-Login and the rule that every page except sign-in needs a signed-in user."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    app.before_request(_require_login)


@login_manager.user_loader
def _load_user(user_id: str) -> LoginUser | None:
    """The signed-in user, only while this browser's sign-in has not been signed out."""
    token = cookie_session.get("sign_in")
    if not user_id.isdigit() or not isinstance(token, str):
        return None
    user = signed_in_user(get_db(), int(user_id), token, utcnow())
    return LoginUser(user) if user else None


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if setup_needed(get_db()):
        return redirect(url_for("auth.setup"))
    return login_manager.unauthorized()


def _setup_allowed() -> bool:
    """Setup is open from the machine itself, or elsewhere with the token printed on the console."""
    token = current_app.config.get("SETUP_TOKEN", "")
    given = request.values.get("token", "")
    return request.remote_addr in LOOPBACK or bool(given and hmac.compare_digest(given, token))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin; closed for good once any account exists."""
    db = get_db()
    if not setup_needed(db):
        abort(404)
    if not _setup_allowed():
        abort(403, "Open this page on the server itself, or use the link printed on its console.")
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = create_user(db, form.email.data, form.password.data, form.name.data, True)
            db.commit()
        except AccountError as exc:
            db.rollback()
            form.email.errors.append(str(exc))
        else:
            current_app.config.pop("SETUP_TOKEN", None)
            _start_session(user)
            flash("Your admin account is ready.")
            return redirect(url_for("home.index"))
    page = render_template("auth/setup.html", form=form, token=request.values.get("token", ""))
    return page, 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; repeated failures make each next attempt wait."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    db, now = get_db(), utcnow()
    try:
        user = sign_in(db, form.email.data, form.password.data, _address(), now)
    except SlowDown as slow:
        wait = _wait(slow, now)
        form.password.errors.append(_wait_message(wait))
        page = render_template("auth/login.html", form=form)
        return page, 429, {"Retry-After": str(wait)}
    if user is None:
        form.password.errors.append("The e-mail address or password is not right")
        return render_template("auth/login.html", form=form)
    _start_session(user)
    return redirect(safe_target(request.args.get("next"), url_for("home.index")))


def _address() -> str:
    """The client's address (from the proxy's header when TOOLKIT_PROXIES says to trust it)."""
    return request.remote_addr or "unknown"


def _wait(slow: SlowDown, now: datetime) -> int:
    """Whole seconds until the next attempt may be checked."""
    return max(1, math.ceil((slow.until - now).total_seconds()))


def _wait_message(seconds: int) -> str:
    """The refusal: the same words whether or not the account exists."""
    return f"Too many attempts. Wait {_duration(seconds)}, then try again"


def _duration(seconds: int) -> str:
    """ "1 second", "40 seconds", "3 minutes": a wait in words, rounded up."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST only, so a link elsewhere cannot sign you out); a copy of the cookie
    stops working too, since its sign-in is deleted."""
    _end_session()
    return redirect(url_for("auth.login"))


def _start_session(user: User) -> None:
    """Sign this browser in as `user`, ending whatever sign-in it had before."""
    _end_session()  # a fresh session on sign-in: nothing carried over from before
    db = get_db()
    cookie_session["sign_in"] = start_sign_in(db, user, utcnow())
    db.commit()
    login_user(LoginUser(user))


def _end_session() -> None:
    """Sign this browser out, deleting its sign-in so a copy of the cookie is refused."""
    token = cookie_session.get("sign_in")
    if isinstance(token, str):
        db = get_db()
        end_sign_in(db, token)
        db.commit()
    logout_user()
    cookie_session.clear()


@bp.route("/account", methods=["GET", "POST"])
def account():
    """Your account: sign out of every device."""
    form = FlaskForm()
    if form.validate_on_submit():
        db = get_db()
        sign_out_everywhere(db, current_user.user)
        db.commit()
        _end_session()
        flash("You are signed out on every device.")
        return redirect(url_for("auth.login"))
    return render_template("auth/account.html", form=form, password_form=PasswordForm())


@bp.post("/account/password")
def change_password():
    """Change your password: the current one first (slowed like signing in), then a new one
    that is hard to guess; every other browser signed in as you is signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        answer = _change_password(form)
        if answer is None:
            flash("Your new password is set. Any other device signed in as you is signed out.")
            return redirect(url_for("auth.account"))
    else:
        answer = 400, {}
    page = render_template("auth/account.html", form=FlaskForm(), password_form=form)
    return page, *answer


def _change_password(form: PasswordForm) -> tuple[int, dict[str, str]] | None:
    """Check the current password and set the new one; None when done, else the status and
    headers to answer with (the reason is on the form)."""
    db, me, now = get_db(), current_user.user, utcnow()
    try:
        checked = sign_in(db, me.email, form.current.data, _address(), now)
    except SlowDown as slow:
        wait = _wait(slow, now)
        form.current.errors.append(_wait_message(wait))
        return 429, {"Retry-After": str(wait)}
    if checked is None:
        form.current.errors.append("That is not your current password")
        return 400, {}
    try:
        set_password(db, checked, form.password.data)
    except AccountError as exc:
        db.rollback()
        form.password.errors.append(str(exc))
        return 400, {}
    db.commit()
    _start_session(checked)
    return None


@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a link to set a new password; the answer is the same whether or not the account
    exists, and a link goes only to the account's own address."""
    form = ForgotForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 400 if form.errors else 200
    link = request_reset(get_db(), form.email.data, _address(), utcnow())
    # sent after the answer, so a slow mail server does not tell who has an account; from a
    # thread, not the task queue, whose file would keep the live link (the database keeps
    # only its hash)
    if link is not None:
        args = (toolkit().settings, reset_message(link), link.user.id, current_app.logger)
        threading.Thread(target=_send_quietly, args=args, name=RESET_SENDER, daemon=True).start()
    flash(
        "If an account exists for that address, we have sent it a link to set a new password. "
        f"The link works once, within {_duration(int(RESET_LIFETIME.total_seconds()))}."
    )
    return redirect(url_for("auth.login"))


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Set a new password through an e-mailed link (GET only shows the form); the link is then
    spent and every other browser signed in as the user is signed out."""
    db, now = get_db(), utcnow()
    if reset_user(db, token, now) is None:
        return _reset_gone()
    form = ResetForm()
    if form.validate_on_submit():
        try:
            user = finish_reset(db, token, form.password.data, now)
        except AccountError as exc:
            db.rollback()
            if str(exc) == RESET_GONE:
                return _reset_gone()
            form.password.errors.append(str(exc))
        else:
            db.commit()
            _start_session(user)
            flash("Your new password is set. Any other device signed in as you is signed out.")
            return redirect(url_for("home.index"))
    page = render_template("auth/reset.html", form=form)
    return page, 400 if form.errors else 200, {"Cache-Control": "no-store"}


def _reset_gone():
    page = render_template("auth/reset_gone.html", message=RESET_GONE)
    return page, 404, {"Cache-Control": "no-store"}


def send_reset_link(link: ResetLink, sent_by: User) -> str:
    """E-mail a reset link an admin asked for, to its account's own address, and wait for the
    server (the admin is told whether it went); raises MailError if it cannot go."""
    return _send_reset(toolkit().settings, reset_message(link, sent_by), link.user.id)


def reset_message(link: ResetLink, sent_by: User | None = None) -> EmailMessage:
    """The e-mail carrying a reset link (from an admin, when `sent_by`)."""
    settings = toolkit().settings
    url = public_url("auth.reset", token=link.token)
    by = sent_by.name if sent_by else ""
    letter = reset_letter(link.user.name, url, RESET_LIFETIME, by)
    service = Person(SERVICE, settings.mail_from)
    reply_to = Person(sent_by.name, sent_by.email) if sent_by else Person("", settings.mail_from)
    recipient = Person(link.user.name, link.user.email)
    return compose_plain(service, reply_to, recipient, letter, settings.host)


RESET_SENDER = "password-reset"  # the name of the thread that sends a link someone asked for


def _send_reset(settings: Settings, message: EmailMessage, user_id: int) -> str:
    transport = transport_for(settings.smtp_url, settings.outbox_dir, settings.smtp_timeout)
    try:
        return send_with_retry(transport, message, f"password-reset-{user_id}", delays=())
    finally:
        transport.close()


def _send_quietly(settings: Settings, message: EmailMessage, user_id: int, log: Logger) -> None:
    """Send a link someone asked for, after they have had their answer; log a failure (they
    can ask again)."""
    try:
        _send_reset(settings, message, user_id)
    except MailError as exc:
        log.warning("reset link for user %s not sent: %s", user_id, exc)
