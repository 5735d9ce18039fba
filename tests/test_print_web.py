"""Printing from the session page: the zip's dates, previews that fetch nothing missing, and the
register's options."""

import io
import re
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .test_packs import pdf_text
from .test_sets_web import make_set, meetings


@pytest.fixture
def db(app):
    with app.extensions["toolkit"].sessions() as session:
        yield session


@pytest.fixture
def printing(signed_in, db):
    """The print address of the first session of a six-member set."""
    make_set(signed_in)
    return f"/sets/set-a/sessions/{meetings(db)[0].key}/print"


def test_zip_entries_carry_the_time_they_were_made_on_the_sets_clock(signed_in, printing):
    before = datetime.now(ZoneInfo("Europe/London")).replace(tzinfo=None, microsecond=0)
    data = signed_in.get(f"{printing}/all.zip").data
    after = datetime.now(ZoneInfo("Europe/London")).replace(tzinfo=None)
    entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert entries
    for entry in entries:
        made = datetime(*entry.date_time)
        # a zip keeps time to two seconds
        assert before - timedelta(seconds=2) <= made <= after, (entry.filename, made)


def test_previews_name_an_icon_and_everything_they_link_to_is_there(signed_in, printing):
    for stem in ("facilitator-pack", "handout", "sign-in", "reflection", "evaluation"):
        preview = signed_in.get(f"{printing}/{stem}.html").text
        # without an icon of its own, a browser asks for /favicon.ico, which is not there
        assert signed_in.get("/favicon.ico").status_code == 404
        assert '<link rel="icon" href="data:,">' in preview, stem
        for href in re.findall(r'<link [^>]*href="([^"]+)"', preview):
            if not href.startswith("data:"):
                assert signed_in.get(f"{printing}/{href}").status_code == 200, (stem, href)


def test_the_register_can_add_gmc_number_and_arrival_time_columns(signed_in, printing):
    page = signed_in.get(printing.removesuffix("/print")).text
    assert 'name="column" type="checkbox" value="gmc"' in page
    assert 'name="column" type="checkbox" value="arrival"' in page

    plain = pdf_text(signed_in.get(f"{printing}/sign-in.pdf").data)
    assert "Signature" in plain and "GMC number" not in plain and "Arrival time" not in plain

    both = signed_in.get(f"{printing}/sign-in.pdf?column=gmc&column=arrival&column=nonsense")
    text = pdf_text(both.data)
    assert "Name Grade GMC number Arrival time Signature" in text
    assert "Zoë Marsh" in text

    only_arrival = pdf_text(signed_in.get(f"{printing}/sign-in.pdf?column=arrival").data)
    assert "Arrival time" in only_arrival and "GMC number" not in only_arrival
