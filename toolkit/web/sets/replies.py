"""Calendar replies uploaded on a set's page: each reply recorded, or refused with its reason."""

from __future__ import annotations

from flask import render_template
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage

from toolkit import replies, sets
from toolkit.text import one_line
from toolkit.web import get_db, toolkit
from toolkit.web.sets.routes import bp, find_set

MAX_FILES = 20  # in one upload; the whole request is held to the app's MAX_CONTENT_LENGTH


class ReplyUploadForm(FlaskForm):
    """One or more e-mails (.eml), calendar files (.ics) or mail folders (mbox)."""

    files = MultipleFileField(
        "E-mails with calendar replies",
        description=(
            "Save the replies from your mail (.eml), or a calendar file (.ics), or a whole "
            "mail folder (mbox), and upload them here: up to 2 MB in all."
        ),
    )


@bp.route("/<slug>/replies")
def replies_page(slug: str):
    """The upload form, and how each session's members have replied so far."""
    return _page(find_set(slug), ReplyUploadForm())


@bp.post("/<slug>/replies")
def import_replies(slug: str):
    """Read the uploaded replies and show what became of each one (only this set's sessions)."""
    learning_set = find_set(slug)
    form = ReplyUploadForm()
    if form.validate_on_submit():
        uploads = [f for f in form.files.data or [] if isinstance(f, FileStorage) and f.filename]
        problem = _upload_problem(uploads)
        if problem is None:
            found = [item for upload in uploads for item in _read(upload)]
            host = toolkit().settings.host
            outcomes = replies.import_replies(toolkit().sessions, found, host, only=learning_set)
            get_db().expire_all()  # recorded through sessions of their own
            return _page(find_set(slug), ReplyUploadForm(formdata=None), outcomes)
        form.files.errors.append(problem)
    return _page(learning_set, form, status=400)


def _upload_problem(uploads: list[FileStorage]) -> str | None:
    if not uploads:
        return "Choose at least one e-mail, .ics or mbox file"
    if len(uploads) > MAX_FILES:
        return f"Upload at most {MAX_FILES} files at once"
    return None


def _read(upload: FileStorage) -> list[replies.Found]:
    name = one_line(upload.filename or "upload")[:200]
    return replies.read_upload(name, upload.read())


def _page(learning_set, form: ReplyUploadForm, outcomes=None, status: int = 200):
    meetings = sets.meetings_in_order(learning_set)
    page = render_template(
        "sets/replies.html",
        s=learning_set,
        form=form,
        outcomes=outcomes,
        summaries=[(m, replies.summary(m)) for m in meetings if m.status != "cancelled"],
    )
    return page, status
