"""The start page: what is in the bank and where to go next."""

from __future__ import annotations

from flask import Blueprint, render_template

from toolkit.web import toolkit

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """Show the service's sections with counts from the bank."""
    kit = toolkit()
    return render_template(
        "home/index.html",
        case_count=len(kit.bank.cases),
        prompt_count=len(kit.bank.prompts),
        templates=sorted(kit.templates.values(), key=lambda t: t.name),
    )
