"""Where papers belong, learned from the people who placed them: a pairwise "does this paper
belong in this leaf" classifier (after CHIME, Hsu et al. 2024), trained only on human word.

Each reviewed paper - moved somewhere by a person, or confirmed where it was - is a training
example, seen as it was before the review: its candidate leaves are the leaf the clustering had
put it in, the leaves people placed its nearest reviewed neighbours in, and the leaves whose
centroids are nearest; the candidate is right when it is where the person put it. Features of a
(paper, leaf) pair (`PAIR_FEATURES`): the similarity-weighted vote for the leaf among the
paper's nearest reviewed papers, the closest reviewed paper placed there, the cosine to the
leaf's centroid (leave-one-out), whether it is the paper's own leaf, and that own leaf's
centroid cosine and vote. A logistic regression on those rows gives, for a paper nobody
reviewed, the probability that each candidate leaf is right; because it is fitted on exactly
such pairs (each reviewed paper described without its own placement), that probability is
calibrated by construction, and `reliability` reports how well (ECE, Brier, bins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

PAIR_FEATURES = (
    "vote",
    "nearest_reviewed_sim",
    "centroid_cos",
    "is_own_leaf",
    "own_centroid_cos",
    "own_vote",
    "moved_from_own_here",
)
MIN_REVIEWED = 4  # fewer reviewed papers than this: nothing to learn from


@dataclass
class Placements:
    """Paper ids with unit embeddings; each paper's leaf now (`leaf`), the leaf before any
    human touched it (`before`), and for reviewed papers the leaf a person chose (`human`)."""

    papers: list[str]
    vectors: np.ndarray
    leaf: list[str]
    before: list[str]
    human: dict[str, str]


class PairwiseCorrector:
    """`fit(placements)`, then `scores(paper)`: candidate leaf → probability it is right."""

    def __init__(self, k: int = 10, candidates: int = 3, seed: int = 0) -> None:
        self.k = k
        self.candidates = candidates
        self.seed = seed

    def fit(self, data: Placements) -> PairwiseCorrector:
        self.data_ = data
        self.index_ = {p: i for i, p in enumerate(data.papers)}
        self.leaves_ = sorted(set(data.leaf) | set(data.before))
        col = {t: j for j, t in enumerate(self.leaves_)}
        members = np.zeros((len(data.papers), len(self.leaves_)), dtype=np.float32)
        members[np.arange(len(data.papers)), [col[t] for t in data.leaf]] = 1.0
        self.col_ = col
        self.members_ = members
        self.sums_ = members.T @ data.vectors  # leaf → sum of member vectors
        self.counts_ = members.sum(axis=0)
        self.reviewed_ = np.array([self.index_[p] for p in sorted(data.human)], dtype=int)
        self.model_: Pipeline | None = None
        self.points_: list[tuple[float, int]] = []
        self.move_points_: list[tuple[float, int]] = []  # held out, leaves other than the own
        if len(self.reviewed_) < MIN_REVIEWED:
            return self
        rows, labels, groups = [], [], []
        for i in self.reviewed_:
            paper = data.papers[i]
            for leaf, feats in self._pairs(i).items():
                rows.append(feats)
                labels.append(int(leaf == data.human[paper]))
                groups.append(i)
        y = np.array(labels)
        if len(set(y.tolist())) < 2:
            return self
        X = np.array(rows)
        self.model_ = logistic().fit(X, y)
        # Calibration points: each reviewed paper's rows scored by a model fitted without it.
        self.points_ = self._held_out_points(X, y, np.array(groups))
        return self

    def _held_out_points(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> list:
        points, probs, test = held_out_probabilities(X, y, groups, self.seed)
        other = X[test][:, PAIR_FEATURES.index("is_own_leaf")] == 0
        self.move_points_ += [
            (float(p), int(o)) for p, o, m in zip(probs, y[test], other, strict=True) if m
        ]
        return points

    def move_floor(self, threshold: float, least: int = 5) -> float | None:
        """The least probability at which a move is trusted: the smallest p such that, of the
        held-out rows for leaves other than a paper's own scored at p or above, at least
        `threshold` were right (and at least `least` such rows). None: no move is trusted."""
        ranked = sorted(self.move_points_, reverse=True)
        right, floor = 0, None
        for n, (p, o) in enumerate(ranked, start=1):
            right += o
            if n >= least and right / n >= threshold:
                floor = p
        return floor

    def _pairs(self, i: int) -> dict[str, list[float]]:
        """Candidate leaf → features for paper row `i`, as it was before any review, without
        its own human placement."""
        data = self.data_
        x = data.vectors[i]
        own = data.before[i]
        others = self.reviewed_[self.reviewed_ != i]
        votes: dict[str, float] = {}
        nearest: dict[str, float] = {}
        if len(others):
            sims = data.vectors[others] @ x
            top = np.argsort(-sims, kind="stable")[: self.k]
            total = float(np.clip(sims[top], 0, None).sum()) or 1.0
            for j in top:
                leaf = data.human[data.papers[others[j]]]
                votes[leaf] = votes.get(leaf, 0.0) + max(float(sims[j]), 0.0) / total
            for j, s in zip(others, sims, strict=True):
                leaf = data.human[data.papers[j]]
                nearest[leaf] = max(nearest.get(leaf, -1.0), float(s))
        # Reviewed papers that sat in the same leaf as this one: where did people put them?
        # (A mixed leaf: the ones like this paper went there, or stayed.)
        same_leaf: dict[str, float] = {}
        for j in others:
            if data.before[j] == own:
                leaf = data.human[data.papers[j]]
                s = max(float(data.vectors[j] @ x), 0.0)
                same_leaf[leaf] = max(same_leaf.get(leaf, 0.0), s)
        cos = self._centroid_cos(i)
        by_centroid = [self.leaves_[j] for j in np.argsort(-cos, kind="stable")[: self.candidates]]
        candidates = {own, *votes, *by_centroid, *same_leaf}
        own_cos = float(cos[self.col_[own]])
        return {
            leaf: [
                votes.get(leaf, 0.0),
                nearest.get(leaf, 0.0),
                float(cos[self.col_[leaf]]),
                float(leaf == own),
                own_cos,
                votes.get(own, 0.0),
                same_leaf.get(leaf, 0.0),
            ]
            for leaf in sorted(candidates)
        }

    def _centroid_cos(self, i: int) -> np.ndarray:
        """Cosine of paper `i` to every leaf centroid, the paper itself taken out of its leaf."""
        sums = self.sums_ - self.members_[i][:, None] * self.data_.vectors[i][None, :]
        norms = np.linalg.norm(sums, axis=1)
        return np.divide(
            sums @ self.data_.vectors[i], norms, out=np.zeros(len(norms)), where=norms > 1e-6
        )

    def scores(self, paper: str) -> dict[str, float]:
        """Candidate leaf → calibrated probability that `paper` belongs there (empty when
        nothing was learned yet)."""
        if self.model_ is None:
            return {}
        pairs = self._pairs(self.index_[paper])
        probs = self.model_.predict_proba(np.array(list(pairs.values())))[:, 1]
        return dict(zip(pairs, probs.tolist(), strict=True))


def reliability(pairs: list[tuple[float, int]], bins: int = 5) -> dict[str, object]:
    """Calibration of (probability, outcome) pairs: expected calibration error, Brier score and
    the per-bin table (mean probability, share right, count)."""
    if not pairs:
        return {"n": 0, "ece": None, "brier": None, "bins": []}
    p = np.array([x for x, _ in pairs])
    o = np.array([y for _, y in pairs], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (p >= lo) & ((p < hi) | (hi == 1.0))
        if inside.any():
            gap = abs(p[inside].mean() - o[inside].mean())
            ece += inside.mean() * gap
            table.append(
                {
                    "from": round(float(lo), 2),
                    "to": round(float(hi), 2),
                    "mean_p": round(float(p[inside].mean()), 3),
                    "right": round(float(o[inside].mean()), 3),
                    "n": int(inside.sum()),
                }
            )
    brier = float(np.mean((p - o) ** 2))
    return {"n": len(pairs), "ece": round(float(ece), 4), "brier": round(brier, 4), "bins": table}


def logistic() -> Pipeline:
    """The corrector's classifiers: standardized features, L2 logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))


def held_out_probabilities(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[list[tuple[float, int]], list[float], np.ndarray]:
    """Each group's rows (a reviewed paper's) scored by a model fitted without that group, in
    5 folds: (probability, outcome) points for calibration, plus the probabilities and the
    row mask of the rows scored, in row order."""
    points: list[tuple[float, int]] = []
    scored = np.zeros(len(y), dtype=bool)
    probs = np.zeros(len(y))
    folds = np.array_split(np.random.default_rng(seed).permutation(np.unique(groups)), 5)
    for fold in folds:
        test = np.isin(groups, fold)
        if test.all() or len(set(y[~test].tolist())) < 2:
            continue
        probs[test] = logistic().fit(X[~test], y[~test]).predict_proba(X[test])[:, 1]
        scored |= test
        points += [(float(p), int(o)) for p, o in zip(probs[test], y[test], strict=True)]
    return points, probs[scored].tolist(), scored
