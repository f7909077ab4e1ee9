"""The property-graph records shared by both store backends (see ARCHITECTURE.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Origin = Literal["cluster", "llm", "corrector", "human"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Paper(BaseModel):
    id: str
    title: str
    abstract: str
    arxiv_id: str | None = None
    doi: str | None = None
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    comment: str | None = None
    published: str | None = None
    source: str = ""
    url: str | None = None
    code_urls: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    # --- live sources (arXiv Atom API, Hugging Face daily papers; issue 4) ---
    version: int | None = Field(None, description="Latest arXiv version number.")
    updated: str | None = Field(None, description="When arXiv last updated the record.")
    primary_category: str | None = None
    journal_ref: str | None = None
    withdrawn: bool = False
    upvotes: int | None = Field(None, description="Hugging Face daily-papers upvotes.")
    github_repo: str | None = None
    project_page: str | None = None
    # --- LLM summary along three dimensions (issue 10 (a)); None until summarized ---
    problem: str | None = Field(None, description="The research problem, one sentence.")
    method: str | None = Field(None, description="The method or solution, one sentence.")
    results: str | None = Field(None, description="The results, one sentence.")
    summary_of: str | None = Field(
        None, description="Hash of the title and abstract the summary was made from."
    )

    def text(self) -> str:
        """What gets embedded: the title carries the most signal per token, so it comes first."""
        return f"{self.title}. {self.abstract}"

    def text_hash(self) -> str:
        """Identifies the text a summary describes: a new abstract makes the summary stale."""
        return hashlib.sha256(self.text().encode()).hexdigest()[:16]

    def current_summary(self) -> PaperSummary | None:
        """The stored summary, if it still describes this paper's text."""
        if self.problem is None or self.summary_of != self.text_hash():
            return None
        return PaperSummary(
            problem=self.problem, method=self.method or "", results=self.results or ""
        )

    def merged_with(self, other: Paper) -> Paper:
        """This record completed by `other`: empty fields filled, lists unioned in order."""
        data = self.model_dump()
        for key, value in other.model_dump().items():
            mine = data.get(key)
            if isinstance(mine, list):
                data[key] = mine + [v for v in value if v not in mine]
            elif mine in (None, "") and value not in (None, ""):
                data[key] = value
        sources = [s for s in self.source.split(",") if s]
        sources += [s for s in other.source.split(",") if s and s not in sources]
        data["source"] = ",".join(sources)
        return Paper(**data)


class PaperSummary(BaseModel):
    """What a paper tries to solve, how, and what it found: one sentence each."""

    problem: str
    method: str
    results: str


class Topic(BaseModel):
    id: str
    label: str
    parent: str | None = None
    level: int = 0
    summary: str = ""
    keywords: list[str] = Field(default_factory=list)
    # Structured like the paper summaries (issue 10 (b)); empty under keyword labels.
    problem: str = ""
    method: str = ""
    results: str = ""
    size: int = 0
    built_at: str = Field(default_factory=utc_now)


def topic_path(topics: Mapping[str, Topic], topic_id: str) -> list[Topic]:
    """The path root → … → topic (inclusive) through `topics` by id; empty if it is unknown."""
    path: list[Topic] = []
    node = topics.get(topic_id)
    while node is not None:
        path.append(node)
        node = topics.get(node.parent) if node.parent else None
    return path[::-1]


class Assignment(BaseModel):
    paper_id: str
    topic_id: str
    score: float
    origin: Origin = "cluster"
    at: str = Field(default_factory=utc_now)


class Correction(BaseModel):
    kind: str
    actor: str
    payload: dict[str, Any] = Field(default_factory=dict)
    at: str = Field(default_factory=utc_now)
    id: int | None = None


class Hierarchy(BaseModel):
    """One build: its topics (root first) and its paper→topic assignments."""

    topics: list[Topic]
    assignments: list[Assignment]

    def root(self) -> Topic:
        return next(t for t in self.topics if t.parent is None)


class Facet(BaseModel):
    """(:Paper)-[:HAS_FACET {score, origin}]->(:FacetValue {dimension, value})."""

    paper_id: str
    dimension: str
    value: str
    score: float = 1.0
    origin: Literal["rule", "embedding", "llm", "human"] = "embedding"
