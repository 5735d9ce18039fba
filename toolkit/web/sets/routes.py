"""Learning sets on the web: list, create, edit, members, schedule, actions, map, files."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.utils import secure_filename

from toolkit import invites, limits, packs, setfile, sets
from toolkit.datafiles import DataFileError
from toolkit.models import LearningSet, Meeting, Member
from toolkit.programme_map import coverage, coverage_svg
from toolkit.web import get_db, safe_target, toolkit
from toolkit.web.sets.forms import (
    GroundRulesForm,
    ImportForm,
    MemberForm,
    MemberListForm,
    ScheduleForm,
    SessionForm,
    SetForm,
)

bp = Blueprint("sets", __name__, url_prefix="/sets")


@bp.context_processor
def _helpers() -> dict:
    return {
        "when": sets.describe_when,
        "number_of": sets.meeting_number,
        "is_demo": sets.is_demo,
        "moment": sets.describe_moment,  # a stored UTC time on the set's clock
        "change": sets.describe_change,
        "can_change": lambda s: sets.can_change(_user(), s),  # a programme lead only reads
    }


def _user():
    return current_user.user


def find_set(slug: str, change: bool | None = None, sessions: bool = True) -> LearningSet:
    """The set, if it exists and the user may see it; otherwise 404 (never reveal other sets).

    A request that would change it (`change`; by default any but GET and HEAD) is refused with
    403 for a programme lead who neither facilitates the set nor is an admin: they only read.
    Its sessions load with it, unless `sessions` is false (then on first use)."""
    query = select(LearningSet).where(LearningSet.slug == slug)
    if not sessions:
        query = query.options(lazyload(LearningSet.meetings))
    found = get_db().scalar(query)
    if found is None or not sets.can_access(_user(), found):
        abort(404)
    if change is None:
        change = request.method not in ("GET", "HEAD")
    if change and not sets.can_change(_user(), found):
        abort(403)
    return found


def find_meeting(slug: str, key: str, change: bool | None = None) -> Meeting:
    """A session of a set the user may see (see `find_set`). A change (a POST) loads that session
    alone: the set's other sessions, each with its blocks, cases, attendance and replies, load
    only if the change goes on to use them (the rota does), not for every block added."""
    if request.method in ("GET", "HEAD"):
        learning_set = find_set(slug, change)
        meeting = next((m for m in learning_set.meetings if m.key == key), None)
    else:
        learning_set = find_set(slug, change, sessions=False)
        meeting = get_db().scalar(
            select(Meeting).where(
                Meeting.set_id == learning_set.id, Meeting.key == key, Meeting.deleted_at.is_(None)
            )
        )
    if meeting is None:
        abort(404)
    # the meeting keeps hold of its set: the session's identity map holds objects weakly, so
    # otherwise the set (with all its sessions) would be forgotten and loaded again
    set_committed_value(meeting, "learning_set", learning_set)
    return meeting


def attempt(change: Callable[[], object], done: str) -> int | None:
    """Run one change as one transaction: None once saved; otherwise the reason is flashed,
    nothing is changed, and the status to answer comes back (409 if someone saved first)."""
    db = get_db()
    try:
        change()
        db.commit()
    except sets.SetError as exc:
        db.rollback()
        flash(str(exc), "error")
        return 409 if isinstance(exc, sets.Conflict) else 400
    except StaleDataError:  # another save landed between our read and our write
        db.rollback()
        flash("Someone else saved a change at the same moment; yours was not saved.", "error")
        return 409
    flash(done)
    return None


def save(change: Callable[[], object], done: str) -> bool:
    """Run one change as one transaction; a SetError becomes a message and changes nothing."""
    return attempt(change, done) is None


def save_checked(
    row: LearningSet | Meeting, seen: str | None, change: Callable[[], object], done: str
) -> int | None:
    """`attempt` a change made in a form opened at version `seen` of `row` (the set or session)."""

    def checked() -> None:
        sets.check_version(row, seen)
        change()

    return attempt(checked, done)


def keep_typed(row: LearningSet | Meeting, status: int, forms: dict[str, FlaskForm]) -> None:
    """After a conflict, forms kept as typed carry the current version, so saving again works."""
    if status != 409:
        return
    for form in forms.values():
        if "version" in form:
            form.version.data = str(row.version)


def template_choices(form_field, blank: str = "Choose a template") -> None:
    templates = sorted(toolkit().templates.values(), key=lambda t: t.name)
    form_field.choices = [("", blank)] + [(t.id, f"{t.name} ({t.minutes} min)") for t in templates]


def series_choices(form: ScheduleForm, fresh: bool = False) -> None:
    """The series form's template lists; a fresh form proposes the usual first and last
    meetings (contracting, and the final review) when those templates exist."""
    template_choices(form.template)
    template_choices(form.first_template, "The same as the sessions in between")
    template_choices(form.last_template, "The same as the sessions in between")
    if not fresh:
        return
    known = toolkit().templates
    form.first_template.data = "first-meeting" if "first-meeting" in known else ""
    form.last_template.data = "final-review" if "final-review" in known else ""
    form.template.data = "action-learning-set" if "action-learning-set" in known else ""


def zone_of(learning_set: LearningSet) -> ZoneInfo:
    """The set's time zone, which the dates and times in its forms are in."""
    return ZoneInfo(learning_set.time_zone)


@bp.route("/")
def index():
    """The user's own sets; for an admin, other facilitators' sets and the demo apart."""
    user = _user()
    found = sets.sets_for(get_db(), user)
    demo = [s for s in found if sets.is_demo(s) and not sets.facilitates(user, s)]
    own = [s for s in found if sets.facilitates(user, s)]
    others = [s for s in found if s not in own and s not in demo]
    return render_template(
        "sets/index.html", own=own, others=others, demo=demo, next_meeting=sets.next_meeting
    )


@bp.route("/import", methods=["GET", "POST"])
def import_file():
    """Create or update a set from an uploaded learning-set file, all or nothing."""
    form = ImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        name = secure_filename(upload.filename or "") or "learning-set.yaml"
        kit = toolkit()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            upload.save(path)
            try:
                slug, notes = setfile.import_file(
                    kit.sessions, path, kit.bank, kit.templates, uploader=_user().id
                )
            except DataFileError as exc:
                problems = [str(p).replace(f"{folder}/", "") for p in exc.problems]
            except sets.SetError as exc:
                problems = [str(exc)]
            else:
                flash("Imported. " + " ".join(n[0].upper() + n[1:] + "." for n in notes[:6]))
                return redirect(url_for("sets.show", slug=slug))
        form.file.errors.append(f"The file has {len(problems)} problem(s); nothing was changed")
    return render_template(
        "sets/import.html", form=form, problems=problems
    ), 400 if problems or form.errors else 200


@bp.route("/<slug>/export")
def export_file(slug: str):
    """Download the set as a learning-set file."""
    text = setfile.export_set(find_set(slug))
    return download(text.encode("utf-8"), "application/yaml", f"{slug}.yaml")


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Create a set owned by the signed-in facilitator."""
    form = SetForm()
    if form.validate_on_submit():
        db = get_db()
        fields = {k: form[k].data or "" for k in ("programme", "venue", "video_url")}
        try:
            created = sets.create_set(
                db, _user(), form.slug.data, form.title.data, form.time_zone.data, **fields
            )
            db.commit()
        except sets.SetError as exc:
            db.rollback()
            form.slug.errors.append(str(exc))
        else:
            flash("Set created. Add members, then schedule the sessions.")
            return redirect(url_for("sets.show", slug=created.slug))
    return render_template("sets/new.html", form=form), 400 if form.errors else 200


@bp.route("/<slug>")
def show(slug: str):
    """The set's overview: members, sessions, schedule and ground rules."""
    return _overview(find_set(slug))


def _overview(learning_set: LearningSet, status: int = 200, **forms):
    """Render the overview; a failed form passed in is shown with its error summary."""
    zone = zone_of(learning_set)
    schedule = forms.get("schedule_form") or ScheduleForm(prefix="series", zone=zone)
    single = forms.get("session_form") or SessionForm(prefix="one", zone=zone)
    series_choices(schedule, fresh="schedule_form" not in forms)
    template_choices(single.template)
    keep_typed(learning_set, status, forms)
    version = str(learning_set.version)
    owed = invites.pending_invites(get_db(), learning_set)
    page = render_template(
        "sets/show.html",
        out_of_date=invites.out_of_date_members(owed),
        unsent=len(owed),
        send_id=secrets.token_urlsafe(12),  # the "send their link" forms' id: one click, one e-mail
        s=learning_set,
        members=sets.active_members(learning_set),
        meetings=sets.meetings_in_order(learning_set),
        warning=sets.size_warning(learning_set),
        member_form=forms.get("member_form") or MemberForm(prefix="member", version=version),
        list_form=forms.get("list_form") or MemberListForm(prefix="list", version=version),
        schedule_form=schedule,
        session_form=single,
        rules_form=forms.get("rules_form")
        or GroundRulesForm(ground_rules=learning_set.ground_rules, version=version),
        local=sets.local,
        end_time=sets.end_time,
        templates=toolkit().templates,
        form=next(iter(forms.values()), None),
    )
    return page, status


@bp.route("/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str):
    """Change the set's title, programme, venue, video link and time zone."""
    learning_set = find_set(slug, change=True)
    form = SetForm(obj=learning_set)
    del form.slug
    if not form.is_submitted():
        form.programme.data = learning_set.programme_id or ""
    if not form.validate_on_submit():
        page = render_template("sets/edit.html", form=form, s=learning_set)
        return page, 400 if form.errors else 200
    fields = {k: form[k].data or "" for k in ("programme", "venue", "video_url", "time_zone")}
    change = lambda: sets.change_set(get_db(), learning_set, form.title.data, **fields)  # noqa: E731
    status = save_checked(learning_set, form.version.data, change, "Set details saved.")
    if status is None:
        return redirect(url_for("sets.show", slug=slug))
    keep_typed(learning_set, status, {"form": form})
    return render_template("sets/edit.html", form=form, s=learning_set), status


@bp.route("/<slug>/delete", methods=["GET", "POST"])
def delete_set(slug: str):
    """Ask, then delete the set and all its members' personal data."""
    learning_set = find_set(slug, change=True)
    form = FlaskForm()
    if form.validate_on_submit():
        title, set_id = learning_set.title, learning_set.id
        sets.delete_set(get_db(), learning_set)
        get_db().commit()
        flash(f"“{title}” and everything in it has been deleted.")
        _forget_printouts(set_id)
        return redirect(url_for("sets.index"))
    counts = {
        "members": len(learning_set.members),
        "sessions": len(learning_set.meetings),
    }
    return render_template("sets/delete.html", s=learning_set, member=None, counts=counts)


@bp.route("/<slug>/members/<int:member_id>/delete", methods=["GET", "POST"])
def delete_member(slug: str, member_id: int):
    """Ask, then remove a member's personal data everywhere (attendance stays as counts)."""
    learning_set = find_set(slug, change=True)
    member = next((m for m in learning_set.members if m.id == member_id), None)
    if member is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        name = member.name
        if save(lambda: sets.delete_member(get_db(), member), f"{name}'s data has been deleted."):
            _forget_printouts(learning_set.id)
        return redirect(url_for("sets.show", slug=slug, _anchor="members"))
    return render_template("sets/delete.html", s=learning_set, member=member, counts={})


def _forget_printouts(set_id: int) -> None:
    """Remove every cached PDF of the set (any could name a deleted member); say if some remain."""
    if not packs.forget_set(toolkit().settings.pdf_cache_dir, set_id):
        flash(
            "Some printed documents kept by the server could not be removed: "
            "ask the administrator to check the server log.",
            "error",
        )


@bp.post("/<slug>/ground-rules")
def ground_rules(slug: str):
    """Save the set's ground rules (one per line)."""
    learning_set = find_set(slug)
    form = GroundRulesForm()
    if not form.validate_on_submit():
        return _overview(learning_set, 400, rules_form=form)
    change = lambda: sets.set_ground_rules(get_db(), learning_set, form.ground_rules.data)  # noqa: E731
    status = save_checked(learning_set, form.version.data, change, "Ground rules saved.")
    if status:
        return _overview(learning_set, status, rules_form=form)
    return redirect(url_for("sets.show", slug=slug, _anchor="ground-rules"))


@bp.post("/<slug>/members")
def add_member(slug: str):
    """Add a member to the set."""
    learning_set = find_set(slug)
    form = MemberForm(prefix="member")
    if not form.validate_on_submit():
        return _overview(learning_set, 400, member_form=form)
    status = save_checked(
        learning_set,
        form.version.data,
        lambda: sets.add_member(
            get_db(), learning_set, form.name.data, form.email.data, form.grade.data
        ),
        f"{form.name.data} added.",
    )
    if status:
        return _overview(learning_set, status, member_form=form)
    return _back_to_adding(slug)


def _back_to_adding(slug: str):
    """The set page with the add-member form open again, for the next member."""
    return redirect(url_for("sets.show", slug=slug, adding="member", _anchor="add-member"))


@bp.post("/<slug>/members/list")
def add_member_list(slug: str):
    """A pasted list of members: first a preview of who would be added and which lines are
    refused (and why), then, confirmed, everyone the preview would add."""
    learning_set = find_set(slug)
    form = MemberListForm(prefix="list")
    if not form.validate_on_submit():
        return _overview(learning_set, 400, list_form=form)
    found = _read_list(learning_set, form.members.data)
    if request.form.get("do") != "add":
        return _member_list_preview(learning_set, form, found)
    change = lambda: sets.add_members(get_db(), learning_set, form.members.data)  # noqa: E731
    done = f"{len(found.add)} member{'s' if len(found.add) != 1 else ''} added."
    status = save_checked(learning_set, form.version.data, change, done)
    if status:
        return _member_list_preview(learning_set, form, found, status)
    return redirect(url_for("sets.show", slug=slug, _anchor="members"))


def _read_list(learning_set: LearningSet, text: str) -> sets.MemberList:
    existing = [m.email for m in learning_set.members]
    return sets.read_member_list(text, existing, limits.MEMBERS - len(existing))


def _member_list_preview(
    learning_set: LearningSet, form: MemberListForm, found: sets.MemberList, status: int = 200
):
    """Who the list would add and which lines it refuses, with the list kept to confirm (at
    the set's current version: the list is read again when confirmed)."""
    form.version.data = str(learning_set.version)
    page = render_template("sets/member_list.html", s=learning_set, form=form, found=found)
    return page, status


def _member(learning_set: LearningSet, member_id: int) -> Member:
    member = next((m for m in learning_set.members if m.id == member_id), None)
    if member is None:
        abort(404)
    return member


@bp.post("/<slug>/members/<int:member_id>/remove")
def remove_member(slug: str, member_id: int):
    """Take a member off the set (their attendance history stays)."""
    learning_set = find_set(slug)
    member = _member(learning_set, member_id)
    change = lambda: sets.remove_member(get_db(), member)  # noqa: E731
    done = f"{member.name} removed from the set."
    status = save_checked(learning_set, request.form.get("version"), change, done)
    if status:
        return _overview(learning_set, status)
    return redirect(url_for("sets.show", slug=slug, _anchor="members"))


@bp.route("/<slug>/members/<int:member_id>/edit", methods=["GET", "POST"])
def edit_member(slug: str, member_id: int):
    """Correct a member's name or grade."""
    learning_set = find_set(slug, change=True)
    member = _member(learning_set, member_id)
    form = MemberForm(obj=member, version=str(learning_set.version))
    del form.email
    if not form.validate_on_submit():
        page = render_template("sets/member.html", form=form, s=learning_set, member=member)
        return page, 400 if form.errors else 200
    change = lambda: sets.update_member(get_db(), member, form.name.data, form.grade.data)  # noqa: E731
    status = save_checked(learning_set, form.version.data, change, "Member details saved.")
    if status is None:
        return redirect(url_for("sets.show", slug=slug, _anchor="members"))
    keep_typed(learning_set, status, {"form": form})
    page = render_template("sets/member.html", form=form, s=learning_set, member=member)
    return page, status


@bp.post("/<slug>/schedule")
def schedule(slug: str):
    """Create a series of sessions in one step."""
    learning_set = find_set(slug)
    form = ScheduleForm(prefix="series", zone=zone_of(learning_set))
    series_choices(form)
    if not form.validate_on_submit():
        return _overview(learning_set, 400, schedule_form=form)
    templates = toolkit().templates
    first, count = form.start(), form.count.data
    save(
        lambda: sets.add_series(
            get_db(),
            learning_set,
            first,
            form.every_weeks.data,
            count,
            templates[form.template.data],
            form.others(templates),
            form.minutes.data,
        ),
        f"{count} session{'s' if count != 1 else ''} scheduled.",
    )
    return redirect(url_for("sets.show", slug=slug, _anchor="sessions"))


@bp.post("/<slug>/sessions")
def add_session(slug: str):
    """Add one session."""
    learning_set = find_set(slug)
    form = SessionForm(prefix="one", zone=zone_of(learning_set))
    template_choices(form.template)
    if not form.validate_on_submit():
        return _overview(learning_set, 400, session_form=form)
    template = toolkit().templates[form.template.data]
    start = form.instant()
    save(lambda: sets.add_meeting(get_db(), learning_set, start, template), "Session added.")
    return redirect(url_for("sets.show", slug=slug, _anchor="sessions"))


@bp.post("/<slug>/actions/<int:action_id>")
def update_action(slug: str, action_id: int):
    """Close, drop or reopen an action, with its outcome."""
    learning_set = find_set(slug)
    found = sets.actions_for(get_db(), learning_set)
    action = next((a for a in found if a.id == action_id), None)
    if action is None:
        abort(404)
    chosen, outcome = request.form.get("status", ""), request.form.get("outcome", "")
    status = save_checked(
        learning_set,
        request.form.get("version"),
        lambda: sets.update_action(get_db(), action, chosen, outcome),
        "Action updated.",
    )
    if status:  # the action log shows the action as typed, with the reason at the top
        typed = {"id": action_id, "status": chosen, "outcome": outcome}
        return _action_log(learning_set, status, typed)
    return redirect(safe_target(request.form.get("back"), url_for("sets.actions", slug=slug)))


@bp.route("/<slug>/actions")
def actions(slug: str):
    """The action log: every member's actions, open ones first."""
    return _action_log(find_set(slug))


def _action_log(learning_set: LearningSet, status: int = 200, typed: dict | None = None):
    """The action log page; `typed` keeps one action's status and outcome as the user typed them."""
    found = sets.actions_for(get_db(), learning_set)
    found.sort(key=lambda a: (a.status != "open", a.id))
    page = render_template(
        "sets/actions.html",
        s=learning_set,
        actions=found,
        member_names={m.id: m.name for m in learning_set.members},
        meetings={m.id: m for m in learning_set.meetings},
        local=sets.local,
        csrf_form=FlaskForm(),
        typed=typed or {},
    )
    return page, status


@bp.route("/<slug>/map")
def programme_map(slug: str):
    """Which framework areas the programme's sessions cover, as a table and a heat map."""
    learning_set = find_set(slug)
    kit = toolkit()
    cover = coverage(learning_set, kit.bank, kit.frameworks)
    return render_template(
        "sets/map.html",
        s=learning_set,
        cover=cover,
        svg=coverage_svg(cover),
        local=sets.local,
        number=sets.meeting_number,
    )


def download(body, mimetype: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})
