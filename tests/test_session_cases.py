"""Cases on a session's agenda: attaching one adds a block of its own minutes before process
review, so the over-run check counts it; detaching takes that block away again."""

from __future__ import annotations

import pytest

from toolkit import sets
from toolkit.models import AgendaBlock

from .test_rota import make_set, url
from .test_sets_web import meetings, text

CASE, CASE_TITLE = "the-stalled-sepsis-project", "The stalled sepsis project"  # 35 min
OTHER, OTHER_TITLE = "a-colleague-under-strain", "A colleague under strain"  # 40 min


@pytest.fixture
def db(app):
    """A database session the test reads through (`meetings` expires it before each read)."""
    with app.extensions["toolkit"].sessions() as session:
        yield session


def first_session(db):
    """The session under test: the set's second, with the template's full agenda (the first
    has no review of actions)."""
    return meetings(db)[1]


def agenda(db) -> list[AgendaBlock]:
    return sorted(first_session(db).blocks, key=lambda b: b.position)


def titles(db) -> list[str]:
    return [b.title for b in agenda(db)]


def post(client, db, path: str, **data: str) -> None:
    """Send a form from session 1's page, opened at its current version."""
    data.setdefault("version", str(first_session(db).version))
    response = client.post(url(first_session(db)) + path, data=data)
    assert response.status_code == 302, response.text


def page(client, db) -> str:
    return text(client.get(url(first_session(db))))


def rebuild(client, db, template: str) -> None:
    version = str(first_session(db).version)
    data = {"tpl-template": template, "tpl-take_length": "y", "tpl-version": version}
    post(client, db, "/template", **data)


def test_attaching_a_case_adds_its_timed_block_before_process_review(app, db, signed_in):
    make_set(signed_in, db)  # the classic agenda: 190 of the 195 minutes
    assert "The agenda fits the 195-minute slot with 5 min to spare" in page(signed_in, db)
    post(signed_in, db, "/attach", case=CASE, do="attach")
    blocks = agenda(db)
    added = next(i for i, b in enumerate(blocks) if b.kind == "case")
    assert (blocks[added].title, blocks[added].minutes) == (f"Case: {CASE_TITLE}", 35)
    assert CASE in blocks[added].notes and blocks[added + 1].kind == "process-review"
    shown = page(signed_in, db)
    assert "The agenda runs 30 min over the slot" in shown
    assert f"'Case: {CASE_TITLE}' is the first block that ends late" in shown
    # renamed and shortened, the block still belongs to its case
    block = blocks[added]
    post(signed_in, db, f"/blocks/{block.id}", do="save", title="Sepsis QI", minutes="5")
    assert "fits the 195-minute slot with 0 min to spare" in page(signed_in, db)
    post(signed_in, db, "/attach", case=CASE, do="detach")
    assert all(b.kind != "case" for b in agenda(db))
    assert "The agenda fits the 195-minute slot with 5 min to spare" in page(signed_in, db)


def test_a_case_discussion_agenda_takes_its_first_case_in_its_own_case_blocks(app, db, signed_in):
    make_set(signed_in, db)
    rebuild(signed_in, db, "case-discussion")  # 115 of 120 minutes, three case blocks
    template_blocks = titles(db)
    post(signed_in, db, "/attach", case=CASE, do="attach")
    assert titles(db) == template_blocks
    assert "fits the 120-minute slot with 5 min to spare" in page(signed_in, db)
    # a second case needs time of its own
    post(signed_in, db, "/attach", case=OTHER, do="attach")
    assert titles(db) == [*template_blocks[:-2], f"Case: {OTHER_TITLE}", *template_blocks[-2:]]
    assert "The agenda runs 35 min over the slot" in page(signed_in, db)
    post(signed_in, db, "/attach", case=CASE, do="detach")
    assert f"Case: {OTHER_TITLE}" in titles(db) and len(titles(db)) == len(template_blocks) + 1
    post(signed_in, db, "/attach", case=OTHER, do="detach")
    assert titles(db) == template_blocks


def test_rebuilding_an_agenda_gives_an_attached_case_its_block_again(app, db, signed_in):
    make_set(signed_in, db)
    post(signed_in, db, "/attach", case=CASE, do="attach")
    rebuild(signed_in, db, "action-learning-set")
    kinds = [b.kind for b in agenda(db)]
    assert kinds.count("case") == 1 and kinds[kinds.index("case") + 1] == "process-review"
    rebuild(signed_in, db, "case-discussion")  # the case takes the template's case blocks
    assert not any(t.startswith("Case: ") for t in titles(db))


def test_importers_can_leave_the_agenda_alone_and_blocks_fall_back_to_the_close(app, db, signed_in):
    make_set(signed_in, db)
    bank = app.extensions["toolkit"].bank
    meeting = first_session(db)
    before = titles(db)
    assert sets.attach(db, meeting, bank, case_id=CASE, with_block=False) is None
    assert titles(db) == before
    sets.detach(db, meeting, case_id=CASE)
    # with no process review, the case goes just before the close; with neither, last
    review = next(b for b in meeting.blocks if b.kind == "process-review")
    sets.remove_block(db, meeting, review.id)
    block = sets.attach(db, meeting, bank, case_id=CASE)
    assert [b.kind for b in sorted(meeting.blocks, key=lambda b: b.position)][-2:] == [
        "case",
        "close",
    ]
    sets.detach(db, meeting, case_id=CASE, with_block=False)
    assert block in meeting.blocks and not meeting.cases
    sets.remove_block(db, meeting, block.id)
    close = next(b for b in meeting.blocks if b.kind == "close")
    sets.remove_block(db, meeting, close.id)
    sets.attach(db, meeting, bank, case_id=OTHER)
    assert sorted(meeting.blocks, key=lambda b: b.position)[-1].title == f"Case: {OTHER_TITLE}"
    assert sets.overrun(meeting) is not None  # 190 - 15 + 40 minutes in a 195-minute slot
