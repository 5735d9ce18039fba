"""Printable session documents: facilitator pack, handouts, register, reflection, certificates."""

from toolkit.packs.content import Pack, Person, build_pack
from toolkit.packs.render import DOCUMENTS, Document, render_html, render_pdf

__all__ = ["DOCUMENTS", "Document", "Pack", "Person", "build_pack", "render_html", "render_pdf"]
