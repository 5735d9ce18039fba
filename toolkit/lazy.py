"""A package's flat API whose names load their modules on first use (PEP 562), so a command
that imports one light module of a package does not pay for the package's heavy ones."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def exports(package: str, modules: dict[str, tuple[str, ...]]) -> tuple[Callable, list[str]]:
    """`__getattr__` and `__all__` for `package`, whose `modules` (by name) define the names."""
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    return __getattr__, sorted(home)
