"""The web app: `create_app` wires settings, database, content and blueprints together."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, abort, g, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChainableUndefined, ChoiceLoader, DictLoader, PackageLoader, Undefined
from markupsafe import Markup
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from toolkit import db as database
from toolkit import limits
from toolkit.accounts import check_email, setup_needed
from toolkit.casebank import Bank, load_bank
from toolkit.config import Settings
from toolkit.frameworks import Frameworks, load_frameworks
from toolkit.jobs.compose import Content
from toolkit.jobs.queue import Queue, Worker
from toolkit.session_templates import SessionTemplate, load_session_templates

csrf = CSRFProtect()
HSTS = "max-age=31536000; includeSubDomains"  # a year; sent only with an https:// base URL


@dataclass
class Toolkit:
    """Everything the views need that lives for the life of the app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    frameworks: Frameworks
    bank: Bank
    templates: dict[str, SessionTemplate]
    queue: Queue
    derived: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """What `make` gives, made once per process: for views of the bank and frameworks,
        which are loaded when the app starts and never change while it runs."""
        if key not in self.derived:
            self.derived[key] = make()
        return self.derived[key]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; refuses to start on an invalid case bank or an out-of-date schema."""
    settings = Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.config.update(test_config or {})
    engine = database.make_engine(settings.database_url)
    database.check_schema(engine)
    frameworks = load_frameworks()
    sessions = database.session_factory(engine)
    bank = load_bank(settings.casebank_dir, frameworks)
    content = Content(settings, bank, frameworks)
    app.extensions["toolkit"] = Toolkit(
        settings=settings,
        engine=engine,
        sessions=sessions,
        frameworks=frameworks,
        bank=bank,
        templates=load_session_templates(settings.session_templates_dir),
        queue=Queue(settings, lambda: Worker(sessions, content)),
    )
    if settings.proxies:  # the client's address and scheme come from the proxy's headers
        app.wsgi_app = ProxyFix(app.wsgi_app, settings.proxies, settings.proxies, settings.proxies)
    _setup_jinja(app)
    _setup_requests(app)
    _register_blueprints(app)
    with app.extensions["toolkit"].sessions() as session:
        if setup_needed(session):
            app.config.setdefault("SETUP_TOKEN", secrets.token_urlsafe(24))
    return app


class ValidEmail:
    """WTForms validator: a real e-mail address (email-validator), normalised in place."""

    def __call__(self, _form, field) -> None:
        from wtforms.validators import ValidationError

        try:
            field.data = check_email(field.data or "")
        except ValueError:
            raise ValidationError("Enter an e-mail address like name@example.nhs.uk") from None


def safe_target(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`: never redirect off-site.

    Browsers drop tabs and line breaks from an address and read a backslash as a slash, so
    `/<tab>/evil.example` means `//evil.example`: a target is refused unless it starts with one
    slash and holds no backslash, control, format or space character, as given or decoded.
    """
    if not target:
        return default
    return target if all(_local_path(form) for form in (target, unquote(target))) else default


def _local_path(target: str) -> bool:
    """True for a path on this site with nothing a browser might rewrite into another host."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(char == "\\" or unicodedata.category(char)[0] in "CZ" for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def toolkit(app: Flask | None = None) -> Toolkit:
    """The running app's Toolkit (settings, database, content)."""
    from flask import current_app

    return (app or current_app).extensions["toolkit"]


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for e-mails and pages to share, built from `TOOLKIT_BASE_URL` alone:
    never from the request's Host header, which anyone can forge."""
    from flask import current_app

    base = urlsplit(toolkit().settings.base_url)
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def get_db() -> Session:
    """The database session for this request, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = toolkit().sessions()
    return g.db


def _close_db(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def _setup_jinja(app: Flask) -> None:
    app.jinja_env.undefined = ChainableUndefined
    app.jinja_env.autoescape = True  # the NHS.UK macros are .jinja files; escape them too
    app.jinja_env.loader = ChoiceLoader(
        [_remembered_components(), app.jinja_env.loader, PackageLoader("nhsuk_frontend_jinja")]
    )
    app.jinja_env.globals["nhsuk_component"] = _ComponentCache(app.jinja_env)

    app.jinja_env.globals["items_for"] = _select_items  # used inside imported macros
    app.jinja_env.globals["limits"] = limits  # maxlength attributes match the columns

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "cspNonce": _nonce(),
            "frameworks": toolkit().frameworks,
            "form_error_list": _form_error_list,
        }


# NHS.UK components the pages use most; each is a pure function of its parameters, and laying
# one out through the package's macros costs about 1 ms (most of a page's time), so each is
# laid out once per process for the same parameters (see `_ComponentCache`)
REMEMBERED = {
    "button": "button",
    "input": "input",
    "select": "select",
    "textarea": "textarea",
    "checkboxes": "checkboxes",
    "radios": "radios",
    "error-summary": "errorSummary",
    "breadcrumb": "breadcrumb",
}


def _remembered_components() -> DictLoader:
    """Stand-ins for the components' macro files: the same macro names and parameters, laid
    out through the cache. (Used without `{% call %}`: a caller would bypass the cache.)"""
    return DictLoader(
        {
            f"nhsuk/components/{folder}/macro.jinja": (
                f"{{% macro {name}(params = {{}}) %}}"
                f'{{{{ nhsuk_component("{folder}", params, caller) }}}}{{% endmacro %}}'
            )
            for folder, name in REMEMBERED.items()
        }
    )


class _ComponentCache:
    """A component's HTML for given parameters, laid out once and then remembered (up to
    `LIMIT` layouts per process; parameters that cannot be compared are laid out each time)."""

    LIMIT = 4096

    def __init__(self, env) -> None:
        self.env = env
        self.made: dict[tuple, Markup] = {}

    def __call__(self, folder: str, params: dict, caller=None) -> Markup:
        template = f"nhsuk/components/{folder}/template.jinja"
        if caller:
            return Markup(self.env.get_template(template).render(params=params, caller=caller))
        try:
            key = (folder, _frozen(params))
        except TypeError:
            return Markup(self.env.get_template(template).render(params=params))
        found = self.made.get(key)
        if found is None:
            found = Markup(self.env.get_template(template).render(params=params))
            if len(self.made) >= self.LIMIT:
                self.made.clear()
            self.made[key] = found
        return found


def _frozen(value: Any) -> Any:
    """A hashable stand-in for template parameters that tells apart everything the output
    depends on (True from 1, markup from text); TypeError for anything else."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_frozen(v) for v in value))
    if isinstance(value, Undefined):
        return ("undefined",)
    if value is None or isinstance(value, str | int | float | bool):
        return (type(value).__name__, str(value))
    raise TypeError(type(value).__name__)


def _select_items(field) -> list[dict[str, Any]]:
    """A WTForms select field's choices as NHS.UK select items."""
    return [
        {"value": value, "text": label, "selected": str(value) == str(field.data)}
        for value, label in field.choices
    ]


def _form_error_list(form) -> list[dict[str, str]]:
    """Every field error, linked to its field, for the NHS.UK error summary."""
    return [
        {"text": errors[0], "href": f"#{form[name].id}"}
        for name, errors in form.errors.items()
        if name != "csrf_token" and errors
    ] or [{"text": "The form has expired: please try again", "href": "#maincontent"}]


def _nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _refuse_nul() -> None:
    """Refuse a NUL character anywhere in the address or a form: no field needs one, and
    PostgreSQL cannot store it, so one check here keeps it from every view."""
    values = [request.path, *(part for item in request.values.items(multi=True) for part in item)]
    if any("\x00" in value for value in values):
        abort(
            400,
            "Something sent contains a NUL character (\\0), which no field accepts. "
            "Remove it and try again.",
        )


def _setup_requests(app: Flask) -> None:
    app.before_request(_refuse_nul)  # before CSRF and sign-in, so every route gets the same answer
    csrf.init_app(app)
    app.teardown_appcontext(_close_db)

    @app.after_request
    def _security_headers(response):
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{_nonce()}'; style-src 'self'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if toolkit().settings.base_url.startswith("https://"):
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)

    @app.route("/assets/<path:filename>")
    def assets(filename: str):
        folder = toolkit().settings.assets_dir
        if filename == "nhsuk-frontend.min.css":
            return Response(_stylesheet(folder), mimetype="text/css")
        if filename == "nhsuk-frontend.min.js":
            return send_from_directory(folder, filename, max_age=3600)
        # images and the manifest live in dist/nhsuk/assets, where the CSS expects /assets/...
        return send_from_directory(folder / "assets", filename, max_age=3600)


ERROR_TITLES = {
    400: "Something in that request was not right",
    403: "You cannot open this page",
    404: "Page not found",
    405: "That cannot be done here",
    413: "That file is too big",
    429: "Too many attempts",
    500: "Sorry, something went wrong",
}


def _error_page(error):
    """Errors in the service's own layout, saying what to do next."""
    code = getattr(error, "code", 500) or 500
    message = getattr(error, "description", "") if code != 500 else ""
    page = render_template(
        "errors/error.html", code=code, title=ERROR_TITLES.get(code, "Error"), message=message
    )
    return page, code


@cache
def _stylesheet(folder: Path) -> str:
    """NHS.UK frontend CSS without its web fonts: they are licensed to NHS sites and load from
    assets.nhs.uk, which the CSP (and privacy) forbid, so text falls back to Arial."""
    css = (folder / "nhsuk-frontend.min.css").read_text("utf-8")
    return re.sub(r"@font-face\s*\{[^}]*\}", "", css)


def _register_blueprints(app: Flask) -> None:
    from toolkit.web import (
        admin,
        auth,
        cases,
        frameworks,
        home,
        members,
        programmes,
        resources,
        self_assessment,
        sets,
    )

    auth.init_app(app)
    for module in (
        auth,
        home,
        cases,
        frameworks,
        sets,
        resources,
        self_assessment,
        members,
        admin,
        programmes,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(sets.feeds)
