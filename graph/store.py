"""The store interface. Every feature reads and writes the graph through these methods only;
the SQLite (embedded default) and Neo4j backends implement them with the same semantics, and
one contract test suite (tests/test_store_contract.py) holds both to it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hierograph.graph.method_models import (
    CodeFor,
    CodeLink,
    Method,
    MethodLink,
    Repository,
    TopicMethod,
)
from hierograph.graph.models import (
    Assignment,
    Correction,
    Facet,
    Hierarchy,
    Paper,
    PaperSummary,
    Topic,
    topic_path,
)

# 2: papers carry LLM summaries (problem, method, results, summary_of) and topics structured
# summaries (problem, method, results). Older records read as unsummarized.
SCHEMA_VERSION = 2


def rank_by_cosine(
    ids: Sequence[str], matrix: np.ndarray, vector: np.ndarray, k: int
) -> list[tuple[str, float]]:
    """Top-k (id, cosine) of `matrix` rows against `vector`, ties broken by id: both backends
    rank through this, so the same data gives the same order in either store."""
    matrix = np.asarray(matrix, dtype=np.float32)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    query = np.asarray(vector, dtype=np.float32)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    sims = matrix @ query
    order = np.lexsort((np.array(ids), -sims))[:k]
    return [(ids[i], float(sims[i])) for i in order]


class StoreError(RuntimeError):
    """A store problem the user can act on; the message says what to check."""


@dataclass(frozen=True)
class UpsertResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


class GraphStore(ABC):
    # --- papers ---
    @abstractmethod
    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Insert or merge papers by id (an existing record is completed, never emptied)."""

    @abstractmethod
    def get_paper(self, paper_id: str) -> Paper | None: ...

    @abstractmethod
    def iter_papers(self) -> Iterator[Paper]:
        """All papers, ordered by id."""

    @abstractmethod
    def paper_ids(self, *, embedded: bool | None = None) -> list[str]:
        """Every paper's id, ordered by id (the order of iter_papers), without reading records;
        `embedded` True or False keeps only the papers with, or without, an embedding."""

    @abstractmethod
    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The papers with these ids, in the order given; unknown ids are skipped. One round
        trip for a chunk of ids: how a streamed pass (graph.paper_source) reads papers."""

    @abstractmethod
    def paper_count(self) -> int: ...

    @abstractmethod
    def find_paper_by_title_key(self, title_key: str) -> Paper | None:
        """The paper whose normalized title (ingest.ids.title_key) equals `title_key`."""

    # --- embeddings ---
    @abstractmethod
    def set_embeddings(self, vectors: Mapping[str, np.ndarray]) -> None: ...

    @abstractmethod
    def get_embeddings(self, paper_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Embeddings by paper id (all when `paper_ids` is None); papers without one are absent."""

    @abstractmethod
    def semantic_search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        """Top-k papers by cosine similarity, best first, as (paper id, cosine)."""

    @abstractmethod
    def fulltext_search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-k papers matching `query` in title or abstract, best first (score: higher=better)."""

    def change_token(self) -> object | None:
        """A value that differs after any committed write to the store, from this handle or
        another process; None when the backend cannot tell cheaply (then a reader re-reads
        what it depends on). Cheap enough to call on every request."""
        return None

    # --- hierarchy ---
    @abstractmethod
    def replace_hierarchy(
        self, hierarchy: Hierarchy, meta: Mapping[str, str] | None = None
    ) -> None:
        """Atomically swap the current tree for `hierarchy` and set the `meta` keys with it:
        readers see the old tree or the new one, never a mix, and a crash mid-write leaves the
        old one with its old meta. Papers and corrections stay. (A build writes its tree with
        the corrections already replayed onto it, and the replay's record as meta.)"""

    @abstractmethod
    def topics(self) -> list[Topic]:
        """All topics of the current tree, ordered by level, then id."""

    @abstractmethod
    def get_topic(self, topic_id: str) -> Topic | None: ...

    @abstractmethod
    def upsert_topics(self, topics: Iterable[Topic]) -> None:
        """Add topics to the current tree or update them in place (label, summary, keywords,
        level, size, parent); the rest of the tree is untouched. Parents must exist or come
        earlier in `topics`."""

    @abstractmethod
    def delete_topic(self, topic_id: str) -> None:
        """Remove a topic and its assignments. Refused (StoreError) while it has children."""

    @abstractmethod
    def assignments(
        self, *, topic_id: str | None = None, paper_id: str | None = None
    ) -> list[Assignment]:
        """Paper→topic edges, filtered; ordered by topic id, then descending score."""

    @abstractmethod
    def upsert_assignments(self, assignments: Iterable[Assignment]) -> None:
        """Add edges or replace the (paper, topic) edge's score, origin and time."""

    @abstractmethod
    def remove_assignment(self, paper_id: str, topic_id: str) -> bool: ...

    # --- corrections: an append-only log; there is deliberately no way to delete ---
    @abstractmethod
    def append_correction(self, correction: Correction) -> Correction:
        """Store `correction`; returns it with its sequence id."""

    @abstractmethod
    def corrections(self) -> list[Correction]:
        """The whole log, oldest first."""

    # --- bookkeeping ---
    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @abstractmethod
    def all_meta(self) -> dict[str, str]: ...

    @abstractmethod
    def close(self) -> None: ...

    # --- derived queries, written once over the primitives above ---
    def children(self, topic_id: str) -> list[Topic]:
        return [t for t in self.topics() if t.parent == topic_id]

    def root(self) -> Topic | None:
        return next((t for t in self.topics() if t.parent is None), None)

    def ancestors(self, topic_id: str) -> list[Topic]:
        """The path root → … → topic (inclusive); empty if the topic is unknown."""
        return topic_path({t.id: t for t in self.topics()}, topic_id)

    def subtree_paper_ids(self, topic_id: str) -> set[str]:
        topics = self.topics()
        below = {topic_id}
        for t in topics:  # ordered by level, so a parent is seen before its children
            if t.parent in below:
                below.add(t.id)
        return {a.paper_id for a in self.assignments() if a.topic_id in below}

    # --- live sources / refresh (issue 4) ---
    @abstractmethod
    def replace_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Write each record exactly as given (fields absent from it are cleared; the embedding
        stays): a newer arXiv version updates the stored paper in place, where upsert_papers
        would only fill gaps."""

    # --- methods, implementations and code links (issue 6) ---
    @abstractmethod
    def replace_methods(self, methods: Sequence[Method]) -> None:
        """Make the stored (:Method)-[:IMPLEMENTED_BY]->(:Implementation) graph exactly `methods`
        (the registry): methods absent from it go, with their paper and topic links."""

    @abstractmethod
    def methods(self) -> list[Method]:
        """All methods ordered by id, each with its implementations in registry order."""

    @abstractmethod
    def replace_method_links(self, links: Iterable[MethodLink]) -> None:
        """Swap every (:Paper)-[:PROPOSES|USES]->(:Method) edge for `links`, atomically; at most
        one edge per (paper, method); links naming an unknown paper or method are dropped."""

    @abstractmethod
    def method_links(
        self, *, paper_id: str | None = None, method_id: str | None = None
    ) -> list[MethodLink]:
        """Paper→method edges, filtered; ordered by method id, PROPOSES first, then paper id."""

    @abstractmethod
    def replace_topic_methods(self, rows: Iterable[TopicMethod]) -> None:
        """Swap every (:Topic)-[:ABOUT]->(:Method) edge for `rows` (unknown ends dropped)."""

    @abstractmethod
    def topic_methods(
        self, *, topic_id: str | None = None, method_id: str | None = None
    ) -> list[TopicMethod]:
        """Topic→method edges of the current tree; ordered by topic id, score desc, method id."""

    @abstractmethod
    def replace_code_links(self, links: Iterable[CodeLink]) -> None:
        """Swap every (:Paper)-[:HAS_CODE]->(:Repository) edge for `links` (unknown papers
        dropped). Repositories are created as needed and keep their link-check status."""

    @abstractmethod
    def code_links(self, *, paper_id: str | None = None, url: str | None = None) -> list[CodeLink]:
        """Paper→repository edges, filtered; ordered by paper id, then url."""

    @abstractmethod
    def repositories(self) -> list[Repository]:
        """Every (:Repository), ordered by url."""

    @abstractmethod
    def record_link_checks(self, repos: Iterable[Repository]) -> None:
        """Store each repository's status, ok, checked_at and error (creating it if new)."""

    def code_for(self, concept: str) -> CodeFor:
        """Methods for a method name or topic, with their papers and ranked implementations
        (official repo of the canonical paper, then maintained libraries, then other repos)."""
        from hierograph.graph.code_query import code_for

        return code_for(self, concept)

    # --- facets: dimensions beyond topic (issue 10) ---
    @abstractmethod
    def replace_facets(self, facets: Iterable[Facet]) -> None:
        """Set papers' facet values: for each (paper, dimension) in `facets`, the values given
        replace the paper's earlier values of that dimension."""

    @abstractmethod
    def facets(self, *, paper_id: str | None = None, dimension: str | None = None) -> list[Facet]:
        """Facet values, filtered; ordered by paper id, dimension, descending score."""

    # --- the paper map: 2-D coordinates of the papers' embeddings (issue 21) ---
    @abstractmethod
    def set_layout(self, points: Mapping[str, tuple[float, float]], replace: bool = False) -> None:
        """Store papers' map coordinates (x, y); unknown paper ids are skipped. `replace`
        clears every other paper's coordinates first (a new layout after a build)."""

    @abstractmethod
    def layout(self) -> dict[str, tuple[float, float]]:
        """Every stored map coordinate by paper id, ordered by id; papers without one are absent."""

    # --- paper summaries (issue 10) ---
    @abstractmethod
    def set_paper_summaries(self, summaries: Mapping[str, PaperSummary | None]) -> int:
        """Store each paper's summary, stamped with the hash of its current text (None clears
        it); unknown paper ids are skipped. Returns how many papers were written."""

    def paper_summaries(self, paper_ids: Sequence[str] | None = None) -> dict[str, PaperSummary]:
        """Summaries by paper id (all papers when `paper_ids` is None). A summary made from an
        older title or abstract is stale and absent, as are papers never summarized."""
        if paper_ids is None:
            papers: Iterable[Paper | None] = self.iter_papers()
        else:
            papers = (self.get_paper(pid) for pid in paper_ids)
        return {p.id: s for p in papers if p is not None and (s := p.current_summary())}

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
