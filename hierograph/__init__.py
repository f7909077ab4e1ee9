"""Hierograph: organize research literature into a browsable, correctable topic tree.

`from hierograph import Hierograph` is the Python API (hierograph/python_api.py). It is loaded
on first use, so importing `hierograph.settings` or the CLI stays cheap (no networkx, pydantic
models or store code until asked for, and never torch at import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hierograph.python_api import Corrections, Hierograph, Hit
    from hierograph.topic_tree import TopicTree

__all__ = ["Corrections", "Hierograph", "Hit", "TopicTree"]

_LAZY = {
    "Hierograph": "hierograph.python_api",
    "Corrections": "hierograph.python_api",
    "Hit": "hierograph.python_api",
    "TopicTree": "hierograph.topic_tree",
}


def __getattr__(name: str) -> Any:
    """The public names, imported when first asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hierograph' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
