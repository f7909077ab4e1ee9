"""The default finder: hybrid retrieval for candidates, re-ranked with what the tree knows.

Candidates are the papers that vector search (the description's embedding against every
paper's, held in memory by the tree index) and full-text search (BM25 over title and abstract)
rank highest, fused by reciprocal rank. Each candidate is then scored by a linear blend of
- `fused`: its fused rank score, scaled so that rank 1 in both lists is 1.0;
- `cosine`: the cosine of the description to the paper itself;
- `topic`: how well the description matches the paper's best topic (the tree finder's
  embedding score: the topic's paper centroid and its label), taken over all its topics;
- `parent`: the same for that topic's parent, the neighbourhood the paper sits in.
The weights are tuned on the find sets by bench/bench_find.py; one default serves every corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hierograph.api.finder import FindResult, Ranked
from hierograph.api.tree_index import TreeIndex

FEATURES = ("fused", "cosine", "topic", "parent")


@dataclass(frozen=True)
class Blend:
    """Weights of the re-ranking features (see the module docstring)."""

    fused: float = 1.0
    cosine: float = 0.0
    topic: float = 0.0
    parent: float = 0.0

    def vector(self) -> np.ndarray:
        return np.array([self.fused, self.cosine, self.topic, self.parent], dtype=np.float64)


def rrf_scores(
    rankings: list[Ranked], k: int, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Weighted reciprocal rank fusion: each list adds weight/(k + rank) to a paper."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, (pid, _) in enumerate(ranking, 1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return scores


def fuse(
    rankings: list[Ranked], k: int, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion scaled to [0, 1]: 1.0 is rank 1 in every list."""
    scores = rrf_scores(rankings, k, weights)
    top = sum(weights or [1.0] * len(rankings)) / (k + 1)
    return {pid: s / top for pid, s in scores.items()}


@dataclass
class Candidates:
    """The candidates of one description with their feature rows (one row per paper)."""

    ids: list[str]
    features: np.ndarray  # len(ids) × len(FEATURES)
    best_topic: list[str | None]  # the topic the `topic` feature came from

    def rank(self, blend: Blend) -> Ranked:
        """Candidates by blended score, best first; ties by id."""
        if not self.ids:
            return []
        scores = self.features @ blend.vector()
        order = sorted(range(len(self.ids)), key=lambda i: (-scores[i], self.ids[i]))
        return [(self.ids[i], float(scores[i])) for i in order]


@dataclass
class HybridFinder:
    index: Callable[[], TreeIndex]
    embed: Callable[[str], np.ndarray]
    fulltext: Callable[[str, int], Ranked]
    blend: Blend = field(default_factory=Blend)
    candidates: int = 50
    rrf_k: int = 5
    dense_weight: float = 0.5  # the vector list's weight in the fusion; full text counts 1
    centroid_weight: float = 0.7
    strategy: str = field(default="hybrid", init=False)

    def candidates_for(self, description: str) -> Candidates:
        """Fused candidates of the description and their features, before blending."""
        index = self.index()
        query = np.asarray(self.embed(description), dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        n = self.candidates
        lists = [index.semantic(query, n), self.fulltext(description, n)]
        fused = fuse(lists, self.rrf_k, [self.dense_weight, 1.0])
        ids = sorted(fused, key=lambda p: (-fused[p], p))[:n]
        touched = {t for pid in ids for t in index.paper_topics.get(pid, [])}
        touched |= {p for t in touched if (p := index.topics[t].parent) is not None}
        relevance = index.topic_relevance(query, self.centroid_weight, touched)
        rows, best_topics = [], []
        for pid in ids:
            vec = index.paper_vec.get(pid)
            cosine = float(vec @ query) if vec is not None else 0.0
            topics = index.paper_topics.get(pid, [])
            best = max(topics, key=lambda t: relevance.get(t, 0.0), default=None)
            topic = relevance.get(best, 0.0) if best else 0.0
            parent_id = index.topics[best].parent if best else None
            parent = relevance.get(parent_id, 0.0) if parent_id else 0.0
            rows.append((fused[pid], cosine, topic, parent))
            best_topics.append(best)
        features = np.array(rows, dtype=np.float64).reshape(len(ids), len(FEATURES))
        return Candidates(ids, features, best_topics)

    def find(self, description: str, k: int) -> FindResult:
        index = self.index()
        found = self.candidates_for(description)
        hits = found.rank(self.blend)[:k]
        path = []
        if hits:
            best = found.best_topic[found.ids.index(hits[0][0])]
            path = index.path(best) if best else []
        return FindResult(hits, path, 1, self.strategy)
