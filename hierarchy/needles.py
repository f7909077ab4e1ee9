"""Literal needles of a regular expression: strings of which every match contains at least one.
A text that holds none of them cannot match, and `needle in text` (a C-level substring
search) is several times faster than Python's regex engine scanning a pattern that starts
with a word boundary or an alternation, for which it has no literal prefix to skip ahead
with. The cue rules (facet_cues.py) skip their regex on texts without a needle: the same
matches, most patterns tried on a fraction of the texts."""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]  # CPython's parser, 3.11+
from re import _parser  # type: ignore[attr-defined]
from typing import Any

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


def needles(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings of which every match of `pattern` contains one, or None when no such set is
    found (then the pattern must always be tried). Case-insensitive patterns get None: a
    needle would have to be searched in every case."""
    if pattern.flags & re.IGNORECASE:
        return None
    found = _sequence(list(_parser.parse(pattern.pattern, pattern.flags)))
    # An empty needle is in every text: no filter.
    # Shortest first: short needles are the common words, so a hit ends the search sooner.
    return None if found is None or "" in found else tuple(sorted(found, key=lambda n: (len(n), n)))


def _sequence(items: list[tuple[Any, Any]]) -> set[str] | None:
    """Needles of a concatenation: the best of its required parts (a run of literals, a
    group, an alternation all of whose branches have needles, a repeat of at least one)."""
    options: list[set[str]] = []
    run = ""
    for op, arg in items:
        if op is sre.LITERAL:
            run += chr(arg)
            continue
        if run:
            options.append({run})
            run = ""
        if op is sre.SUBPATTERN:
            found = _sequence(list(arg[-1]))
        elif op is sre.BRANCH:
            branches = [_sequence(list(b)) for b in arg[1]]
            found = set().union(*branches) if all(b is not None for b in branches) else None
        elif op in _REPEATS and arg[0] >= 1:
            found = _sequence(list(arg[2]))
        else:  # zero-width assertions, character classes, optional parts: no needle
            found = None
        if found:
            options.append(found)
    if run:
        options.append({run})
    if not options:
        return None
    # Longer needles let fewer texts through; among equals, fewer needles are faster to try.
    return max(options, key=lambda s: (min(len(n) for n in s), -len(s)))


def may_match(found: tuple[str, ...] | None, text: str) -> bool:
    """False only when `text` holds none of the needles, so the pattern cannot match it."""
    return found is None or any(map(text.__contains__, found))
