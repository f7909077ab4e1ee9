"""Facets: dimensions of a paper beyond its topic. Closed dimensions (contribution type,
modality/domain) come from a zero-shot classifier over the paper embeddings (similarity to
short prototype descriptions) or, when an LLM is configured, from the LLM, which also names
the open dimensions (research problem, technique)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np

from hierograph.graph.models import Facet, Paper
from hierograph.hierarchy.cluster import unit_rows
from hierograph.hierarchy.facet_cues import DECIDERS, cue_scores

PROTOTYPES: dict[str, dict[str, list[str]]] = {
    "contribution": {
        "method": [
            "We propose a new method that outperforms prior approaches.",
            "We introduce a novel algorithm, model architecture and training objective.",
        ],
        "benchmark or dataset": [
            "We introduce a new benchmark to evaluate models.",
            "We release a large dataset with human annotations.",
        ],
        "analysis or empirical study": [
            "We analyze and empirically study the behaviour of existing models.",
            "Our experiments reveal why and when this phenomenon happens.",
        ],
        "survey": [
            "This survey reviews the literature and categorizes existing work.",
            "A comprehensive overview of recent research and open challenges.",
        ],
        "position": [
            "We argue that the community should rethink its assumptions.",
            "This position paper calls for a change in research priorities.",
        ],
        "system or tool": [
            "We present an open-source system, toolkit or library.",
            "A technical report describing a deployed model family and its infrastructure.",
        ],
    },
    "modality": {
        "text": [
            "Large language models trained on text, instruction tuning and chat assistants.",
            "Natural language processing of sentences and documents.",
        ],
        "vision": [
            "Computer vision: images, video, object detection and segmentation.",
            "Image generation with diffusion models.",
        ],
        "vision-language": [
            "Vision-language models for images and captions, visual question answering.",
            "Multimodal large language models that read images and text.",
        ],
        "speech": [
            "Automatic speech recognition and spoken language audio models.",
            "Speech synthesis, audio and music generation.",
        ],
        "other": [
            "Robots acting in the physical world: manipulation, locomotion and navigation.",
            "Biological sequences, molecules, graphs, time series or tabular data.",
        ],
    },
}
OPEN_DIMENSIONS = ("problem", "technique")
MIN_CALIBRATION = 10  # papers needed before per-value similarity means are meaningful
# How far the embedding classifier's best value must lead the second (calibrated cosine) to
# count. On the arXiv benchmark (bench/bench_facets.py) its modality calls for papers the cues
# leave undecided were right 3 times in 11 (below chance among five values), so the prototypes
# never decide modality: no lead is enough.
MIN_MARGIN = {"contribution": 0.04, "modality": math.inf}
# Modality follows a paper's topic, so a paper the cues leave undecided asks its nearest
# rule-decided papers instead (neighbour_votes). On the benchmark's tuning half (with the cues
# of before the vote), 10 neighbours and a 0.8 majority answered 9 more of its 250 papers, all
# right; a 0.6 majority answered 4 more than that, 2 of them wrong. Genre (contribution) does
# not follow topic: no votes.
NEIGHBOUR_VOTE = {"modality"}
NEIGHBOURS = 10
MIN_NEIGHBOUR_SHARE = 0.8
MIN_NEIGHBOUR_PAPERS = 50  # fewer rule-decided papers: too few neighbours to ask

Contribution = Literal[
    "method",
    "benchmark or dataset",
    "analysis or empirical study",
    "survey",
    "position",
    "system or tool",
]
Modality = Literal["text", "vision", "vision-language", "speech", "other"]


class EmbeddingFacetClassifier:
    """Cue rules first (facet_cues.py: what the title and abstract say outright), then the
    zero-shot embedding classifier: each value is the mean embedding of its prototype
    descriptions, calibrated per value. A paper whose evidence is weak or tied gets no value
    for that dimension ("unknown"), never a guess."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        prototypes: dict[str, dict[str, list[str]]] = PROTOTYPES,
        min_margin: dict[str, float] | None = None,
    ) -> None:
        self.embed = embed
        self.prototypes = prototypes
        self.min_margin = min_margin or MIN_MARGIN

    def fit(self) -> EmbeddingFacetClassifier:
        self.values_: dict[str, list[str]] = {}
        self.centroids_: dict[str, np.ndarray] = {}
        for dimension, values in self.prototypes.items():
            names = list(values)
            vecs = [unit_rows(self.embed(values[n])).mean(axis=0) for n in names]
            self.values_[dimension] = names
            self.centroids_[dimension] = unit_rows(np.stack(vecs))
        return self

    def predict(self, papers: Iterable[Paper], vectors: np.ndarray) -> list[Facet]:
        """At most one facet per paper and dimension; none where the classifier is unsure.
        `papers` (row i is paper i of `vectors`) are read in one pass, so a store-backed
        stream (graph.paper_source) is never held whole; facets come dimension by dimension."""
        X = unit_rows(np.asarray(vectors, dtype=np.float32))
        sims: dict[str, np.ndarray] = {}
        relative: dict[str, np.ndarray] = {}
        for dimension, centroids in self.centroids_.items():
            sims[dimension] = X @ centroids.T
            # One prototype tends to sit closer to every abstract (a hub); comparing each
            # paper with the collection's mean similarity per value removes that bias.
            relative[dimension] = (
                sims[dimension] - sims[dimension].mean(axis=0)
                if len(X) >= MIN_CALIBRATION
                else sims[dimension]
            )
        paper_ids: list[str] = []
        decided: dict[str, list[Facet | None]] = {d: [] for d in self.centroids_}
        for row, paper in enumerate(papers):
            if row >= len(X):
                raise ValueError(f"more papers than vectors ({len(X)})")
            paper_ids.append(paper.id)
            for dimension, out in decided.items():
                out.append(
                    self._decide(dimension, paper, sims[dimension][row], relative[dimension][row])
                )
        if len(paper_ids) != len(X):
            raise ValueError(f"{len(paper_ids)} papers for {len(X)} vectors")
        facets = []
        for dimension, found in decided.items():
            names = self.values_[dimension]
            if dimension in NEIGHBOUR_VOTE:
                found = neighbour_votes(paper_ids, X, found, dimension, names)
            facets.extend(f for f in found if f is not None and f.value in names)
        return facets

    def _decide(
        self, dimension: str, paper: Paper, row: np.ndarray, rel: np.ndarray
    ) -> Facet | None:
        names = self.values_[dimension]
        cues = cue_scores(dimension, paper.title, paper.abstract)
        decided = DECIDERS[dimension](cues) if dimension in DECIDERS else None
        if decided is not None:
            value, confidence = decided
            return Facet(
                paper_id=paper.id,
                dimension=dimension,
                value=value,
                score=round(confidence, 6),
                origin="rule",
            )
        order = np.argsort(-rel)
        best, second = int(order[0]), int(order[1])
        if rel[best] - rel[second] < self.min_margin.get(dimension, 0.04):
            return None
        return Facet(
            paper_id=paper.id,
            dimension=dimension,
            value=names[best],
            score=round(float(row[best]), 6),
            origin="embedding",
        )


def neighbour_votes(
    paper_ids: Sequence[str],
    X: np.ndarray,
    decided: list[Facet | None],
    dimension: str,
    values: Sequence[str],
    k: int = NEIGHBOURS,
    min_share: float = MIN_NEIGHBOUR_SHARE,
) -> list[Facet | None]:
    """Papers the cues left undecided take the value of their `k` nearest rule-decided papers
    (cosine-weighted) when at least `min_share` of the votes agree, else stay unknown: what a
    paper works on follows its topic, and its topic neighbours said it outright. Rule facets
    with a value outside `values` (a paper on several modalities) neither vote nor get one.
    Rule decisions are not second-guessed: on the benchmark, votes against weak ones removed
    more right answers than wrong ones (neighbours favour the common values: a speech paper's
    neighbours are mostly text papers)."""
    voters = [
        i
        for i, f in enumerate(decided)
        if f is not None and f.origin == "rule" and f.value in values
    ]
    asked = [i for i, f in enumerate(decided) if f is None]
    if len(voters) < MIN_NEIGHBOUR_PAPERS or not asked:
        return decided
    names = sorted({decided[i].value for i in voters})  # type: ignore[union-attr]
    labels = np.array([names.index(decided[i].value) for i in voters])  # type: ignore[union-attr]
    reference = X[voters]
    k = min(k, len(voters))
    out = list(decided)
    # Blocks of 2048 papers: the block's shape is part of the answer (BLAS rounds a product
    # of another shape differently, in the last bit), so it stays; the k most similar are
    # picked a few rows at a time (_top_k), which is exact.
    for start in range(0, len(asked), 2048):
        rows = asked[start : start + 2048]
        sims = X[rows] @ reference.T
        top = _top_k(sims, k)
        weights = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None)
        votes = np.zeros((len(rows), len(names)))
        np.add.at(votes, (np.arange(len(rows))[:, None], labels[top]), weights)
        total = votes.sum(axis=1)
        best = votes.argmax(axis=1)
        share = votes[np.arange(len(rows)), best] / np.maximum(total, 1e-12)
        for r in np.flatnonzero((total > 0) & (share >= min_share)):
            out[rows[r]] = Facet(
                paper_id=paper_ids[rows[r]],
                dimension=dimension,
                value=names[int(best[r])],
                score=round(float(share[r]), 6),
                origin="embedding",
            )
    return out


def _top_k(sims: np.ndarray, k: int, rows: int = 64) -> np.ndarray:
    """`np.argpartition(sims, -k, axis=1)[:, -k:]`, `rows` rows at a time: each row is
    partitioned on its own, so the answer is the same, without the index array of the whole
    block (8 bytes per similarity: 0.8 GB for 2,048 papers × 50,000 voters) and its copy."""
    top = np.empty((len(sims), k), dtype=np.intp)
    for start in range(0, len(sims), rows):
        top[start : start + rows] = np.argpartition(sims[start : start + rows], -k, axis=1)[:, -k:]
    return top


def facet_counts(
    facets: Sequence[Facet], paper_ids: set[str], dimension: str
) -> list[tuple[str, int]]:
    """(value, papers) among `paper_ids` for one dimension, most common first."""
    counts: dict[str, int] = {}
    for f in facets:
        if f.dimension == dimension and f.paper_id in paper_ids:
            counts[f.value] = counts.get(f.value, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
