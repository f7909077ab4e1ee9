"""Is this clustered placement right? A classifier over one paper-in-leaf placement, trained on
what reviewers did with the placements they looked at (kept or confirmed: right; moved away or
taken out: wrong), that the corrector uses to take unlikely second topics off the papers nobody
reviewed.

The reviewer's moves do not carry over to unreviewed papers on the development sets (the
nearest reviewed paper's leaf is right for an unreviewed paper less often than the paper's own
leaf; docs/corrections.md), but their removals do: a clustered second topic is right less
often than a main one, and how often depends on the placement's geometry. Features of a
placement (`PLACEMENT_FEATURES`): whether it is the paper's second (or later) topic, its
clustering score and that score over the paper's best, the cosine to the leaf's centroid (the
paper itself left out), its margin over the nearest other leaf, and the share of the paper's
nearest papers clustered in that leaf. Leaves are described as the clustering made them (each
paper in its leaf before any human touched it), so a reviewed placement and an unreviewed one
are seen alike. The probability is fitted on exactly such rows, so it is calibrated by
construction; `points_` holds held-out (probability, outcome) pairs for `reliability`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

from hierograph.curation.learner import (
    MIN_REVIEWED,
    Placements,
    held_out_probabilities,
    logistic,
)

PLACEMENT_FEATURES = (
    "secondary",
    "score",
    "score_ratio",
    "centroid_cos",
    "margin",
    "neighbour_share",
)
NEIGHBOURS = 10
_CHUNK = 1024  # rows of the similarity matrix at a time (a 9,000-paper corpus fits in memory)


@dataclass(frozen=True)
class Placement:
    """One clustered paper-in-leaf placement as the clustering made it: its score, whether it
    was the paper's best, and what a person did with it (1 kept, 0 took away, None: unseen)."""

    paper: str
    leaf: str
    score: float
    best_score: float
    kept: int | None = None


class PlacementModel:
    """`fit(data, placements)`, then `probability(placement)`: the chance it is right."""

    def __init__(self, k: int = NEIGHBOURS, seed: int = 0) -> None:
        self.k = k
        self.seed = seed

    def fit(self, data: Placements, placements: list[Placement]) -> PlacementModel:
        self.data_ = data
        self.index_ = {p: i for i, p in enumerate(data.papers)}
        self.col_ = {t: j for j, t in enumerate(sorted(set(data.before) | set(data.leaf)))}
        members = np.zeros((len(data.papers), len(self.col_)), dtype=np.float32)
        members[np.arange(len(data.papers)), [self.col_[t] for t in data.before]] = 1.0
        self.members_ = members
        self.sums_ = members.T @ data.vectors
        self.neighbours_ = _nearest(data.vectors, self.k)
        self.model_: Pipeline | None = None
        self.points_: list[tuple[float, int]] = []
        seen = [p for p in placements if p.kept is not None and p.paper in self.index_]
        if len({p.paper for p in seen}) < MIN_REVIEWED:
            return self
        X = np.array([self.features(p) for p in seen])
        y = np.array([p.kept for p in seen])
        if len(set(y.tolist())) < 2:
            return self
        self.model_ = logistic().fit(X, y)
        self.points_ = self._held_out(X, y, np.array([self.index_[p.paper] for p in seen]))
        return self

    def features(self, placement: Placement) -> list[float]:
        i = self.index_[placement.paper]
        x = self.data_.vectors[i]
        sums = self.sums_ - self.members_[i][:, None] * x[None, :]
        norms = np.linalg.norm(sums, axis=1)
        cos = np.divide(sums @ x, norms, out=np.zeros(len(norms)), where=norms > 1e-6)
        j = self.col_.get(placement.leaf)
        if j is None:  # a leaf people made after the clustering: nothing clustered there
            return [1.0, placement.score, 1.0, 0.0, -1.0, 0.0]
        other = float(np.max(np.delete(cos, j))) if len(cos) > 1 else 0.0
        return [
            float(placement.score < placement.best_score),
            placement.score,
            placement.score / placement.best_score if placement.best_score > 0 else 1.0,
            float(cos[j]),
            float(cos[j]) - other,
            float(self.members_[self.neighbours_[i], j].mean()),
        ]

    def probability(self, placement: Placement) -> float | None:
        """Calibrated probability that the placement is right; None before anything is learned."""
        if self.model_ is None or placement.paper not in self.index_:
            return None
        return float(self.model_.predict_proba(np.array([self.features(placement)]))[0, 1])

    def _held_out(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> list:
        """Each reviewed paper's placements scored by a model fitted without that paper."""
        return held_out_probabilities(X, y, groups, self.seed)[0]


def _nearest(vectors: np.ndarray, k: int) -> np.ndarray:
    """Row i: the indices of paper i's k nearest other papers (cosine; unit vectors)."""
    k = max(1, min(k, len(vectors) - 1))
    out = np.zeros((len(vectors), k), dtype=int)
    for start in range(0, len(vectors), _CHUNK):
        sims = vectors[start : start + _CHUNK] @ vectors.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        out[start : start + _CHUNK] = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return out
