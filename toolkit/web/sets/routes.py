"""Thin views over `toolkit.sets`: each reads a form, calls one service function, commits."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
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
    send_from_directory,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.utils import secure_filename

from toolkit import invites, packs, resources, setfile, sets
from toolkit.casebank import CaseFilter, filter_cases
from toolkit.datafiles import DataFileError
from toolkit.models import Action, LearningSet, Meeting
from toolkit.programme_map import coverage, coverage_svg, suggest_cases
from toolkit.session_templates import BLOCK_KINDS
from toolkit.web import get_db, toolkit
from toolkit.web.sets.forms import (
    ActionForm,
    BlockForm,
    GroundRulesForm,
    ImportForm,
    MemberForm,
    ScheduleForm,
    SessionDetailsForm,
    SessionForm,
    SetForm,
    TemplateForm,
)

bp = Blueprint("sets", __name__, url_prefix="/sets")


@bp.context_processor
def _helpers() -> dict:
    return {"when": sets.describe_when, "number_of": sets.meeting_number}


def _user():
    return current_user.user


def find_set(slug: str) -> LearningSet:
    """The set, if it exists and the user may see it; otherwise 404 (never reveal other sets)."""
    found = get_db().scalar(select(LearningSet).where(LearningSet.slug == slug))
    if found is None or not sets.can_access(_user(), found):
        abort(404)
    return found


def find_meeting(slug: str, key: str) -> Meeting:
    learning_set = find_set(slug)
    meeting = next((m for m in learning_set.meetings if m.key == key), None)
    if meeting is None:
        abort(404)
    return meeting


def _save(change: Callable[[], object], done: str) -> bool:
    """Run one change as one transaction; a SetError becomes a message and changes nothing."""
    db = get_db()
    try:
        change()
        db.commit()
    except sets.SetError as exc:
        db.rollback()
        flash(str(exc), "error")
        return False
    except StaleDataError:  # another save landed between our read and our write
        db.rollback()
        flash("Someone else saved a change at the same moment; yours was not saved.", "error")
        return False
    flash(done)
    return True


def _template_choices(form_field) -> None:
    templates = sorted(toolkit().templates.values(), key=lambda t: t.name)
    form_field.choices = [("", "Choose a template")] + [
        (t.id, f"{t.name} ({t.minutes} min)") for t in templates
    ]


def _csrf_ok() -> bool:
    """For forms with dynamic fields: check only the CSRF token."""
    form = FlaskForm()
    if not form.validate_on_submit():
        flash("The form has expired: please try again.", "error")
        return False
    return True


def _local(learning_set: LearningSet, day, clock) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZoneInfo(learning_set.time_zone))


@bp.route("/")
def index():
    """The user's sets (every set for an admin), with each set's next session."""
    found = sets.sets_for(get_db(), _user())
    return render_template("sets/index.html", learning_sets=found, next_meeting=sets.next_meeting)


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
    ), 400 if problems else 200


@bp.route("/<slug>/export")
def export_file(slug: str):
    """Download the set as a learning-set file."""
    text = setfile.export_set(find_set(slug))
    return _download(text.encode("utf-8"), "application/yaml", f"{slug}.yaml")


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
    return render_template("sets/new.html", form=form)


@bp.route("/<slug>")
def show(slug: str):
    """The set's overview: members, sessions, schedule and ground rules."""
    return _overview(find_set(slug))


def _overview(learning_set: LearningSet, status: int = 200, **forms):
    """Render the overview; a failed form passed in is shown with its error summary."""
    schedule = forms.get("schedule_form") or ScheduleForm(prefix="series")
    single = forms.get("session_form") or SessionForm(prefix="one")
    _template_choices(schedule.template)
    _template_choices(single.template)
    owed = invites.pending_invites(get_db(), learning_set)
    page = render_template(
        "sets/show.html",
        out_of_date=invites.out_of_date_members(owed),
        unsent=len(owed),
        s=learning_set,
        members=sets.active_members(learning_set),
        meetings=sets.meetings_in_order(learning_set),
        warning=sets.size_warning(learning_set),
        member_form=forms.get("member_form") or MemberForm(prefix="member"),
        schedule_form=schedule,
        session_form=single,
        rules_form=GroundRulesForm(ground_rules=learning_set.ground_rules),
        local=sets.local,
        end_time=sets.end_time,
        form=next(iter(forms.values()), None),
    )
    return page, status


@bp.route("/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str):
    """Change the set's title, programme, venue, video link and time zone."""
    learning_set = find_set(slug)
    form = SetForm(obj=learning_set)
    del form.slug
    if form.validate_on_submit():

        def change() -> None:
            sets.check_version(learning_set, form.version.data)
            for name in ("title", "programme", "venue", "video_url", "time_zone"):
                setattr(learning_set, name, (form[name].data or "").strip())

        if _save(change, "Set details saved."):
            return redirect(url_for("sets.show", slug=slug))
        form.version.data = str(learning_set.version)  # the next save is against the current one
        return render_template("sets/edit.html", form=form, s=learning_set), 409
    return render_template("sets/edit.html", form=form, s=learning_set)


@bp.route("/<slug>/delete", methods=["GET", "POST"])
def delete_set(slug: str):
    """Ask, then delete the set and all its members' personal data."""
    learning_set = find_set(slug)
    form = FlaskForm()
    if form.validate_on_submit():
        title = learning_set.title
        sets.delete_set(get_db(), learning_set)
        get_db().commit()
        flash(f"“{title}” and everything in it has been deleted.")
        return redirect(url_for("sets.index"))
    counts = {
        "members": len(learning_set.members),
        "sessions": len(learning_set.meetings),
    }
    return render_template("sets/delete.html", s=learning_set, member=None, counts=counts)


@bp.route("/<slug>/members/<int:member_id>/delete", methods=["GET", "POST"])
def delete_member(slug: str, member_id: int):
    """Ask, then remove a member's personal data everywhere (attendance stays as counts)."""
    learning_set = find_set(slug)
    member = next((m for m in learning_set.members if m.id == member_id), None)
    if member is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        name = member.name
        _save(lambda: sets.delete_member(get_db(), member), f"{name}'s data has been deleted.")
        return redirect(url_for("sets.show", slug=slug, _anchor="members"))
    return render_template("sets/delete.html", s=learning_set, member=member, counts={})


@bp.post("/<slug>/ground-rules")
def ground_rules(slug: str):
    """Save the set's ground rules (one per line)."""
    learning_set = find_set(slug)
    form = GroundRulesForm()
    if form.validate_on_submit():
        rules = [line.strip() for line in form.ground_rules.data.splitlines() if line.strip()]
        learning_set.ground_rules = "\n".join(rules)
        get_db().commit()
        flash("Ground rules saved.")
    return redirect(url_for("sets.show", slug=slug, _anchor="ground-rules"))


@bp.post("/<slug>/members")
def add_member(slug: str):
    """Add a member to the set."""
    learning_set = find_set(slug)
    form = MemberForm(prefix="member")
    if not form.validate_on_submit():
        return _overview(learning_set, 400, member_form=form)
    _save(
        lambda: sets.add_member(
            get_db(), learning_set, form.name.data, form.email.data, form.grade.data
        ),
        f"{form.name.data} added.",
    )
    return redirect(url_for("sets.show", slug=slug, _anchor="members"))


@bp.post("/<slug>/members/<int:member_id>/remove")
def remove_member(slug: str, member_id: int):
    """Take a member off the set (their attendance history stays)."""
    learning_set = find_set(slug)
    member = next((m for m in learning_set.members if m.id == member_id), None)
    if member is None:
        abort(404)
    if not _csrf_ok():
        return redirect(url_for("sets.show", slug=slug))
    member.active = False
    get_db().commit()
    flash(f"{member.name} removed from the set.")
    return redirect(url_for("sets.show", slug=slug, _anchor="members"))


@bp.post("/<slug>/schedule")
def schedule(slug: str):
    """Create a series of sessions in one step."""
    learning_set = find_set(slug)
    form = ScheduleForm(prefix="series")
    _template_choices(form.template)
    if not form.validate_on_submit():
        return _overview(learning_set, 400, schedule_form=form)
    template = toolkit().templates[form.template.data]
    first = _local(learning_set, form.first_date.data, form.start_time.data)
    _save(
        lambda: sets.add_series(
            get_db(), learning_set, first, form.every_weeks.data, form.count.data, template
        ),
        f"{form.count.data} sessions scheduled.",
    )
    return redirect(url_for("sets.show", slug=slug, _anchor="sessions"))


@bp.post("/<slug>/sessions")
def add_session(slug: str):
    """Add one session."""
    learning_set = find_set(slug)
    form = SessionForm(prefix="one")
    _template_choices(form.template)
    if not form.validate_on_submit():
        return _overview(learning_set, 400, session_form=form)
    template = toolkit().templates[form.template.data]
    start = _local(learning_set, form.date.data, form.start_time.data)
    _save(lambda: sets.add_meeting(get_db(), learning_set, start, template), "Session added.")
    return redirect(url_for("sets.show", slug=slug, _anchor="sessions"))


def _session_page(meeting: Meeting, status: int = 200, **forms):
    """The session builder page."""
    kit = toolkit()
    learning_set = meeting.learning_set
    library = resources.catalogue(get_db(), kit.bank)
    query = request.args.get("q", "").strip()
    details = forms.get("details_form") or SessionDetailsForm(
        prefix="details",
        version=str(meeting.version),
        title=meeting.title,
        date=sets.local(meeting).date(),
        start_time=sets.local(meeting).time(),
        minutes=meeting.minutes,
        venue=meeting.venue,
        video_url=meeting.video_url,
    )
    template_form = TemplateForm(prefix="tpl", template=meeting.template_id)
    _template_choices(template_form.template)
    block_form = forms.get("block_form") or BlockForm(prefix="block")
    block_form.kind.choices = [(k, k) for k in BLOCK_KINDS]
    action_form = forms.get("action_form") or ActionForm(prefix="action")
    action_form.member.choices = [(m.id, m.name) for m in sets.active_members(learning_set)]
    context = {
        "meeting": meeting,
        "s": learning_set,
        "number": sets.meeting_number(meeting),
        "agenda": sets.agenda(meeting),
        "overrun": sets.overrun(meeting),
        "members": sets.active_members(learning_set),
        "member_names": {m.id: m.name for m in learning_set.members},
        "attendance": {a.member_id: a.status for a in meeting.attendance},
        "proposed": sets.proposed_presenters(
            meeting, sum(1 for b in meeting.blocks if b.kind == "presenter")
        ),
        "bank": kit.bank,
        "query": query,
        "found_cases": filter_cases(kit.bank, CaseFilter(search=query))[:10] if query else [],
        "suggested_cases": suggest_cases(learning_set, kit.bank, kit.frameworks),
        "suggested_prompts": sets.suggest_prompts(meeting, kit.bank),
        "to_review": sets.actions_to_review(get_db(), meeting),
        "raised": [
            a for a in sets.actions_for(get_db(), learning_set) if a.meeting_id == meeting.id
        ],
        "details_form": details,
        "template_form": template_form,
        "block_form": block_form,
        "action_form": action_form,
        "local": sets.local,
        "end_time": sets.end_time,
        "csrf_form": FlaskForm(),
        "documents": [(n, _document_title(n)) for n in _documents(meeting)],
        "prework": resources.session_resources(meeting, library, "prework"),
        "reading": resources.session_resources(meeting, library, "reading"),
        "suggested_resources": resources.suggest_resources(meeting, kit.bank, library),
        "library": sorted(library.values(), key=lambda r: r.title.lower()),
    }
    failed = [f for f in forms.values() if f.errors]
    if failed:
        context["form"] = failed[0]
    elif status == 409:
        context["conflict"] = True
    return render_template("sets/session.html", **context), status


@bp.route("/<slug>/sessions/<key>")
def session(slug: str, key: str):
    """Build one session: agenda, rota, cases, prompts, attendance and actions."""
    return _session_page(find_meeting(slug, key))


def _documents(meeting: Meeting) -> list[str]:
    """The session's printable documents, decided without rendering anything."""
    number, count = sets.meeting_number(meeting), len(meeting.learning_set.meetings)
    return packs.files.available(
        any(a.status == "present" for a in meeting.attendance),
        bool(toolkit().bank.statements) and number in (1, count),
        bool(sets.active_members(meeting.learning_set)),
    )


def _document_title(stem: str) -> str:
    if stem == packs.NAMED_HANDOUTS:
        return "Participant handouts, one named copy per member"
    return packs.DOCUMENTS[stem].title


def _back(meeting: Meeting, anchor: str = ""):
    return redirect(
        url_for("sets.session", slug=meeting.learning_set.slug, key=meeting.key, _anchor=anchor)
    )


@bp.post("/<slug>/sessions/<key>/details")
def session_details(slug: str, key: str):
    """Move a session or change its place; a real change is recorded for the invites."""
    meeting = find_meeting(slug, key)
    form = SessionDetailsForm(prefix="details")
    if not form.validate_on_submit():
        return _session_page(meeting, 400, details_form=form)
    start = _local(meeting.learning_set, form.date.data, form.start_time.data)

    def change() -> None:
        sets.check_version(meeting, form.version.data)
        sets.change_meeting(
            get_db(),
            meeting,
            start=start,
            minutes=form.minutes.data,
            venue=(form.venue.data or "").strip(),
            video_url=(form.video_url.data or "").strip(),
            title=form.title.data.strip(),
        )

    if not _save(change, "Session details saved."):
        form.version.data = str(meeting.version)
        form.version.errors = []
        return _session_page(meeting, 409, details_form=form)
    return _back(meeting)


@bp.post("/<slug>/sessions/<key>/status")
def session_status(slug: str, key: str):
    """Cancel or restore a session."""
    meeting = find_meeting(slug, key)
    status = request.form.get("status", "")
    if _csrf_ok():
        word = "cancelled" if status == "cancelled" else "restored"
        _save(lambda: sets.set_status(get_db(), meeting, status), f"Session {word}.")
    return _back(meeting)


@bp.post("/<slug>/sessions/<key>/template")
def session_template(slug: str, key: str):
    """Rebuild the agenda from a template (replaces the blocks, proposes a fresh rota)."""
    meeting = find_meeting(slug, key)
    form = TemplateForm(prefix="tpl")
    _template_choices(form.template)
    if form.validate_on_submit():
        template = toolkit().templates[form.template.data]

        def rebuild() -> None:
            if form.take_length.data:
                sets.change_meeting(get_db(), meeting, minutes=template.minutes)
            sets.apply_template(get_db(), meeting, template)

        _save(rebuild, f"Agenda rebuilt from '{template.name}'.")
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/blocks")
def add_block(slug: str, key: str):
    """Add a block at the end of the agenda."""
    meeting = find_meeting(slug, key)
    form = BlockForm(prefix="block")
    form.kind.choices = [(k, k) for k in BLOCK_KINDS]
    if not form.validate_on_submit():
        return _session_page(meeting, 400, block_form=form)
    _save(
        lambda: sets.add_block(
            get_db(),
            meeting,
            form.title.data,
            form.kind.data,
            form.minutes.data,
            form.notes.data or "",
            form.handout.data,
        ),
        "Block added.",
    )
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/blocks/<int:block_id>")
def edit_block(slug: str, key: str, block_id: int):
    """Change a block's minutes or title, move it up or down, or remove it."""
    meeting = find_meeting(slug, key)
    if not _csrf_ok():
        return _back(meeting, "agenda")
    do = request.form.get("do", "save")
    db = get_db()
    changes = {
        "up": lambda: sets.move_block(db, meeting, block_id, -1),
        "down": lambda: sets.move_block(db, meeting, block_id, +1),
        "remove": lambda: sets.remove_block(db, meeting, block_id),
        "save": lambda: sets.update_block(
            db,
            meeting,
            block_id,
            request.form.get("title", ""),
            request.form.get("minutes", ""),
        ),
    }
    if do in changes:
        _save(changes[do], "Agenda updated.")
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/rota")
def rota(slug: str, key: str):
    """Override the proposed presenters, or go back to the proposal."""
    meeting = find_meeting(slug, key)
    if not _csrf_ok():
        return _back(meeting, "rota")
    rounds = [b for b in meeting.blocks if b.kind == "presenter"]
    if request.form.get("do") == "propose":
        chosen = sets.proposed_presenters(meeting, len(rounds))
    else:
        chosen = [_int(request.form.get(f"presenter-{b.id}")) for b in rounds]
    _save(lambda: sets.set_presenters(get_db(), meeting, chosen), "Presenters saved.")
    return _back(meeting, "rota")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.post("/<slug>/sessions/<key>/attach")
def attach(slug: str, key: str):
    """Attach or detach a case or prompt."""
    meeting = find_meeting(slug, key)
    if not _csrf_ok():
        return _back(meeting, "content")
    case_id = request.form.get("case", "")
    prompt_id = request.form.get("prompt", "")
    db, bank = get_db(), toolkit().bank
    if request.form.get("do") == "detach":
        _save(lambda: sets.detach(db, meeting, case_id, prompt_id), "Removed from the session.")
    else:
        _save(lambda: sets.attach(db, meeting, bank, case_id, prompt_id), "Added to the session.")
    return _back(meeting, "content")


@bp.post("/<slug>/sessions/<key>/resources")
def session_resource(slug: str, key: str):
    """Set or remove pre-work and further reading."""
    meeting = find_meeting(slug, key)
    if not _csrf_ok():
        return _back(meeting, "resources")
    resource_id = request.form.get("resource", "")
    role = request.form.get("role", "")
    db = get_db()
    if request.form.get("do") == "detach":
        change = lambda: resources.detach_resource(db, meeting, resource_id, role)  # noqa: E731
        _save(change, "Removed from the session.")
    else:
        library = resources.catalogue(db, toolkit().bank)
        _save(
            lambda: resources.attach_resource(db, meeting, library, resource_id, role),
            "Added to the session.",
        )
    return _back(meeting, "resources")


@bp.post("/<slug>/sessions/<key>/attendance")
def attendance(slug: str, key: str):
    """Record who was present, sent apologies or was absent."""
    meeting = find_meeting(slug, key)
    if not _csrf_ok():
        return _back(meeting, "attendance")
    statuses = {
        m.id: request.form[f"member-{m.id}"]
        for m in sets.active_members(meeting.learning_set)
        if request.form.get(f"member-{m.id}")
    }
    _save(lambda: sets.record_attendance(get_db(), meeting, statuses), "Attendance saved.")
    return _back(meeting, "attendance")


@bp.post("/<slug>/sessions/<key>/actions")
def add_action(slug: str, key: str):
    """Record an action a member committed to."""
    meeting = find_meeting(slug, key)
    form = ActionForm(prefix="action")
    form.member.choices = [(m.id, m.name) for m in sets.active_members(meeting.learning_set)]
    if not form.validate_on_submit():
        return _session_page(meeting, 400, action_form=form)
    _save(
        lambda: sets.add_action(
            get_db(),
            meeting,
            form.member.data,
            form.text.data,
            form.due.data or "",
            form.support.data or "",
        ),
        "Action recorded.",
    )
    return _back(meeting, "actions")


@bp.post("/<slug>/actions/<int:action_id>")
def update_action(slug: str, action_id: int):
    """Close, drop or reopen an action, with its outcome."""
    learning_set = find_set(slug)
    action = get_db().get(Action, action_id)
    if action is None or action.set_id != learning_set.id:
        abort(404)
    if _csrf_ok():
        _save(
            lambda: sets.update_action(
                get_db(), action, request.form.get("status", ""), request.form.get("outcome", "")
            ),
            "Action updated.",
        )
    return redirect(_safe_back(request.form.get("back"), url_for("sets.actions", slug=slug)))


def _safe_back(target: str | None, default: str) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default


def _pack(meeting: Meeting):
    kit = toolkit()
    return packs.build_pack(get_db(), meeting, kit.bank, kit.frameworks)


@bp.route("/<slug>/sessions/<key>/print/<stem>.<ext>")
def print_document(slug: str, key: str, stem: str, ext: str):
    """A session document as PDF (download), HTML (preview), or every PDF in one zip."""
    meeting = find_meeting(slug, key)
    content, cache = _pack(meeting), toolkit().settings.pdf_cache_dir
    base = f"{slug}-session-{sets.meeting_number(meeting)}"
    if (stem, ext) == ("print", "css"):
        return send_from_directory(packs.STATIC, "print.css", mimetype="text/css")
    if (stem, ext) == ("all", "zip"):
        chunks = stream_with_context(packs.zip_stream(content, base, cache))
        return _download(chunks, "application/zip", f"{base}.zip")
    if stem not in packs.document_names(content) or ext not in ("pdf", "html"):
        abort(404)
    doc = packs.render_document(content, stem, cache)
    if ext == "html":
        return Response(doc.html, mimetype="text/html")
    return _download(doc.pdf, "application/pdf", f"{base}-{stem}.pdf")


def _download(body, mimetype: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


@bp.route("/<slug>/actions")
def actions(slug: str):
    """The action log: every member's actions, open ones first."""
    learning_set = find_set(slug)
    found = sets.actions_for(get_db(), learning_set)
    found.sort(key=lambda a: (a.status != "open", a.id))
    return render_template(
        "sets/actions.html",
        s=learning_set,
        actions=found,
        member_names={m.id: m.name for m in learning_set.members},
        meetings={m.id: m for m in learning_set.meetings},
        local=sets.local,
        csrf_form=FlaskForm(),
    )


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
