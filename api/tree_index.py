"""The topic tree as plain arrays for the finder: children, subtree papers, centroids of paper
embeddings and label embeddings, read from the store once per tree version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hierograph.graph.models import Topic, topic_path
from hierograph.graph.store import GraphStore

Encode = Callable[[Sequence[str]], np.ndarray]


def tree_signature(store: GraphStore) -> str:
    """Changes whenever a build, a refresh or a correction changes topics, their sizes or the
    paper count; cheap enough to check on every find."""
    rows = [(t.id, t.parent, t.label, t.size, t.built_at) for t in store.topics()]
    key = json.dumps([rows, store.paper_count()])
    return hashlib.sha1(key.encode()).hexdigest()


def topic_text(topic: Topic) -> str:
    """What a topic's label embedding is computed from: everything a reader sees of it."""
    parts = [topic.label, topic.summary, ", ".join(topic.keywords)]
    return ". ".join(p for p in parts if p)


def unit_vector(v: np.ndarray) -> np.ndarray:
    """`v` scaled to length 1 (a zero vector stays zero)."""
    return v / max(float(np.linalg.norm(v)), 1e-12)


@dataclass
class TreeIndex:
    signature: str
    topics: dict[str, Topic]
    children: dict[str, list[str]]
    root_id: str | None
    direct: dict[str, dict[str, float]]  # topic → paper → assignment score
    subtree: dict[str, set[str]]
    centroid: dict[str, np.ndarray]  # unit vectors; absent for a topic without embedded papers
    label_vec: dict[str, np.ndarray]
    paper_vec: dict[str, np.ndarray]
    # Held for per-request search without store scans: every embedded paper as one unit row
    # (ids sorted, so ties break by id as in `rank_by_cosine`), and each topic's vectors as rows.
    paper_ids: list[str] = field(default_factory=list)
    paper_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    topic_ids: list[str] = field(default_factory=list)
    centroid_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    label_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    paper_topics: dict[str, list[str]] = field(default_factory=dict)  # best assignment first
    row_of: dict[str, int] = field(default_factory=dict)  # paper id → row of paper_matrix
    topic_row: dict[str, int] = field(default_factory=dict)  # topic id → row of the matrices
    _subtree_rows: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.paper_ids = sorted(self.paper_vec)
        if self.paper_ids:
            self.paper_matrix = np.stack([self.paper_vec[p] for p in self.paper_ids])
        self.row_of = {p: i for i, p in enumerate(self.paper_ids)}
        self.topic_ids = sorted(self.topics)
        self.topic_row = {t: i for i, t in enumerate(self.topic_ids)}
        dim = self.paper_matrix.shape[1] if self.paper_ids else 0
        if not dim and self.label_vec:
            dim = len(next(iter(self.label_vec.values())))
        zero = np.zeros(dim, np.float32)
        if self.topic_ids:
            self.centroid_matrix = np.stack([self.centroid.get(t, zero) for t in self.topic_ids])
            self.label_matrix = np.stack([self.label_vec.get(t, zero) for t in self.topic_ids])
        rows = sorted(
            (-score, topic_id, paper_id)
            for topic_id, papers in self.direct.items()
            for paper_id, score in papers.items()
        )
        self.paper_topics = {}
        for _, topic_id, paper_id in rows:
            self.paper_topics.setdefault(paper_id, []).append(topic_id)

    @classmethod
    def from_store(cls, store: GraphStore, encode: Encode, signature: str = "") -> TreeIndex:
        topics = store.topics()
        by_id = {t.id: t for t in topics}
        children: dict[str, list[str]] = {t.id: [] for t in topics}
        for t in topics:
            if t.parent in children:
                children[t.parent].append(t.id)
        direct: dict[str, dict[str, float]] = {t.id: {} for t in topics}
        for a in store.assignments():
            if a.topic_id in direct:
                direct[a.topic_id][a.paper_id] = a.score
        subtree: dict[str, set[str]] = {}
        # Deepest first, so each child's set exists before its parent's is formed.
        for t in sorted(topics, key=lambda t: -t.level):
            papers = set(direct[t.id])
            for c in children[t.id]:
                papers |= subtree[c]
            subtree[t.id] = papers
        paper_vec = {
            k: unit_vector(np.asarray(v, dtype=np.float32))
            for k, v in store.get_embeddings().items()
        }
        centroid = {}
        for t in topics:
            vecs = [paper_vec[p] for p in subtree[t.id] if p in paper_vec]
            if vecs:
                centroid[t.id] = unit_vector(np.mean(vecs, axis=0))
        label_vec: dict[str, np.ndarray] = {}
        if topics:
            vectors = encode([topic_text(t) for t in topics])
            label_vec = {t.id: unit_vector(v) for t, v in zip(topics, vectors, strict=True)}
        root = next((t.id for t in topics if t.parent is None), None)
        return cls(
            signature, by_id, children, root, direct, subtree, centroid, label_vec, paper_vec
        )

    def is_leaf(self, topic_id: str) -> bool:
        return not self.children.get(topic_id)

    def path(self, topic_id: str) -> list[Topic]:
        """Root → … → topic."""
        return topic_path(self.topics, topic_id)

    def subtree_rows(self, topic_id: str) -> np.ndarray:
        """Rows of paper_matrix for the papers under a topic (computed once per topic)."""
        rows = self._subtree_rows.get(topic_id)
        if rows is None:
            found = (self.row_of.get(p) for p in self.subtree.get(topic_id, ()))
            rows = np.array(sorted(r for r in found if r is not None), dtype=np.int64)
            self._subtree_rows[topic_id] = rows
        return rows

    def topic_paths(self, paper_id: str) -> list[list[Topic]]:
        """Root → … → topic for every topic the paper is assigned to, best assignment first."""
        return [self.path(t) for t in self.paper_topics.get(paper_id, [])]

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine of a unit query to every paper, in `paper_ids` order (none before a build
        has embedded any)."""
        if not self.paper_ids:
            return np.zeros(0, np.float32)
        return self.paper_matrix @ query.astype(np.float32)

    def semantic(self, query: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Top-n (paper id, cosine) for a unit query vector, ties broken by id: the in-memory
        twin of the store's `semantic_search`, without reading every embedding per request."""
        if not self.paper_ids:
            return []
        sims = self.similarities(query)
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        # ids are sorted, so a stable sort on -cosine breaks ties by id.
        top = top[np.argsort(top, kind="stable")]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.paper_ids[i], float(sims[i])) for i in top]

    def topic_relevance(
        self, query: np.ndarray, centroid_weight: float, topic_ids: Iterable[str] | None = None
    ) -> dict[str, float]:
        """The `EmbeddingRanker` score against a unit query of every topic, or of `topic_ids`
        only (a request's candidates touch a few dozen topics of thousands), in one product."""
        ids = self.topic_ids if topic_ids is None else sorted(set(topic_ids) & self.topics.keys())
        if not ids:
            return {}
        rows = np.array([self.topic_row[t] for t in ids], dtype=np.int64)
        has_c = np.array([t in self.centroid for t in ids])
        has_l = np.array([t in self.label_vec for t in ids])
        wc = np.where(has_c, centroid_weight, 0.0)
        wl = np.where(has_l, 1 - centroid_weight, 0.0)
        total = np.maximum(wc + wl, 1e-12)
        centroid, label = self.centroid_matrix[rows] @ query, self.label_matrix[rows] @ query
        score = (wc * centroid + wl * label) / total
        return dict(zip(ids, score.tolist(), strict=True))
