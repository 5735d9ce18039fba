"""Printable session documents: facilitator pack, handouts, register, reflection, certificates."""

from toolkit.packs.cache import forget_set
from toolkit.packs.content import REGISTER_COLUMNS, Pack, Person, build_pack, headline_areas
from toolkit.packs.files import (
    NAMED_HANDOUTS,
    Rendered,
    document_html,
    document_names,
    render_all,
    render_document,
    write_all,
    zip_stream,
)
from toolkit.packs.render import DOCUMENTS, STATIC, Document, render_html, render_pdf

__all__ = [
    "DOCUMENTS",
    "NAMED_HANDOUTS",
    "REGISTER_COLUMNS",
    "Document",
    "Pack",
    "Person",
    "Rendered",
    "STATIC",
    "build_pack",
    "document_html",
    "document_names",
    "forget_set",
    "headline_areas",
    "render_all",
    "render_document",
    "render_html",
    "render_pdf",
    "write_all",
    "zip_stream",
]
