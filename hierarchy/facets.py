"""Facets: dimensions of a paper beyond its topic. Closed dimensions (contribution type,
modality/domain) come from a zero-shot classifier over the paper embeddings (similarity to
short prototype descriptions) or, when an LLM is configured, from the LLM, which also names
the open dimensions (research problem, technique)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
# leave undecided were right 3 times in 11 (below chance among five values), so modality
# comes from the cues alone: no lead is enough (unknown rather than a guess).
MIN_MARGIN = {"contribution": 0.04, "modality": math.inf}

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

    def predict(self, papers: Sequence[Paper], vectors: np.ndarray) -> list[Facet]:
        """At most one facet per paper and dimension; none where the classifier is unsure."""
        X = unit_rows(np.asarray(vectors, dtype=np.float32))
        facets = []
        for dimension, centroids in self.centroids_.items():
            sims = X @ centroids.T
            # One prototype tends to sit closer to every abstract (a hub); comparing each
            # paper with the collection's mean similarity per value removes that bias.
            relative = sims - sims.mean(axis=0) if len(X) >= MIN_CALIBRATION else sims
            for paper, row, rel in zip(papers, sims, relative, strict=True):
                facet = self._decide(dimension, paper, row, rel)
                if facet is not None:
                    facets.append(facet)
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


def facet_counts(
    facets: Sequence[Facet], paper_ids: set[str], dimension: str
) -> list[tuple[str, int]]:
    """(value, papers) among `paper_ids` for one dimension, most common first."""
    counts: dict[str, int] = {}
    for f in facets:
        if f.dimension == dimension and f.paper_id in paper_ids:
            counts[f.value] = counts.get(f.value, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
