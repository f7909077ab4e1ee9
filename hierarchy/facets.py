"""Facets: dimensions of a paper beyond its topic. Closed dimensions (contribution type,
modality/domain) come from a zero-shot classifier over the paper embeddings (similarity to
short prototype descriptions) or, when an LLM is configured, from the LLM, which also names
the open dimensions (research problem, technique)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from hierograph.graph.models import Facet, Paper
from hierograph.hierarchy.cluster import unit_rows

PROTOTYPES: dict[str, dict[str, list[str]]] = {
    "contribution": {
        "method": [
            "We propose a new method that outperforms prior approaches.",
            "We introduce a novel algorithm and training objective.",
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
        "text LLM": [
            "Large language models trained on text, instruction tuning and chat assistants.",
        ],
        "vision-language": [
            "Vision-language models for images and captions, visual question answering.",
        ],
        "multimodal": [
            "Multimodal models over images, video, audio and text together.",
        ],
        "speech": ["Speech recognition and spoken language audio models."],
        "other": [
            "Biological sequences, molecules, graphs, robotics or tabular data.",
        ],
    },
}
OPEN_DIMENSIONS = ("problem", "technique")
MIN_CALIBRATION = 10  # papers needed before per-value similarity means are meaningful

Contribution = Literal[
    "method",
    "benchmark or dataset",
    "analysis or empirical study",
    "survey",
    "position",
    "system or tool",
]
Modality = Literal["text LLM", "vision-language", "multimodal", "speech", "other"]


# Cues that settle a closed value outright; MiniLM embeddings capture a paper's subject far
# better than its genre, so "A Survey of …" must not be left to them.
TITLE_CUES: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "contribution": [
        ("survey", re.compile(r"\b(survey|review|overview)\b", re.I)),
        ("benchmark or dataset", re.compile(r"\b(benchmark\w*|dataset|corpus)\b", re.I)),
        ("system or tool", re.compile(r"\b(technical report|toolkit|library)\b", re.I)),
        ("position", re.compile(r"\b(position paper|why .* must|we argue)\b", re.I)),
    ],
}


class EmbeddingFacetClassifier:
    """Zero-shot: each value is the mean embedding of its prototype descriptions; a paper gets
    the value it is most similar to, scored by that cosine."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        prototypes: dict[str, dict[str, list[str]]] = PROTOTYPES,
    ) -> None:
        self.embed = embed
        self.prototypes = prototypes

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
        X = unit_rows(np.asarray(vectors, dtype=np.float32))
        facets = []
        for dimension, centroids in self.centroids_.items():
            sims = X @ centroids.T
            # One prototype tends to sit closer to every abstract (a hub); comparing each
            # paper with the collection's mean similarity per value removes that bias.
            relative = sims - sims.mean(axis=0) if len(X) >= MIN_CALIBRATION else sims
            for paper, row, rel in zip(papers, sims, relative, strict=True):
                cue = next(
                    (v for v, rx in TITLE_CUES.get(dimension, []) if rx.search(paper.title)), None
                )
                best = int(np.argmax(rel))
                facets.append(
                    Facet(
                        paper_id=paper.id,
                        dimension=dimension,
                        value=cue or self.values_[dimension][best],
                        score=1.0 if cue else round(float(row[best]), 6),
                        origin="rule" if cue else "embedding",
                    )
                )
        return facets


def facet_counts(
    facets: Sequence[Facet], paper_ids: set[str], dimension: str
) -> list[tuple[str, int]]:
    """(value, papers) among `paper_ids` for one dimension, most common first."""
    counts: dict[str, int] = {}
    for f in facets:
        if f.dimension == dimension and f.paper_id in paper_ids:
            counts[f.value] = counts.get(f.value, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
