"""Recursive splitting of the embedding space into a topic tree (structure only, no labels)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    KMeansSplitter,
    UmapReducer,
    absorb_small,
    unit_rows,
)

# Noise points get their nearest cluster but a score scaled down by this, so they rank last.
NOISE_SCORE_FACTOR = 0.5


@dataclass
class Node:
    members: list[int]  # row indices into the embedding matrix
    children: list[Node] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)  # leaves: member → assignment score

    def leaves(self) -> list[Node]:
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]

    def walk(self) -> list[tuple[Node, Node | None, int]]:
        """(node, parent, level) in breadth-first order, root first."""
        out: list[tuple[Node, Node | None, int]] = [(self, None, 0)]
        for node, _, level in out:
            out.extend((child, node, level + 1) for child in node.children)
        return out


def content_id(paper_ids: Sequence[str]) -> str:
    """Same papers → same id, so a rebuild over the same data keeps every topic id."""
    return "t" + hashlib.sha1("\n".join(sorted(paper_ids)).encode()).hexdigest()[:12]


class TreeBuilder:
    """Density clustering (UMAP + HDBSCAN) per node, k-means where density finds no split,
    recursing until topics are small enough or deep enough."""

    def __init__(
        self,
        reducer: UmapReducer,
        clusterer: HdbscanClusterer,
        fallback: KMeansSplitter,
        min_depth: int = 2,
        max_depth: int = 4,
        min_leaf_size: int = 3,
        max_leaf_size: int = 12,
        max_branching: int = 12,
    ) -> None:
        self.reducer = reducer
        self.clusterer = clusterer
        self.fallback = fallback
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.min_leaf_size = min_leaf_size
        self.max_leaf_size = max_leaf_size
        self.max_branching = max_branching

    def fit(self, X: np.ndarray, on_leaf: Callable[[int], None] | None = None) -> TreeBuilder:
        self.X_ = unit_rows(np.asarray(X, dtype=np.float32))
        self._on_leaf = on_leaf or (lambda n: None)
        # Whether each point was HDBSCAN noise in the split that formed its current group;
        # groups are disjoint, so deeper splits only overwrite their own members.
        self._noise: dict[int, bool] = {}
        self.root_ = self._grow(list(range(len(X))), depth=0)
        return self

    def _wants_split(self, size: int, depth: int) -> bool:
        if depth >= self.max_depth or size < 2 * self.min_leaf_size:
            return False
        return size > self.max_leaf_size or depth < self.min_depth

    def _grow(self, members: list[int], depth: int) -> Node:
        node = Node(members=members)
        groups = self._split(members) if self._wants_split(len(members), depth) else []
        if len(groups) < 2:
            node.scores = self._scores(members)
            self._on_leaf(len(members))
            return node
        node.children = [self._grow(g.members, depth + 1) for g in groups]
        return node

    def _split(self, members: list[int]) -> list[Node]:
        X = self.X_[members]
        raw, _ = self.clusterer.fit_predict(self.reducer.fit_transform(X))
        labels = absorb_small(X, np.asarray(raw), self.min_leaf_size)
        if len(set(labels)) < 2:  # density found no usable split: fixed-k fallback
            raw, _ = self.fallback.fit_predict(X)
            labels = absorb_small(X, np.asarray(raw), self.min_leaf_size)
        self._noise.update({m: bool(lab == -1) for m, lab in zip(members, raw, strict=True)})
        groups = [[members[i] for i in np.flatnonzero(labels == c)] for c in sorted(set(labels))]
        # Order children by size, then by first member, so output order is deterministic.
        groups.sort(key=lambda g: (-len(g), g[0]))
        return [Node(members=g) for g in groups[: self.max_branching]] + self._overflow(groups)

    def _overflow(self, groups: list[list[int]]) -> list[Node]:
        """Beyond max_branching the smallest groups are merged into one 'other' child."""
        rest = [m for g in groups[self.max_branching :] for m in g]
        return [Node(members=sorted(rest))] if rest else []

    def _scores(self, members: list[int]) -> dict[int, float]:
        """Cosine to the leaf centroid; points that were noise score lower, so they rank last."""
        X = self.X_[members]
        centroid = unit_rows(X.mean(axis=0, keepdims=True))[0]
        sims = np.clip(X @ centroid, 0.0, 1.0)
        return {
            m: float(s) * (NOISE_SCORE_FACTOR if self._noise.get(m) else 1.0)
            for m, s in zip(members, sims, strict=True)
        }
