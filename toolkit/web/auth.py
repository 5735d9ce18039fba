"""Signing in and out, and the one-time setup of the first admin account."""

from __future__ import annotations

import hmac

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
    AccountError,
    authenticate,
    clear_failures,
    create_user,
    record_failure,
    setup_needed,
    sign_in_blocked,
    sign_out_everywhere,
)
from toolkit.models import User
from toolkit.web import ValidEmail, get_db, safe_target

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.setup",
    "assets",
    "static",
    "feeds.feed",
    "self_assessment.member",  # the private token in the link is the only key
    "self_assessment.delete",
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


def new_password_field(description: str) -> PasswordField:
    """A password to set: long enough, and not absurdly long."""
    return PasswordField(
        "Password",
        description=description,
        validators=[
            DataRequired("Enter a password"),
            Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters"),
            Length(max=limits.PASSWORD),
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
    password = new_password_field(f"At least {MIN_PASSWORD} characters.")
    confirm = PasswordField(
        "Password again",
        validators=[
            DataRequired("Enter the password again"),
            EqualTo("password", "The passwords do not match"),
        ],
    )


def init_app(app: Flask) -> None:
    """Attach Flask-Login and the rule that every page except sign-in needs a signed-in user."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to continue."
    app.before_request(_require_login)


@login_manager.user_loader
def _load_user(user_id: str) -> LoginUser | None:
    user = get_db().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or cookie_session.get("epoch") != user.session_epoch:
        return None  # signed out everywhere since this session began
    return LoginUser(user)


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
    """Sign in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    db, address = get_db(), request.remote_addr or "unknown"
    if sign_in_blocked(db, form.email.data, address):
        form.password.errors.append("Too many failed attempts: wait 15 minutes, then try again")
        return render_template("auth/login.html", form=form), 429
    user = authenticate(db, form.email.data, form.password.data)
    if user:
        clear_failures(db, user.email)
        db.commit()
        _start_session(user)
        return redirect(safe_target(request.args.get("next"), url_for("home.index")))
    record_failure(db, form.email.data, address)
    db.commit()
    form.password.errors.append("The e-mail address or password is not right")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST only, so a link elsewhere cannot sign you out)."""
    logout_user()
    cookie_session.clear()
    return redirect(url_for("auth.login"))


def _start_session(user: User) -> None:
    cookie_session.clear()  # a fresh session on sign-in: nothing carried over from before
    cookie_session["epoch"] = user.session_epoch
    login_user(LoginUser(user))


@bp.route("/account", methods=["GET", "POST"])
def account():
    """Your account: sign out of every device."""
    form = FlaskForm()
    if form.validate_on_submit():
        db = get_db()
        sign_out_everywhere(db, current_user.user)
        db.commit()
        logout_user()
        cookie_session.clear()
        flash("You are signed out on every device.")
        return redirect(url_for("auth.login"))
    return render_template("auth/account.html", form=form)
