"""Stable paper ids and the normalized title used to find duplicates."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_ARXIV_NEW = re.compile(r"(\d{4}\.\d{4,5})(v\d+)?")
_ARXIV_OLD = re.compile(r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?")


def arxiv_id_of(value: str | None) -> str | None:
    """The arXiv id without version from an id, `arXiv:` reference or abs/pdf URL; else None."""
    if not value:
        return None
    text = value.strip()
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        found = pattern.search(text)
        if found:
            return found.group(1)
    return None


def title_key(title: str) -> str:
    """Case, accents, punctuation and spacing removed: two spellings of one title compare equal."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def paper_id(arxiv_id: str | None, title: str) -> str:
    """arXiv id without version when known, else a hash of the normalized title."""
    if arxiv_id:
        return arxiv_id
    return "h" + hashlib.sha1(title_key(title).encode()).hexdigest()[:16]
