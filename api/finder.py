"""Finding a paper from a description: navigate the topic tree top-down with a small beam
(the Science Hierarchography setting), or search flat. Both answer the same `find`.

At each level the candidate child topics are ranked by a `ChildRanker`: `LlmRanker` asks an LLM
(through litellm) when one is configured, `EmbeddingRanker` compares the description's embedding
with each topic's centroid of paper embeddings and its label embedding. The leaves reached keep
their papers, which are ranked by cosine similarity to the description.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ValidationError

from hierograph.api.tree_index import TreeIndex, unit_vector
from hierograph.graph.models import Topic
from hierograph.llm.client import LlmClient, LlmError, extract_json_object

log = logging.getLogger(__name__)

Ranked = list[tuple[str, float]]


@dataclass
class FindResult:
    hits: Ranked  # (paper id, score), best first
    path: list[Topic]  # root → leaf of the best hit; empty for flat search
    steps: int
    strategy: str
    llm_fallbacks: int = 0


class Finder(Protocol):
    strategy: str

    def find(self, description: str, k: int) -> FindResult: ...


class ChildRanker(Protocol):
    def rank(
        self, description: str, query: np.ndarray, candidates: list[Topic], index: TreeIndex
    ) -> Ranked:
        """Candidate topic ids with a score, best first; every candidate appears once."""


class EmbeddingRanker:
    """Cosine of the description to a blend of the topic's paper centroid (what it contains)
    and its label + summary + keywords embedding (what it is called)."""

    def __init__(self, centroid_weight: float = 0.7) -> None:
        self.centroid_weight = centroid_weight

    def rank(
        self, description: str, query: np.ndarray, candidates: list[Topic], index: TreeIndex
    ) -> Ranked:
        scored = []
        for t in candidates:
            parts, weights = [], []
            if t.id in index.centroid:
                parts.append(float(index.centroid[t.id] @ query))
                weights.append(self.centroid_weight)
            if t.id in index.label_vec:
                parts.append(float(index.label_vec[t.id] @ query))
                weights.append(1 - self.centroid_weight)
            score = float(np.dot(parts, weights) / sum(weights)) if sum(weights) else 0.0
            scored.append((t.id, score))
        scored.sort(key=lambda s: (-s[1], s[0]))
        return scored


class ExemplarRanker:
    """Route by the best-matching papers of each child rather than its centroid: a child's score
    is the mean cosine of the description to the `top` papers of its subtree that match it
    best, blended with the `EmbeddingRanker` score (weight 1 - `weight`). A centroid blurs a
    broad topic; its best papers show whether the described paper can sit there.

    `exclude` names papers that may not serve as exemplars (a benchmark routing a paper that is
    itself in the tree leaves it out, so the paper cannot point to its own leaf)."""

    def __init__(
        self, top: int = 5, weight: float = 0.7, fallback: EmbeddingRanker | None = None
    ) -> None:
        self.top = top
        self.weight = weight
        self.fallback = fallback or EmbeddingRanker()
        self.exclude: set[str] = set()
        self._sims: tuple[bytes, np.ndarray] | None = None

    def rank(
        self, description: str, query: np.ndarray, candidates: list[Topic], index: TreeIndex
    ) -> Ranked:
        key = query.tobytes()
        if self._sims is None or self._sims[0] != key:  # one product per query, not per level
            self._sims = (key, index.paper_matrix @ query.astype(np.float32))
        sims = self._sims[1].copy()
        for pid in self.exclude:
            if (row := index.row_of.get(pid)) is not None:
                sims[row] = -1.0
        base = dict(self.fallback.rank(description, query, candidates, index))
        scored = []
        for t in candidates:
            rows = index.subtree_rows(t.id)
            best = np.sort(sims[rows])[-self.top :] if len(rows) else np.zeros(1)
            best = best[best > -1.0] if (best > -1.0).any() else np.zeros(1)
            score = self.weight * float(best.mean()) + (1 - self.weight) * base[t.id]
            scored.append((t.id, score))
        scored.sort(key=lambda s: (-s[1], s[0]))
        return scored


class LlmRanking(BaseModel):
    ranking: list[int]


_SYSTEM = (
    "You route a search for one research paper through a topic tree. Given the paper's "
    "description and numbered candidate topics, rank the topics by how likely the paper "
    "sits under them. Answer with one JSON object only, with one key: ranking, the list of "
    "topic numbers, most likely first."
)


def ranking_prompt(description: str, candidates: list[Topic]) -> list[dict[str, str]]:
    lines = []
    for i, t in enumerate(candidates, 1):
        summary = f" — {t.summary}" if t.summary else ""
        keywords = f"; keywords: {', '.join(t.keywords)}" if t.keywords else ""
        lines.append(f"[{i}] {t.label}{summary} ({t.size} papers{keywords})")
    user = f"Paper description: {description}\n\nCandidate topics:\n" + "\n".join(lines)
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_ranking(text: str, n: int) -> list[int]:
    """0-based candidate indices from the LLM's answer; raises ValueError when unusable."""
    try:
        numbers = LlmRanking.model_validate(extract_json_object(text)).ranking
    except ValidationError as e:
        raise ValueError(f"bad ranking JSON: {e}") from e
    order = list(dict.fromkeys(i - 1 for i in numbers if 1 <= i <= n))
    if not order:
        raise ValueError("the ranking names no candidate")
    return order


class LlmRanker:
    """An LLM ranks the candidates; candidates it leaves out follow in embedding order, and a
    failed call or unusable answer falls back to the embedding ranking for that level."""

    def __init__(self, client: LlmClient, fallback: ChildRanker) -> None:
        self.client = client
        self.fallback = fallback
        self.fallbacks_ = 0

    def rank(
        self, description: str, query: np.ndarray, candidates: list[Topic], index: TreeIndex
    ) -> Ranked:
        by_embedding = self.fallback.rank(description, query, candidates, index)
        if len(candidates) <= 1:
            return by_embedding
        # Listed in embedding order: the 0.5B model answered [1, 2, ..., n] to every ranking
        # question, and listed in tree order that sent the finder down the wrong branch (hit@5
        # 0/3 against 3/3 for embeddings); an echoed list now keeps the embedding order.
        by_id = {t.id: t for t in candidates}
        candidates = [by_id[tid] for tid, _ in by_embedding if tid in by_id] + [
            t for t in candidates if t.id not in {tid for tid, _ in by_embedding}
        ]
        answer = self.client.run_all([ranking_prompt(description, candidates)], LlmRanking)[0]
        try:
            if isinstance(answer, LlmError):
                raise ValueError(str(answer))
            self.client.usage.first_asks += 1  # one ask per level: its first try is its only
            order = parse_ranking(answer, len(candidates))
            self.client.usage.first_valid += 1
        except ValueError as e:
            log.warning("LLM ranking unusable (%s); ranking by embeddings", e)
            self.fallbacks_ += 1
            return by_embedding
        ids = [candidates[i].id for i in order]
        ids += [tid for tid, _ in by_embedding if tid not in ids]
        return [(tid, 1.0 - r / len(ids)) for r, tid in enumerate(ids)]


@dataclass
class TreeFinder:
    index: Callable[[], TreeIndex]
    embed: Callable[[str], np.ndarray]
    ranker: ChildRanker
    beam: int = 3
    strategy: str = field(default="tree", init=False)

    def find(self, description: str, k: int) -> FindResult:
        index = self.index()
        query = self.embed(description)
        query = unit_vector(query)
        fallbacks_before = getattr(self.ranker, "fallbacks_", 0)
        if index.root_id is None:
            return FindResult([], [], 0, self.strategy)
        frontier = [index.root_id]
        steps = 0
        while any(not index.is_leaf(t) for t in frontier):
            # Leaves reached earlier stay in the running against the next level's topics.
            candidates = [c for t in frontier for c in index.children[t]]
            candidates += [t for t in frontier if index.is_leaf(t)]
            topics = [index.topics[c] for c in dict.fromkeys(candidates)]
            ranked = self.ranker.rank(description, query, topics, index)
            frontier = [tid for tid, _ in ranked[: self.beam]]
            steps += 1
        leaf_of: dict[str, str] = {}
        for leaf in frontier:  # best leaf first: a paper in two beam leaves goes with the better
            for paper_id in index.direct[leaf]:
                leaf_of.setdefault(paper_id, leaf)
        scored = [
            (pid, float(index.paper_vec[pid] @ query)) for pid in leaf_of if pid in index.paper_vec
        ]
        scored.sort(key=lambda s: (-s[1], s[0]))
        hits = scored[:k]
        path = index.path(leaf_of[hits[0][0]]) if hits else index.path(frontier[0])
        fallbacks = getattr(self.ranker, "fallbacks_", 0) - fallbacks_before
        return FindResult(hits, path, steps, self.strategy, fallbacks)


@dataclass
class FlatFinder:
    """The baseline: one hybrid (vector + full-text) search over all papers."""

    search: Callable[[str, int], Ranked]
    strategy: str = field(default="flat", init=False)

    def find(self, description: str, k: int) -> FindResult:
        return FindResult(self.search(description, k), [], 1, self.strategy)
