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


@dataclass
class Parsed:
    """What one source file yielded: papers with the line each started on, and rejects."""

    papers: list[tuple[int, Paper]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"expected text, got {type(value).__name__}")
    # arXiv wraps abstracts at ~80 columns; the line breaks carry no meaning.
    return re.sub(r"\s+", " ", value).strip()


def _names(value: Any, separator: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = value.split(separator)
    elif isinstance(value, list):
        parts = [str(v) for v in value]
    else:
        raise RecordError(f"expected a list or text, got {type(value).__name__}")
    return [p.strip() for p in parts if p.strip()]


def paper_from_fields(fields: Mapping[str, Any], source: str) -> Paper:
    """A Paper from the common field names of JSONL/CSV/page records; raises RecordError."""
    title = _text(fields.get("title"))
    if not title:
        raise RecordError("missing title")
    abstract = _text(fields.get("abstract"))
    if not abstract:
        raise RecordError("empty abstract")
    url = _text(fields.get("url") or fields.get("abs_url")) or None
    raw_id = _text(fields.get("arxiv_id")) or _text(fields.get("id"))
    arxiv_id = arxiv_id_of(raw_id) or arxiv_id_of(url)
    comment = _text(fields.get("comment")) or None
    code_urls, urls = split_urls(abstract, comment)
    published = _text(fields.get("published") or fields.get("listing_date")) or None
    doi = _text(fields.get("doi")) or None
    pid = paper_id(arxiv_id, title) if arxiv_id or not raw_id else raw_id
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi,
        authors=_names(fields.get("authors"), ","),
        categories=_names(fields.get("categories"), " "),
        comment=comment,
        published=published,
        source=source,
        url=url or (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None),
        code_urls=code_urls,
        urls=urls,
    )
