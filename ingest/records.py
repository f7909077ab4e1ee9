"""Turning raw fields from any source into a validated Paper, or a reason why not."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hierograph.graph.ids import arxiv_id_of, paper_id
from hierograph.graph.models import Paper
from hierograph.ingest.rejects import Reject
from hierograph.ingest.urls import split_urls


class RecordError(ValueError):
    """A record that cannot become a paper; the message is the reject reason."""


# The longest text a field may hold (characters). arXiv caps abstracts at 1,920 characters and
# titles far below these; anything longer is a broken or hostile record, rejected with a reason
# rather than stored, embedded and shown.
MAX_FIELD_CHARS = {"title": 1_000, "abstract": 20_000, "comment": 5_000}
MAX_OTHER_CHARS = 2_000  # ids, URLs, dates, DOIs, one author or category name
MAX_NAMES = 5_000  # authors or categories of one record
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Parsed:
    """What one source file yielded: papers with the line each started on, and rejects."""

    papers: list[tuple[int, Paper]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def clean_text(value: str, name: str, limit: int = MAX_OTHER_CHARS) -> str:
    """Whitespace collapsed, NUL characters dropped; raises RecordError for a lone surrogate
    (not storable as UTF-8) or text longer than `limit` characters. `name` is the field."""
    if _SURROGATE.search(value):
        raise RecordError(f"{name}: invalid Unicode (a lone surrogate such as \\ud800)")
    # NUL ends strings in C libraries and some stores; it is never part of a real title.
    # arXiv wraps abstracts at ~80 columns; the line breaks carry no meaning.
    text = re.sub(r"\s+", " ", value.replace("\x00", "")).strip()
    if len(text) > limit:
        raise RecordError(f"{name} is {len(text):,} characters long; the limit is {limit:,}")
    return text


def _text(value: Any, name: str = "field") -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected text, got {type(value).__name__}")
    return clean_text(value, name, MAX_FIELD_CHARS.get(name, MAX_OTHER_CHARS))


def _names(value: Any, separator: str, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = value.split(separator)
    elif isinstance(value, list):
        parts = [v if isinstance(v, str) else str(v) for v in value]
    else:
        raise RecordError(f"{name}: expected a list or text, got {type(value).__name__}")
    if len(parts) > MAX_NAMES:
        raise RecordError(f"{name}: {len(parts):,} entries; the limit is {MAX_NAMES:,}")
    cleaned = (clean_text(p, name) for p in parts)
    return [p for p in cleaned if p]


def paper_from_fields(fields: Mapping[str, Any], source: str) -> Paper:
    """A Paper from the common field names of JSONL/CSV/page records; raises RecordError."""
    title = _text(fields.get("title"), "title")
    if not title:
        raise RecordError("missing title")
    abstract = _text(fields.get("abstract"), "abstract")
    if not abstract:
        raise RecordError("empty abstract")
    url = _text(fields.get("url") or fields.get("abs_url"), "url") or None
    raw_id = _text(fields.get("arxiv_id"), "arxiv_id") or _text(fields.get("id"), "id")
    arxiv_id = arxiv_id_of(raw_id) or arxiv_id_of(url)
    comment = _text(fields.get("comment"), "comment") or None
    code_urls, urls = split_urls(abstract, comment)
    published = _text(fields.get("published") or fields.get("listing_date"), "published") or None
    doi = _text(fields.get("doi"), "doi") or None
    pid = paper_id(arxiv_id, title) if arxiv_id or not raw_id else raw_id
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi,
        authors=_names(fields.get("authors"), ",", "authors"),
        categories=_names(fields.get("categories"), " ", "categories"),
        comment=comment,
        published=published,
        source=source,
        url=url or (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None),
        code_urls=code_urls,
        urls=urls,
    )
