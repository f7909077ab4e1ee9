"""Hugging Face papers: the daily-papers list for one date and a single paper by arXiv id.
Keeps upvotes, the linked GitHub repository and project page; a paper's id is its arXiv id,
so it merges into the record arXiv gave."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hierograph.graph.ids import arxiv_id_of
from hierograph.graph.models import Paper
from hierograph.ingest.fetch import PoliteClient, SourceError
from hierograph.ingest.records import RecordError, paper_from_fields
from hierograph.ingest.rejects import Reject
from hierograph.ingest.urls import clean_url
from hierograph.settings import Settings

# Hugging Face's own data wins over what an earlier source said: upvotes change daily.
HF_FIELDS = ("upvotes", "github_repo", "project_page")


class HfAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = ""


class HfPaper(BaseModel):
    """The `paper` object of the API (also the whole answer of /api/papers/{id})."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    id: str
    title: str = ""
    summary: str = ""
    authors: list[HfAuthor] = Field(default_factory=list)
    published_at: str | None = Field(None, alias="publishedAt")
    upvotes: int | None = None
    github_repo: str | None = Field(None, alias="githubRepo")
    project_page: str | None = Field(None, alias="projectPage")


class HfDailyItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    paper: HfPaper


def to_paper(item: HfPaper) -> Paper:
    """An HF paper as a Paper; raises RecordError (the reject reason) when it cannot be."""
    arxiv_id = arxiv_id_of(item.id)
    if not arxiv_id:
        raise RecordError(f"Hugging Face paper id {item.id!r} is not an arXiv id")
    fields: dict[str, Any] = {
        "arxiv_id": arxiv_id,
        "title": item.title,
        "abstract": item.summary,
        "authors": [a.name for a in item.authors if a.name],
        "published": item.published_at,
    }
    paper = paper_from_fields(fields, source="hf")
    github = clean_url(item.github_repo) if item.github_repo else None
    page = clean_url(item.project_page) if item.project_page else None
    return paper.model_copy(
        update={
            "upvotes": item.upvotes,
            "github_repo": github,
            "project_page": page,
            "code_urls": [github] if github else [],
            "urls": [page] if page else [],
        }
    )


def merge_hf(old: Paper | None, new: Paper) -> Paper:
    """The stored record after reading `new` from Hugging Face: gaps filled, HF's own fields
    (upvotes, GitHub repository, project page) taken from the newer answer when it has them."""
    if old is None:
        return new
    merged = old.merged_with(new)
    update = {k: getattr(new, k) for k in HF_FIELDS if getattr(new, k) is not None}
    return merged.model_copy(update=update)


def _reason(error: Exception) -> str:
    """A reject reason naming the field: `paper.id: Field required`."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'item'}: {e['msg']}" for e in error.errors()
        )
    return str(error)


class HfClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.hf_api_url.rstrip("/")
        self.http = PoliteClient(settings, settings.hf_delay_seconds, "Hugging Face API")

    def _json(self, url: str, params: dict[str, str] | None = None) -> Any:
        response = self.http.get(url, params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceError(
                f"Hugging Face API at {url} answered {response.status_code}; "
                "check HIEROGRAPH_HF_API_URL."
            )
        try:
            return response.json()
        except ValueError as e:
            raise SourceError(f"Hugging Face API at {url} sent no JSON ({e}).") from e

    def daily(self, day: date) -> tuple[list[Paper], list[Reject]]:
        """The daily papers of `day` (an empty list for a day without any)."""
        url = f"{self.root}/daily_papers"
        data = self._json(url, {"date": day.isoformat()})
        if data is None:
            return [], []
        if not isinstance(data, list):
            raise SourceError(f"Hugging Face daily papers for {day} is not a list; check {url}.")
        papers: list[Paper] = []
        rejects: list[Reject] = []
        where = f"{url}?date={day.isoformat()}"
        for index, raw in enumerate(data):
            try:
                papers.append(to_paper(HfDailyItem.model_validate(raw).paper))
            except (ValidationError, RecordError) as e:
                reason = _reason(e)
                rejects.append(Reject(where, index, reason, str(raw)[:120]))
        return papers, rejects

    def paper(self, arxiv_id: str) -> Paper | None:
        """One paper by arXiv id; None when Hugging Face has no page for it."""
        clean = arxiv_id_of(arxiv_id)
        if not clean:
            raise SourceError(f"{arxiv_id!r} is not an arXiv id (expected e.g. 2501.01234).")
        data = self._json(f"{self.root}/papers/{clean}")
        if data is None:
            return None
        try:
            return to_paper(HfPaper.model_validate(data))
        except (ValidationError, RecordError) as e:
            raise SourceError(f"Hugging Face paper {clean} could not be read: {_reason(e)}") from e

    def close(self) -> None:
        self.http.close()
