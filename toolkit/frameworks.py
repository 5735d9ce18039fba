"""The three leadership frameworks (HLM, MLCF, GMC GPC) as fixed reference data with stable ids."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class Area:
    """One framework area: an HLM dimension, an MLCF domain or element, or a GPC domain."""

    framework: str  # "hlm", "mlcf" or "gpc"
    id: str
    number: str
    name: str
    description: str
    parent: str | None = None  # the MLCF domain id of an element

    @property
    def label(self) -> str:
        """Number and name, as facilitators quote them (e.g. "2.3 Encouraging Contribution")."""
        return f"{self.number} {self.name}"


@dataclass(frozen=True)
class Framework:
    """A framework's name, source link and its areas in their published order."""

    key: str
    name: str
    short: str
    url: str
    areas: tuple[Area, ...]

    def get(self, area_id: str) -> Area | None:
        """Return the area with this id, or None."""
        return next((a for a in self.areas if a.id == area_id), None)

    def top_level(self) -> tuple[Area, ...]:
        """Areas that are not elements of another area."""
        return tuple(a for a in self.areas if a.parent is None)

    def children(self, area_id: str) -> tuple[Area, ...]:
        """The elements of an MLCF domain (empty for other areas)."""
        return tuple(a for a in self.areas if a.parent == area_id)


@dataclass(frozen=True)
class Frameworks:
    """All three frameworks, looked up by key."""

    hlm: Framework
    mlcf: Framework
    gpc: Framework

    def __iter__(self):
        return iter((self.hlm, self.mlcf, self.gpc))

    def by_key(self, key: str) -> Framework:
        """Return the framework called `key` ("hlm", "mlcf" or "gpc")."""
        return {"hlm": self.hlm, "mlcf": self.mlcf, "gpc": self.gpc}[key]

    def label(self, key: str, area_id: str) -> str:
        """A readable label for a tag, falling back to the id for unknown tags."""
        area = self.by_key(key).get(area_id)
        return area.label if area else area_id


def _read(name: str) -> dict:
    text = resources.files("toolkit.data").joinpath(name).read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


def _flat(key: str, raw: dict, list_key: str) -> Framework:
    areas = tuple(
        Area(key, a["id"], str(a["number"]), a["name"], a["description"]) for a in raw[list_key]
    )
    return Framework(key, raw["name"], raw["short"], raw["url"], areas)


def _mlcf(raw: dict) -> Framework:
    areas: list[Area] = []
    for d in raw["domains"]:
        areas.append(Area("mlcf", d["id"], str(d["number"]), d["name"], d["description"]))
        for e in d["elements"]:
            element_id = f"{d['id']}.{e['id']}"
            areas.append(
                Area("mlcf", element_id, str(e["number"]), e["name"], e["description"], d["id"])
            )
    return Framework("mlcf", raw["name"], raw["short"], raw["url"], tuple(areas))


@cache
def load_frameworks() -> Frameworks:
    """Load the packaged framework files (cached: they never change while running)."""
    return Frameworks(
        hlm=_flat("hlm", _read("hlm.yaml"), "dimensions"),
        mlcf=_mlcf(_read("mlcf.yaml")),
        gpc=_flat("gpc", _read("gpc.yaml"), "domains"),
    )


def mlcf_covers(tag: str, wanted: str) -> bool:
    """True when a case tagged `tag` counts for the MLCF area `wanted`.

    A domain tag means the whole domain, so it matches any of its elements, and an element tag
    matches its own domain.
    """
    return tag == wanted or wanted.startswith(tag + ".") or tag.startswith(wanted + ".")
