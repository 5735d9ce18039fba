"""PDFs as a facilitator downloads them from the running server: tagged, titled, with a language.

No browser: a plain HTTP client signs in (with the CSRF token from the form) and downloads.
"""

from __future__ import annotations

import io
import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from .conftest import PASSWORD

pytestmark = pytest.mark.e2e

SESSION = "/sets/kss-fy-2027-set-a/sessions/session-2"
SET_AND_SESSION = "KSS Foundation leadership set A · Session 2: Action learning set 1"


@pytest.fixture(scope="module")
def http(shared_server):
    """An opener signed in as the admin, with the session cookie kept between requests."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(CookieJar())
    )
    with opener.open(shared_server.url + "/login") as response:
        form = response.read().decode("utf-8")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in form"
    data = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "email": "admin@example.org", "password": PASSWORD}
    ).encode()
    with opener.open(shared_server.url + "/login", data) as response:
        assert response.url.rstrip("/") == shared_server.url, "sign-in failed"
    return opener


def structure_types(node, found: set[str], depth: int = 0) -> set[str]:
    """Every structure type (/S) in the tree under `node`."""
    if isinstance(node, IndirectObject):
        node = node.get_object()
    if depth > 60:
        return found
    if isinstance(node, ArrayObject):
        for child in node:
            structure_types(child, found, depth + 1)
    elif isinstance(node, DictionaryObject):
        if "/S" in node:
            found.add(str(node["/S"]))
        if "/K" in node:
            structure_types(node["/K"], found, depth + 1)
    return found


@pytest.mark.parametrize(
    ("stem", "title"),
    [("facilitator-pack", "Facilitator pack"), ("handout", "Participant handout")],
)
def test_downloaded_pdf_is_tagged_with_title_and_language(http, shared_server, stem, title):
    with http.open(f"{shared_server.url}{SESSION}/print/{stem}.pdf") as response:
        assert response.headers["Content-Type"] == "application/pdf"
        assert "attachment" in response.headers["Content-Disposition"]
        data = response.read()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]

    # Tagged: a structure tree with real structure in it, and the document marked as tagged.
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    types = structure_types(root["/StructTreeRoot"], set())
    assert {"/Document", "/H1", "/P", "/L", "/LI"} <= types, types

    # Language and title, as a screen reader announces them.
    assert root["/Lang"] == "en-GB"
    assert reader.metadata.title == f"{title}: {SET_AND_SESSION}"
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])  # the title, not the file name
    assert reader.metadata.author
