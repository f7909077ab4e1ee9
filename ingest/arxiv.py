"""The arXiv API (Atom): search queries and categories, newest first, paged, parsed with
feedparser. Paced and retried by ingest.fetch; entries become Paper records."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import feedparser
import httpx

from hierograph.graph.ids import arxiv_id_of
from hierograph.graph.models import Paper
from hierograph.ingest.fetch import PoliteClient, Retryable, SourceError
from hierograph.ingest.records import RecordError, paper_from_fields
from hierograph.ingest.rejects import Reject
from hierograph.settings import Settings

_VERSION = re.compile(r"v(\d+)$")
# arXiv replaces a withdrawn paper's abstract (and usually its comment) with a notice.
_WITHDRAWN = re.compile(
    r"^\s*(this (paper|article|submission|manuscript|work) (has been|is|was) withdrawn"
    r"|withdrawn\b|paper withdrawn)",
    re.IGNORECASE,
)
# The fields an arXiv record owns: a newer version replaces them; the rest (Hugging Face
# upvotes and links, code URLs found earlier) stays.
ARXIV_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "comment",
    "journal_ref",
    "doi",
    "published",
    "updated",
    "version",
    "withdrawn",
)


def category_query(category: str) -> str:
    return f"cat:{category}"


def _timestamp(entry: Any, key: str) -> str | None:
    """`published`/`updated` as UTC `YYYY-MM-DDTHH:MM:SSZ`, so strings compare as times."""
    parsed = entry.get(f"{key}_parsed")
    if parsed:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
    return entry.get(key) or None


def is_withdrawn(abstract: str | None, comment: str | None) -> bool:
    return any(_WITHDRAWN.search(text or "") for text in (abstract, comment))


def paper_from_entry(entry: Any) -> Paper:
    """One Atom entry as a Paper; raises RecordError (the reject reason) when it cannot be."""
    raw_id = (entry.get("id") or "").strip()
    arxiv_id = arxiv_id_of(raw_id)
    if not arxiv_id:
        raise RecordError(f"missing or unreadable arXiv id {raw_id!r}")
    version = _VERSION.search(raw_id)
    primary = entry.get("arxiv_primary_category") or {}
    fields = {
        "arxiv_id": arxiv_id,
        "title": entry.get("title"),
        "abstract": entry.get("summary"),
        "authors": [a.get("name", "") for a in entry.get("authors", [])],
        "categories": [t.get("term", "") for t in entry.get("tags", [])],
        "comment": entry.get("arxiv_comment"),
        "doi": entry.get("arxiv_doi"),
        "published": _timestamp(entry, "published"),
    }
    paper = paper_from_fields(fields, source="arxiv")
    return paper.model_copy(
        update={
            "version": int(version.group(1)) if version else None,
            "updated": _timestamp(entry, "updated"),
            "primary_category": primary.get("term") or None,
            "journal_ref": " ".join((entry.get("arxiv_journal_ref") or "").split()) or None,
            "withdrawn": is_withdrawn(paper.abstract, paper.comment),
        }
    )


def merge_arxiv(old: Paper | None, new: Paper) -> Paper:
    """The stored record after reading `new` from arXiv. A newer version replaces the fields
    arXiv owns (a withdrawal keeps the last real title and abstract, so the paper stays
    findable and placed); the same or an older version only fills gaps."""
    if old is None:
        return new
    newer = new.version is not None and (old.version is None or new.version > old.version)
    if not newer:
        return old.merged_with(new)
    update = {k: getattr(new, k) for k in ARXIV_FIELDS}
    if new.withdrawn and not old.withdrawn:
        update.update(title=old.title, abstract=old.abstract)
    merged = old.model_copy(update=update).merged_with(new)
    return merged


class _EmptyPage(Retryable):
    def __init__(self, start: int, total: int) -> None:
        super().__init__(f"empty page at start={start} of {total}")
        self.total = total


@dataclass
class ArxivPage:
    total: int
    start: int
    papers: list[Paper] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    entries: int = 0  # entries on the page, rejected ones included


def parse_feed(text: str, where: str) -> ArxivPage:
    """An Atom response as papers and rejects; `where` names the request in reject records."""
    feed = feedparser.parse(text)
    meta = feed.get("feed", {})
    page = ArxivPage(
        total=int(meta.get("opensearch_totalresults") or 0),
        start=int(meta.get("opensearch_startindex") or 0),
        entries=len(feed.entries),
    )
    for index, entry in enumerate(feed.entries):
        try:
            page.papers.append(paper_from_entry(entry))
        except (RecordError, ValueError) as e:
            excerpt = (entry.get("title") or "")[:120]
            page.rejects.append(Reject(where, page.start + index, str(e), excerpt))
    return page


@dataclass
class SearchOutcome:
    fetched: int = 0  # papers read (rejects excluded)
    requests: int = 0
    newest: str | None = None  # the latest sort date seen; the next watermark
    complete: bool = False  # reached the watermark or the end of the results
    capped: bool = False  # stopped at arxiv_max_results before reaching the watermark
    note: str = ""


class ArxivClient:
    """`search(query, since, on_page)`: the entries of one query newer than `since`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.arxiv_api_url
        self.http = PoliteClient(settings, settings.arxiv_delay_seconds, "arXiv API")

    def sort_key(self, paper: Paper) -> str:
        value = paper.updated if self.settings.arxiv_sort_by == "lastUpdatedDate" else None
        return value or paper.published or ""

    def page(self, query: str, start: int, size: int) -> ArxivPage:
        params = {
            "search_query": query,
            "start": start,
            "max_results": size,
            "sortBy": self.settings.arxiv_sort_by,
            "sortOrder": "descending",
        }
        where = f"{self.url}?search_query={query}&start={start}"
        try:
            for attempt in self.http.retrying():
                with attempt:
                    return self._read_page(query, params, where, start)
        except _EmptyPage as e:
            return ArxivPage(total=e.total, start=start)
        except (Retryable, httpx.HTTPError) as e:
            raise SourceError(
                f"arXiv API at {self.url} failed after {self.settings.http_max_attempts} tries "
                f"({e}); check the network and HIEROGRAPH_ARXIV_API_URL, or try again later."
            ) from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _read_page(self, query: str, params: dict, where: str, start: int) -> ArxivPage:
        response = self.http.get_once(self.url, params)
        if response.status_code == 400:
            # arXiv explains a bad query in an Atom entry titled "Error".
            detail = feedparser.parse(response.text).entries
            reason = detail[0].get("summary", "") if detail else response.text[:200]
            raise SourceError(f"arXiv refused the query {query!r}: {reason}")
        if response.status_code != 200:
            raise SourceError(
                f"arXiv API at {self.url} answered {response.status_code}; "
                "check HIEROGRAPH_ARXIV_API_URL."
            )
        page = parse_feed(response.text, where)
        # The API sometimes returns an empty page in the middle of the results; asking
        # again is the remedy arXiv's API users' group recommends.
        if page.entries == 0 and start < page.total:
            raise _EmptyPage(start, page.total)
        return page

    def search(
        self,
        query: str,
        since: str | None,
        on_page: Callable[[ArxivPage], None],
        limit: int | None = None,
    ) -> SearchOutcome:
        """Pages newest first until an entry older than `since` (the watermark), the end of the
        results, or `limit` entries; `on_page` gets each page's entries newer than `since`
        (equal ones too: re-reading them is harmless, missing them is not)."""
        limit = limit or self.settings.arxiv_max_results
        size = min(self.settings.arxiv_page_size, limit)
        out = SearchOutcome()
        start = 0
        while True:
            page = self.page(query, start, size)
            out.requests += 1
            keys = [self.sort_key(p) for p in page.papers]
            fresh = [p for p, k in zip(page.papers, keys, strict=True) if not since or k >= since]
            page.papers = fresh
            on_page(page)
            out.fetched += len(fresh)
            if keys:
                out.newest = max([out.newest or "", *keys])
            if page.entries == 0 and start < page.total:
                out.note = f"arXiv kept returning an empty page at {start} of {page.total}"
                return out
            if since and any(k < since for k in keys):
                out.complete = True
                return out
            start += page.entries
            if page.entries == 0 or start >= page.total:
                out.complete = True
                return out
            if start >= limit:
                out.complete, out.capped = True, True
                out.note = f"stopped at {limit} entries (arxiv_max_results)"
                return out

    def close(self) -> None:
        self.http.close()
