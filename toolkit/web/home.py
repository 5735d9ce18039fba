"""The start page: what is in the bank and where to go next."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from toolkit import sets
from toolkit.web import get_db, toolkit

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """The next step (the first learning set, or your sets) and the bank's sections."""
    kit = toolkit()
    user = current_user.user
    own = [s for s in sets.sets_for(get_db(), user) if sets.facilitates(user, s)]
    return render_template(
        "home/index.html",
        own_sets=own,
        case_count=len(kit.bank.cases),
        prompt_count=len(kit.bank.prompts),
        templates=sorted(kit.templates.values(), key=lambda t: t.name),
    )
