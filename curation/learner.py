"""Where papers belong, learned from the people who placed them.

Every paper carries a leaf label: the leaf a human put it in (moved there or confirmed there,
weight `human_weight`), else the leaf the clustering put it in (weight 1). Two learners score
each paper against every leaf from those labels, each paper predicted *without its own label*
so that a paper's own clustered leaf does not vote for itself:

- `knn` (label propagation, one step over the paper kNN graph): a leaf's score is the summed
  cosine-weighted label weight of the paper's k nearest labelled neighbours;
- `classifier`: a multinomial logistic regression on the embeddings, cross-fitted (5 folds).

A reviewer's moves out of a mixed leaf teach it that papers like those belong elsewhere, and
their confirmations that papers like those stay; the learner carries that to the papers nobody
reviewed. Raw scores are mapped to probabilities by a Platt fit on the reviewed papers (each
predicted as if unreviewed: does the leaf hold the paper where the human put it?), so that a
proposal's probability says how often such a proposal is right; `calibration` reports how well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

Method = Literal["knn", "classifier"]
MIN_CALIBRATION = 8  # reviewed papers below which raw scores stand in for probabilities


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


@dataclass
class Labels:
    """The training view: paper ids, their unit embeddings, their leaf and its weight."""

    papers: list[str]
    vectors: np.ndarray
    leaf: list[str]
    weight: np.ndarray
    human: np.ndarray  # bool per paper: the leaf is a human's word


@dataclass
class Calibration:
    """Platt scaling of raw leaf scores, fitted on reviewed papers; `points` are the (raw score,
    was right) pairs it was fitted on, kept for the reliability report."""

    a: float = 1.0
    b: float = 0.0
    fitted: bool = False
    points: list[tuple[float, int]] = field(default_factory=list)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if not self.fitted:
            return np.clip(raw, 0.0, 1.0)
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class PlacementLearner:
    """`fit(labels)` then `scores()`: per paper, a probability for every leaf."""

    def __init__(
        self,
        method: Method = "knn",
        human_weight: float = 5.0,
        k: int = 15,
        seed: int = 0,
        rounds: int = 3,
    ) -> None:
        self.method = method
        self.rounds = rounds
        self.human_weight = human_weight
        self.k = k
        self.seed = seed

    def fit(self, labels: Labels) -> PlacementLearner:
        self.labels_ = labels
        self.leaves_ = sorted(set(labels.leaf))
        self.col_ = {t: j for j, t in enumerate(self.leaves_)}
        y = np.array([self.col_[t] for t in labels.leaf])
        raw = self._knn(labels, y) if self.method == "knn" else self._classifier(labels, y)
        self.raw_ = raw
        self.calibration_ = self._calibrate(raw, y, labels.human)
        self.proba_ = self.calibration_(raw)
        return self

    def _knn(self, labels: Labels, y: np.ndarray) -> np.ndarray:
        """Label propagation over the kNN graph: each round, a paper's scores are the
        similarity- and weight-weighted labels of its neighbours, where a human's paper shows
        its human leaf and any other paper its clustered leaf mixed half and half with its own
        scores of the round before, so a human's word travels along chains of similar papers."""
        sims = labels.vectors @ labels.vectors.T
        np.fill_diagonal(sims, -np.inf)  # a paper's own label never votes for itself
        k = min(self.k, len(y) - 1)
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        rows = np.repeat(np.arange(len(y)), k)
        cols = near.ravel()
        edge = np.clip(sims[rows, cols], 0.0, None) * labels.weight[cols]
        onehot = np.zeros((len(y), len(self.leaves_)))
        onehot[np.arange(len(y)), y] = 1.0
        shown = onehot
        for _ in range(self.rounds):
            out = np.zeros_like(onehot)
            np.add.at(out, rows, edge[:, None] * shown[cols])
            total = out.sum(axis=1, keepdims=True)
            out = np.divide(out, total, out=np.full_like(out, 1 / out.shape[1]), where=total > 0)
            mixed = 0.5 * onehot + 0.5 * out
            shown = np.where(labels.human[:, None], onehot, mixed)
        return out

    def _classifier(self, labels: Labels, y: np.ndarray) -> np.ndarray:
        out = np.zeros((len(y), len(self.leaves_)))
        folds = KFold(n_splits=min(5, len(y)), shuffle=True, random_state=self.seed)
        for train, test in folds.split(labels.vectors):
            model = LogisticRegression(C=10.0, max_iter=300)
            model.fit(labels.vectors[train], y[train], sample_weight=labels.weight[train])
            out[np.ix_(test, model.classes_)] = model.predict_proba(labels.vectors[test])
        return out

    def _calibrate(self, raw: np.ndarray, y: np.ndarray, human: np.ndarray) -> Calibration:
        """Each reviewed paper gives two points: its best-scored leaf and the leaf the human
        chose, each with its raw score and whether it is the human's leaf."""
        points: list[tuple[float, int]] = []
        for i in np.flatnonzero(human):
            top = int(np.argmax(raw[i]))
            points.append((float(raw[i, top]), int(top == y[i])))
            if top != y[i]:
                points.append((float(raw[i, y[i]]), 1))
        cal = Calibration(points=points)
        outcomes = {o for _, o in points}
        if len(points) < MIN_CALIBRATION or outcomes != {0, 1}:
            return cal
        x = _logit(np.array([s for s, _ in points]))[:, None]
        fit = LogisticRegression(C=1.0).fit(x, np.array([o for _, o in points]))
        cal.a, cal.b, cal.fitted = float(fit.coef_[0, 0]), float(fit.intercept_[0]), True
        return cal

    def proba(self, paper: str) -> dict[str, float]:
        i = self._row(paper)
        return {t: float(self.proba_[i, j]) for j, t in enumerate(self.leaves_)}

    def best(self, paper: str) -> tuple[str, float]:
        i = self._row(paper)
        j = int(np.argmax(self.raw_[i]))
        return self.leaves_[j], float(self.proba_[i, j])

    def of(self, paper: str, leaf: str) -> float:
        j = self.col_.get(leaf)
        return 0.0 if j is None else float(self.proba_[self._row(paper), j])

    def _row(self, paper: str) -> int:
        if not hasattr(self, "_index"):
            self._index = {p: i for i, p in enumerate(self.labels_.papers)}
        return self._index[paper]


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
