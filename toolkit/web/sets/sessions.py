"""The session builder: agenda, rota, cases, prompts, pre-work, attendance, actions, printing."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
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
from flask_wtf import FlaskForm

from toolkit import evaluations, invites, packs, replies, resources, sets
from toolkit.case_search import search_cases
from toolkit.models import LearningSet, Meeting
from toolkit.programme_map import profile_of, suggest_cases
from toolkit.session_templates import BLOCK_KINDS, KIND_LABELS
from toolkit.web import get_db, toolkit
from toolkit.web.sets.forms import ActionForm, BlockForm, SessionDetailsForm, TemplateForm
from toolkit.web.sets.routes import (
    bp,
    download,
    find_meeting,
    keep_typed,
    save,
    save_checked,
    template_choices,
    zone_of,
)

KIND_CHOICES = [(k, KIND_LABELS[k]) for k in BLOCK_KINDS]


def _session_page(meeting: Meeting, status: int = 200, typed: dict | None = None, **forms):
    """The session builder page; forms passed in, and `typed` values of the plain forms (per
    block, rota, attendance), are shown as the user typed them."""
    kit = toolkit()
    learning_set = meeting.learning_set
    library = resources.catalogue(get_db(), kit.bank)
    query = request.args.get("q", "").strip()
    keep_typed(meeting, status, forms)
    version = str(meeting.version)
    starts = sets.local(meeting)
    owed = invites.pending_invites(get_db(), learning_set, only=meeting)
    details = forms.get("details_form") or SessionDetailsForm(
        prefix="details",
        zone=zone_of(learning_set),
        version=version,
        title=meeting.title,
        date=starts.date(),
        start_time=starts.time(),
        which="second" if starts.fold else "first",
        minutes=meeting.minutes,
        venue=meeting.venue,
        video_url=meeting.video_url,
    )
    template_form = forms.get("template_form") or TemplateForm(
        prefix="tpl", template=meeting.template_id, version=version
    )
    template_choices(template_form.template)
    block_form = forms.get("block_form") or BlockForm(prefix="block", version=version)
    block_form.kind.choices = KIND_CHOICES
    action_form = forms.get("action_form") or ActionForm(prefix="action", version=version)
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
        "replies": replies.summary(meeting),
        "evaluation": evaluations.progress_for(get_db(), [meeting.id], now=datetime.now(UTC)).get(
            meeting.id
        ),
        "scale": evaluations.SCALE,
        "min_answers": evaluations.MIN_ANSWERS,
        "replied": replies.replies_by_member(meeting),
        "reply_words": replies.WORDS,
        "started": sets.has_started(meeting),
        "starts": sets.describe_start(meeting),
        "typed": typed or {},
        "proposed": sets.proposed_presenters(meeting, len(sets.presenter_rounds(meeting))),
        "follows_rota": sets.follows_rota(meeting),
        "bank": kit.bank,
        "query": query,
        "found_cases": search_cases(kit.bank, query, profile_of(learning_set)),
        "show_all": request.args.get("all") == "1",
        "suggested_cases": _suggested_cases(learning_set),
        "suggested_prompts": sets.suggest_prompts(meeting, kit.bank),
        "to_review": sets.actions_to_review(get_db(), meeting),
        "kind_labels": KIND_LABELS,
        "owed": owed,
        "out_of_date": invites.out_of_date_members(owed),
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
        "register_columns": packs.REGISTER_COLUMNS,
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


SUGGESTIONS_KEPT = 512  # sets whose suggestions a process remembers


def _suggested_cases(learning_set: LearningSet) -> list:
    """`suggest_cases`, remembered until anything it reads changes: every session's version
    (bumped by each change to its cases, agenda or status), the members' grades, and the set's
    title and programme. The bank never changes while the app runs."""
    kit = toolkit()
    key = (
        learning_set.id,
        learning_set.title,
        learning_set.programme_title,  # text: a Programme object differs every request
        tuple((m.id, m.active, m.grade) for m in learning_set.members),
        tuple((m.id, m.version) for m in learning_set.meetings),
    )
    kept = kit.once("suggested-cases", dict)
    if key not in kept:
        if len(kept) >= SUGGESTIONS_KEPT:
            kept.clear()
        kept[key] = suggest_cases(learning_set, kit.bank, kit.frameworks)
    return kept[key]


@bp.route("/<slug>/sessions/<key>")
def session(slug: str, key: str):
    """Build one session: agenda, rota, cases, prompts, attendance and actions."""
    return _session_page(find_meeting(slug, key))


def _documents(meeting: Meeting) -> list[str]:
    """The session's printable documents, decided without rendering anything."""
    number, count = sets.session_of(meeting)
    return packs.files.available(
        sets.has_started(meeting) and any(a.status == "present" for a in meeting.attendance),
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
    form = SessionDetailsForm(prefix="details", zone=zone_of(meeting.learning_set))
    if not form.validate_on_submit():
        return _session_page(meeting, 400, details_form=form)
    start = form.instant()
    status = save_checked(
        meeting,
        form.version.data,
        lambda: sets.change_meeting(
            get_db(),
            meeting,
            start=start,
            minutes=form.minutes.data,
            venue=(form.venue.data or "").strip(),
            video_url=(form.video_url.data or "").strip(),
            title=form.title.data,
        ),
        "Session details saved.",
    )
    if status:
        return _session_page(meeting, status, details_form=form)
    return _back(meeting)


@bp.post("/<slug>/sessions/<key>/status")
def session_status(slug: str, key: str):
    """Cancel or restore a session."""
    meeting = find_meeting(slug, key)
    wanted = request.form.get("status", "")
    word = "cancelled" if wanted == "cancelled" else "restored"
    reason = request.form.get("reason", "")
    change = lambda: sets.set_status(get_db(), meeting, wanted, reason)  # noqa: E731
    status = save_checked(meeting, request.form.get("version"), change, f"Session {word}.")
    if status:
        return _session_page(meeting, status)
    return _back(meeting)


@bp.route("/<slug>/sessions/<key>/delete", methods=["GET", "POST"])
def delete_session(slug: str, key: str):
    """Ask, then delete a session; members invited to it are owed a cancellation."""
    meeting = find_meeting(slug, key, change=True)
    label = f"Session {sets.meeting_number(meeting)} ({meeting.title})"
    owed = sets.cancellations_on_delete(get_db(), meeting)
    if not FlaskForm().validate_on_submit():
        ended = sets.end_time(meeting) <= datetime.now(UTC)
        return render_template(
            "sets/delete_session.html", meeting=meeting, label=label, owed=owed, ended=ended
        )
    done = f"{label} deleted."
    if owed:
        done += (
            f" {owed} member{'s were' if owed != 1 else ' was'} invited to it: they will be sent "
            "a cancellation next time you send invites."
        )
    save(lambda: sets.delete_meeting(get_db(), meeting), done)
    return redirect(url_for("sets.show", slug=slug, _anchor="sessions"))


@bp.post("/<slug>/sessions/<key>/template")
def session_template(slug: str, key: str):
    """Rebuild the agenda from a template (replaces the blocks, proposes a fresh rota)."""
    meeting = find_meeting(slug, key)
    form = TemplateForm(prefix="tpl")
    template_choices(form.template)
    if not form.validate_on_submit():
        return _session_page(meeting, 400, template_form=form)
    template = toolkit().templates[form.template.data]

    def rebuild() -> None:
        if form.take_length.data:
            sets.change_meeting(get_db(), meeting, minutes=template.minutes)
        sets.apply_template(get_db(), meeting, template, bank=toolkit().bank)

    status = save_checked(
        meeting, form.version.data, rebuild, f"Agenda rebuilt from '{template.name}'."
    )
    if status:
        return _session_page(meeting, status, template_form=form)
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/blocks")
def add_block(slug: str, key: str):
    """Add a block at the end of the agenda."""
    meeting = find_meeting(slug, key)
    form = BlockForm(prefix="block")
    form.kind.choices = KIND_CHOICES
    if not form.validate_on_submit():
        return _session_page(meeting, 400, block_form=form)
    status = save_checked(
        meeting,
        form.version.data,
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
    if status:
        return _session_page(meeting, status, block_form=form)
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/blocks/<int:block_id>")
def edit_block(slug: str, key: str, block_id: int):
    """Change a block's minutes or title, move it up or down, or remove it."""
    meeting = find_meeting(slug, key)
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
    if do not in changes:
        return _back(meeting, "agenda")
    status = save_checked(meeting, request.form.get("version"), changes[do], "Agenda updated.")
    if status:
        return _session_page(meeting, status, typed=request.form.to_dict() | {"block": block_id})
    return _back(meeting, "agenda")


@bp.post("/<slug>/sessions/<key>/agenda")
def save_agenda(slug: str, key: str):
    """The agenda as one form: save every block's title and minutes, then, when a row's button
    was pressed ("up:<id>", "down:<id>", "remove:<id>"), move or remove that block."""
    meeting = find_meeting(slug, key)
    form = request.form
    typed = {b.id: (form.get(f"title-{b.id}"), form.get(f"minutes-{b.id}")) for b in meeting.blocks}
    action, _, chosen = form.get("do", "save").partition(":")
    db = get_db()

    def change() -> None:
        for block_id, (title, minutes) in typed.items():
            if title is not None and minutes is not None:
                sets.update_block(db, meeting, block_id, title, minutes)
        if chosen.isdigit() and action in AGENDA_MOVES:
            AGENDA_MOVES[action](db, meeting, int(chosen))

    status = save_checked(meeting, form.get("version"), change, "Agenda saved.")
    if status:
        return _session_page(meeting, status, typed=form.to_dict() | {"agenda": "typed"})
    return _back(meeting, "agenda")


AGENDA_MOVES = {
    "up": lambda db, meeting, block_id: sets.move_block(db, meeting, block_id, -1),
    "down": lambda db, meeting, block_id: sets.move_block(db, meeting, block_id, +1),
    "remove": sets.remove_block,
}


@bp.post("/<slug>/sessions/<key>/rota")
def rota(slug: str, key: str):
    """Choose the presenters by hand, or let the rota choose them (and keep choosing) again."""
    meeting = find_meeting(slug, key)
    db = get_db()
    if request.form.get("do") == "propose":
        change = lambda: sets.use_rota(db, meeting)  # noqa: E731
        done = "Presenters saved: the rota chooses them."
    else:
        rounds = sets.presenter_rounds(meeting)
        chosen = [_int(request.form.get(f"presenter-{b.id}")) for b in rounds]
        change = lambda: sets.set_presenters(db, meeting, chosen)  # noqa: E731
        done = "Presenters saved: chosen by hand."
    status = save_checked(meeting, request.form.get("version"), change, done)
    if status:
        return _session_page(meeting, status, typed=request.form.to_dict())
    return _back(meeting, "rota")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.post("/<slug>/sessions/<key>/attach")
def attach(slug: str, key: str):
    """Attach or detach a case or prompt."""
    meeting = find_meeting(slug, key)
    case_id = request.form.get("case", "")
    prompt_id = request.form.get("prompt", "")
    db, bank = get_db(), toolkit().bank
    if request.form.get("do") == "detach":
        save(lambda: sets.detach(db, meeting, case_id, prompt_id), "Removed from the session.")
    else:
        done = _added(sets.later_parts(meeting, bank, case_id))
        save(lambda: sets.attach_with_parts(db, meeting, bank, case_id, prompt_id), done)
    return _back(meeting, "content")


@bp.post("/add-case")
def add_case():
    """From a case's own page: attach it to the session chosen ("<set>/<session>")."""
    slug, _, key = request.form.get("session", "").partition("/")
    case_id = request.form.get("case", "")
    if not slug or not key:
        flash("Choose a session to add the case to.", "error")
        return redirect(
            url_for("cases.show", case_id=case_id) if case_id else url_for("cases.index")
        )
    meeting = find_meeting(slug, key)
    db, bank = get_db(), toolkit().bank
    label = f"Session {sets.meeting_number(meeting)}: {meeting.title}"
    done = _added(sets.later_parts(meeting, bank, case_id)).replace("the session", label, 1)
    save(lambda: sets.attach_with_parts(db, meeting, bank, case_id), done)
    return _back(meeting, "content")


def _added(later: list) -> str:
    """What attaching said: the session, and where a case's later parts went."""
    placed = [f"part {case.part} to session {sets.meeting_number(m)}" for m, case in later]
    return "Added to the session" + (f"; also {', '.join(placed)}." if placed else ".")


@bp.post("/<slug>/sessions/<key>/resources")
def session_resource(slug: str, key: str):
    """Set or remove pre-work and further reading."""
    meeting = find_meeting(slug, key)
    resource_id = request.form.get("resource", "")
    role = request.form.get("role", "")
    db = get_db()
    if request.form.get("do") == "detach":
        change = lambda: resources.detach_resource(db, meeting, resource_id, role)  # noqa: E731
        save(change, "Removed from the session.")
    else:
        library = resources.catalogue(db, toolkit().bank)
        save(
            lambda: resources.attach_resource(db, meeting, library, resource_id, role),
            "Added to the session.",
        )
    return _back(meeting, "resources")


@bp.post("/<slug>/sessions/<key>/attendance")
def attendance(slug: str, key: str):
    """Record who was present, sent apologies or was absent (once the session has started);
    "Mark all present" records everyone present but those who sent apologies."""
    meeting = find_meeting(slug, key)
    if request.form.get("do") == "all-present":
        change = lambda: sets.mark_all_present(get_db(), meeting)  # noqa: E731
        done = "Everyone is marked present: change anyone who was not there, then save."
        status = save_checked(meeting, request.form.get("version"), change, done)
        return _session_page(meeting, status) if status else _back(meeting, "attendance")
    statuses = {
        m.id: request.form[f"member-{m.id}"]
        for m in sets.active_members(meeting.learning_set)
        if request.form.get(f"member-{m.id}")
    }
    change = lambda: sets.record_attendance(get_db(), meeting, statuses)  # noqa: E731
    status = save_checked(meeting, request.form.get("version"), change, "Attendance saved.")
    if status:
        return _session_page(meeting, status, typed=request.form.to_dict())
    return _back(meeting, "attendance")


@bp.post("/<slug>/sessions/<key>/evaluation/close")
def close_evaluation(slug: str, key: str):
    """Close the session's evaluation now, before its 14 days are up."""
    meeting = find_meeting(slug, key)
    save(lambda: evaluations.close(get_db(), meeting), "The evaluation is closed: no more answers.")
    return _back(meeting, "evaluation")


@bp.post("/<slug>/sessions/<key>/apologies")
def apologies(slug: str, key: str):
    """Before a session: note who has sent apologies (the rota skips them)."""
    meeting = find_meeting(slug, key)
    ids = {int(v) for v in request.form.getlist("apologies") if v.isdigit() and len(v) < 12}
    change = lambda: sets.record_apologies(get_db(), meeting, ids)  # noqa: E731
    status = save_checked(meeting, request.form.get("version"), change, "Apologies saved.")
    if status:
        typed = {f"apologies-{i}": "y" for i in ids} | {"apologies": "typed"}
        return _session_page(meeting, status, typed=typed)
    return _back(meeting, "attendance")


@bp.post("/<slug>/sessions/<key>/actions")
def add_action(slug: str, key: str):
    """Record an action a member committed to."""
    meeting = find_meeting(slug, key)
    form = ActionForm(prefix="action")
    form.member.choices = [(m.id, m.name) for m in sets.active_members(meeting.learning_set)]
    if not form.validate_on_submit():
        return _session_page(meeting, 400, action_form=form)
    status = save_checked(
        meeting,
        form.version.data,
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
    if status:
        return _session_page(meeting, status, action_form=form)
    return _back(meeting, "actions")


def _pack(meeting: Meeting):
    kit = toolkit()
    return packs.build_pack(get_db(), meeting, kit.bank, kit.frameworks)


@bp.route("/<slug>/sessions/<key>/print/<stem>.<ext>")
def print_document(slug: str, key: str, stem: str, ext: str):
    """A session document as PDF (download), HTML (preview), or every PDF in one zip."""
    meeting = find_meeting(slug, key)
    content = _pack(meeting).with_register(request.args.getlist("column"))
    cache = toolkit().settings.pdf_cache_dir
    base = f"{slug}-session-{sets.meeting_number(meeting)}"
    if (stem, ext) == ("print", "css"):
        return send_from_directory(packs.STATIC, "print.css", mimetype="text/css")
    if (stem, ext) == ("all", "zip"):
        chunks = stream_with_context(packs.zip_stream(content, base, cache))
        return download(chunks, "application/zip", f"{base}.zip")
    if stem not in packs.document_names(content) or ext not in ("pdf", "html"):
        abort(404)
    doc = packs.render_document(content, stem, cache)
    if ext == "html":
        return Response(doc.html, mimetype="text/html")
    return download(doc.pdf, "application/pdf", f"{base}-{stem}.pdf")
