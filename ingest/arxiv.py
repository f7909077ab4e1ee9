"""The arXiv API (Atom): search queries and categories, paged, parsed with feedparser. Paced
and retried by ingest.fetch; entries become Paper records.

A first search (no watermark) reads newest first; every later one reads the range from the
watermark to now oldest first, so the watermark only ever moves over entries that are stored
and a run stopped at `arxiv_max_results` is continued by the next one, with no gap. A page that
is not a complete Atom feed is retried, then fails the search."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


def _minute(stamp: str) -> str:
    """`2025-04-08T10:00:59Z` as arXiv's range bound `202504081000` (the API counts minutes)."""
    return re.sub(r"\D", "", stamp)[:12].ljust(12, "0")


def since_query(query: str, sort_by: str, since: str, now: datetime | None = None) -> str:
    """`query` limited to entries whose sort date is at or after `since`'s minute (inclusive,
    so entries sharing the watermark's timestamp are read again, never skipped)."""
    until = (now or datetime.now(UTC)) + timedelta(days=1)
    return f"({query}) AND {sort_by}:[{_minute(since)} TO {until.strftime('%Y%m%d%H%M')}]"


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
    # Once this page is stored, every entry up to this sort date is (oldest-first reads only).
    watermark: str | None = None


class BrokenFeed(Retryable):
    """An answer that is not a complete Atom feed (an HTML error page, a cut-off body)."""


def _broken(feed: Any) -> str | None:
    """Why a parsed answer is not a complete arXiv feed, or None when it is one."""
    error = feed.get("bozo_exception") if feed.get("bozo") else None
    # A declared-vs-actual charset mismatch is harmless; anything else (a SAX error at a cut,
    # HTML) means the entries read are not the whole page.
    if error is not None and not isinstance(error, feedparser.CharacterEncodingOverride):
        return f"not well-formed Atom ({error})"
    if "opensearch_totalresults" not in feed.get("feed", {}):
        return "no opensearch:totalResults (not an arXiv API feed)"
    return None


def parse_feed(text: str, where: str) -> ArxivPage:
    """An Atom response as papers and rejects; `where` names the request in reject records.
    Raises BrokenFeed when the text is not a complete feed: storing the entries before a cut
    would count the rest as read."""
    feed = feedparser.parse(text)
    problem = _broken(feed)
    if problem:
        raise BrokenFeed(f"arXiv answered with a broken page at {where}: {problem}")
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
    complete: bool = False  # reached the end of the results (or the newest, on a first run)
    capped: bool = False  # stopped at arxiv_max_results; the next run continues from there
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

    def page(self, query: str, start: int, size: int, ascending: bool = False) -> ArxivPage:
        params = {
            "search_query": query,
            "start": start,
            "max_results": size,
            "sortBy": self.settings.arxiv_sort_by,
            "sortOrder": "ascending" if ascending else "descending",
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
        """The entries of `query` at or after `since` (the watermark), at most `limit` of them
        per call; `on_page` gets each page and must have stored it when it returns.

        Without a watermark: newest first, down to `limit` entries (the starting point).
        With one: oldest first from the watermark (its own entries re-read: harmless), each
        page carrying the watermark its storing makes safe, so a run cut by `limit`, a broken
        page or a crash is continued by the next run exactly where it stopped."""
        if since is None:
            return self._newest(query, on_page, limit or self.settings.arxiv_max_results)
        return self._since(query, since, on_page, limit or self.settings.arxiv_max_results)

    def _newest(
        self, query: str, on_page: Callable[[ArxivPage], None], limit: int
    ) -> SearchOutcome:
        size = min(self.settings.arxiv_page_size, limit)
        out = SearchOutcome()
        start = 0
        while True:
            page = self.page(query, start, size)
            out.requests += 1
            keys = [self.sort_key(p) for p in page.papers]
            on_page(page)
            out.fetched += len(page.papers)
            if keys:
                out.newest = max([out.newest or "", *keys])
            if page.entries == 0 and start < page.total:
                out.note = f"arXiv kept returning an empty page at {start} of {page.total}"
                return out
            start += page.entries
            if page.entries == 0 or start >= page.total:
                out.complete = True
                return out
            if start >= limit:
                out.complete, out.capped = True, True
                out.note = (
                    f"first refresh: started from the newest {limit} entries "
                    "(arxiv_max_results); later refreshes read everything after them"
                )
                return out

    def _since(
        self, query: str, since: str, on_page: Callable[[ArxivPage], None], limit: int
    ) -> SearchOutcome:
        size = min(self.settings.arxiv_page_size, limit)
        ranged = since_query(query, self.settings.arxiv_sort_by, since)
        out = SearchOutcome(newest=since)
        start = 0
        while True:
            page = self.page(ranged, start, size, ascending=True)
            out.requests += 1
            keys = [self.sort_key(p) for p in page.papers]
            page.papers = [p for p, k in zip(page.papers, keys, strict=True) if k >= since]
            if keys:
                out.newest = max(out.newest or "", *keys)
            page.watermark = out.newest
            on_page(page)
            out.fetched += len(page.papers)
            if page.entries == 0 and start < page.total:
                out.note = f"arXiv kept returning an empty page at {start} of {page.total}"
                return out
            start += page.entries
            if page.entries == 0 or start >= page.total:
                out.complete = True
                return out
            if start >= limit:
                out.capped = True
                out.note = (
                    f"stopped at {limit} entries (arxiv_max_results) of {page.total}; the next "
                    f"refresh continues from {out.newest}"
                )
                return out

    def close(self) -> None:
        self.http.close()
