"""Recursive splitting of the embedding space into a topic tree (structure only, no labels)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    KMeansSplitter,
    UmapReducer,
    absorb_small,
    unit_rows,
)

if TYPE_CHECKING:
    from hierograph.hierarchy.executor import Executor

# Noise points get their nearest cluster but a score scaled down by this, so they rank last.
NOISE_SCORE_FACTOR = 0.5


@dataclass
class Node:
    # Row indices into the embedding matrix, ascending (every split keeps its parent's order).
    members: list[int]
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


@dataclass
class Guide:
    """A topic of the previous tree: the rows (of the new matrix) it held, and its subtopics."""

    members: set[int]
    children: list[Guide] = field(default_factory=list)


def restrict_guide(guide: Guide, rows: dict[int, int]) -> Guide:
    """The guide over a subset of rows, renumbered by `rows` (old row → new row); topics left
    with no rows are dropped, as a guided split skips them anyway."""
    return Guide(
        members={rows[m] for m in guide.members if m in rows},
        children=[
            restrict_guide(c, rows) for c in guide.children if any(m in rows for m in c.members)
        ],
    )


@dataclass
class SubtreeTask:
    """What a worker needs to grow one subtree: its rows of the (unit-length) embedding matrix
    in member order, the members' global row indices, their noise flags from the split that
    formed the group, and the old topic it grew from, renumbered to local rows."""

    rows: np.ndarray
    members: list[int]
    depth: int
    noise: list[bool]
    guide: Guide | None = None
    reduced: np.ndarray | None = None  # the members' rows of the global reduction, if any


@dataclass
class SubtreeResult:
    node: Node  # global row indices, leaf scores filled in
    noise: dict[int, bool]


def grow_subtree(builder: TreeBuilder, task: SubtreeTask) -> SubtreeResult:
    """Runs in a worker: the subtree grown exactly as the serial recursion would grow it.
    Local rows 0…n-1 stand for the members; members are ascending, so local and global order
    agree and every order-based tie-break gives the same tree."""
    builder = copy.copy(builder)  # settings only (see __getstate__); the caller's stays as is
    builder.X_ = task.rows
    builder.R_ = task.reduced
    builder._on_leaf = lambda n: None
    builder._noise = dict(enumerate(task.noise))
    builder._executor = None
    node = builder._grow(list(range(len(task.members))), task.depth, task.guide)
    glob = task.members
    for sub, _, _ in node.walk():
        sub.members = [glob[i] for i in sub.members]
        sub.scores = {glob[i]: s for i, s in sub.scores.items()}
    return SubtreeResult(node, {glob[i]: v for i, v in builder._noise.items()})


def content_id(paper_ids: Sequence[str]) -> str:
    """Same papers → same id, so a rebuild over the same data keeps every topic id."""
    return "t" + hashlib.sha1("\n".join(sorted(paper_ids)).encode()).hexdigest()[:12]


class TreeBuilder:
    """Density clustering (UMAP + HDBSCAN) per node of at least `density_min_points` papers,
    k-means where density finds no split or the node is smaller, recursing until topics are
    small enough or deep enough.

    Once a node is split its children's subtrees are independent: given a parallel executor,
    each child of at least `dispatch_min_size` papers (that will split again) is grown by a
    worker, smaller ones inline; the tree is the same as the serial one."""

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
        density_min_points: int = 20,
        max_cluster_share: float = 0.6,
        dispatch_min_size: int = 500,
        reduce_once: bool = False,
        top_branching: int | None = None,
        split: str = "density",
        reduce_min_points: int = 0,
    ) -> None:
        self.reducer = reducer
        self.clusterer = clusterer
        self.fallback = fallback
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.min_leaf_size = min_leaf_size
        self.max_leaf_size = max_leaf_size
        self.max_branching = max_branching
        self.density_min_points = density_min_points
        self.max_cluster_share = max_cluster_share
        self.dispatch_min_size = dispatch_min_size
        self.reduce_once = reduce_once
        self.top_branching = top_branching  # the root's most children; None: max_branching
        # "map": a node's whole subtree is cut at once from the map (hierarchy/map_split.py)
        # and handed down as hints; "density": UMAP + HDBSCAN per node.
        self.split = split
        self.reduce_min_points = reduce_min_points

    def __getstate__(self) -> dict[str, Any]:
        """Workers get the settings only: the matrix travels sliced, in the task."""
        fitted = {"X_", "R_", "root_", "_on_leaf", "_noise", "_executor", "_pending"}
        return {k: v for k, v in self.__dict__.items() if k not in fitted}

    def fit(
        self,
        X: np.ndarray,
        on_leaf: Callable[[int], None] | None = None,
        guide: Guide | None = None,
        executor: Executor | None = None,
    ) -> TreeBuilder:
        """`guide`: the previous tree over the same rows; where a node still matches one of its
        topics, that topic's split seeds k-means, so a rebuild after a few new papers keeps
        its shape (and topic ids) instead of starting from nothing. `executor`: where large
        subtrees grow (None or a serial executor: here, in order)."""
        self.X_ = unit_rows(np.asarray(X, dtype=np.float32))
        # One reduction of the whole corpus, reused by every node's density split: a node's
        # own UMAP on a few hundred points is mostly noise, and the nodes of one level then
        # cut the same map, so their topics are comparable.
        self.R_ = (
            self.reducer.fit_transform(self.X_)
            if self.reduce_once
            and len(self.X_) >= max(self.density_min_points, self.reduce_min_points)
            else None
        )
        self._on_leaf = on_leaf or (lambda n: None)
        # Whether each point was HDBSCAN noise in the split that formed its current group;
        # groups are disjoint, so deeper splits only overwrite their own members.
        self._noise: dict[int, bool] = {}
        self._executor = executor if executor is not None and not executor.inline else None
        self._pending: dict[Any, Node] = {}
        self.root_ = self._grow(list(range(len(X))), depth=0, guide=guide)
        if self._pending:
            self._collect()
        return self

    def _collect(self) -> None:
        """Subtrees from the workers fill their placeholders as each one finishes."""
        assert self._executor is not None
        for ticket, result in self._executor.results():
            placeholder = self._pending.pop(ticket)
            placeholder.children, placeholder.scores = result.node.children, result.node.scores
            self._noise.update(result.noise)
            for leaf in result.node.leaves():
                self._on_leaf(len(leaf.members))

    def _child(
        self, members: list[int], depth: int, guide: Guide | None, hint: list[Node] | None = None
    ) -> Node:
        if hint:  # the split is known already: only the grandchildren go to workers
            return self._grow(members, depth, guide, hint)
        if (
            self._executor is None
            or len(members) < self.dispatch_min_size
            or not self._wants_split(len(members), depth)
        ):
            return self._grow(members, depth, guide)
        task = SubtreeTask(
            rows=self.X_[members],
            members=members,
            depth=depth,
            noise=[bool(self._noise.get(m)) for m in members],
            guide=restrict_guide(guide, {m: i for i, m in enumerate(members)}) if guide else None,
            reduced=None if self.R_ is None else self.R_[members],
        )
        placeholder = Node(members=members)
        self._pending[self._executor.submit(grow_subtree, self, task)] = placeholder
        return placeholder

    def _wants_split(self, size: int, depth: int) -> bool:
        if depth >= self.max_depth or size < 2 * self.min_leaf_size:
            return False
        return size > self.max_leaf_size or depth < self.min_depth

    def _grow(
        self,
        members: list[int],
        depth: int,
        guide: Guide | None = None,
        hint: list[Node] | None = None,
    ) -> Node:
        node = Node(members=members)
        guides: list[Guide | None] = []
        groups: list[Node] = []
        if self._wants_split(len(members), depth):
            groups, guides = self._guided_split(members, guide) if guide else ([], [])
            if len(groups) < 2 and hint and len(hint) >= 2:
                groups, guides = hint, [None] * len(hint)
            elif len(groups) < 2:
                groups = self._split(members, depth)
                guides = [None] * len(groups)
        if len(groups) < 2:
            node.scores = self._scores(members)
            self._on_leaf(len(members))
            return node
        node.children = [
            self._child(g.members, depth + 1, gd, g.children or None)
            for g, gd in zip(groups, guides, strict=True)
        ]
        return node

    def _guided_split(
        self, members: list[int], guide: Guide
    ) -> tuple[list[Node], list[Guide | None]]:
        """The previous split, kept: papers stay with the old child they were in (the nearest
        one when they were in two), new papers join the child whose centroid is nearest.
        Each group inherits the old child it grew from; only topics that outgrow their size
        limits are split afresh further down."""
        position = {m: i for i, m in enumerate(members)}
        X = self.X_[members]
        seeds, kids = [], []
        for child in guide.children:
            rows = [position[m] for m in child.members if m in position]
            if rows:
                seeds.append(X[rows].mean(axis=0))
                kids.append(child)
        if len(seeds) < 2:
            return [], []
        sims = X @ unit_rows(np.stack(seeds)).T
        for c, child in enumerate(kids):
            held = np.zeros(len(members), dtype=bool)
            held[[position[m] for m in child.members if m in position]] = True
            sims[~held, c] -= 2.0  # below any cosine: a child's old papers come first
        labels = np.argmax(sims, axis=1)
        labels = absorb_small(X, labels, self.min_leaf_size)
        self._noise.update({m: False for m in members})
        out = [
            (Node(members=[members[i] for i in np.flatnonzero(labels == c)]), kids[c])
            for c in sorted(set(labels.tolist()))
        ]
        if len(out) < 2:
            return [], []
        out.sort(key=lambda pair: (-len(pair[0].members), pair[0].members[0]))
        return [n for n, _ in out], [g for _, g in out]

    def _split(self, members: list[int], depth: int = 1) -> list[Node]:
        """The children of a node: with split="map" and a corpus map, a whole nested subtree
        (hierarchy/map_split.py); otherwise (small corpora have no map: reduce_min_points)
        density clusters (noise joined to the nearest), k-means where density finds no split,
        more clusters than branches grouped."""
        if self.split == "map" and self.R_ is not None:
            return self._map_split(members, depth)
        X = self.X_[members]
        if len(members) >= self.density_min_points:
            reduced = self.reducer.fit_transform(X) if self.R_ is None else self.R_[members]
            raw, _ = self.clusterer.fit_predict(reduced)
        else:  # too few points to estimate density: UMAP + HDBSCAN would be noise-driven
            raw = np.full(len(members), -1)
        labels = absorb_small(X, np.asarray(raw), self.min_leaf_size)
        # One cluster holding nearly everything (HDBSCAN peeling small satellites off a dense
        # core) is no split either: recursing on it only makes a deep, lopsided tree.
        biggest = np.bincount(labels).max() / len(labels)
        if len(set(labels)) < 2 or biggest > self.max_cluster_share:  # fixed-k fallback
            raw, _ = self.fallback.fit_predict(X)
            labels = absorb_small(X, np.asarray(raw), self.min_leaf_size)
        self._noise.update({m: bool(lab == -1) for m, lab in zip(members, raw, strict=True)})
        branches = self.max_branching if depth > 0 or not self.top_branching else self.top_branching
        labels = self._limit_branching(X, labels, branches)
        groups = [[members[i] for i in np.flatnonzero(labels == c)] for c in sorted(set(labels))]
        # Order children by size, then by first member, so output order is deterministic.
        groups.sort(key=lambda g: (-len(g), g[0]))
        return [Node(members=g) for g in groups]

    def _map_split(self, members: list[int], depth: int) -> list[Node]:
        """The node's subtree down to max_depth from one nested split of its rows of the
        corpus UMAP; every child carries its own split as Node.children, which _grow takes
        as is."""
        from hierograph.hierarchy.map_split import nested_split, top_count

        assert self.R_ is not None
        X, Y = self.X_[members], self.R_[members]
        top = self.top_branching if depth == 0 and self.top_branching else None
        levels = nested_split(
            Y,
            X,
            leaf_size=(self.min_leaf_size + self.max_leaf_size) / 2,
            counts_top=top or top_count(len(members), self.max_branching),
            levels=max(1, self.max_depth - depth),
            min_leaf_size=self.min_leaf_size,
            seed=self.fallback.seed,
        )
        self._noise.update({m: False for m in members})
        if levels is None:
            return []
        labels = [np.asarray(level) for level in levels]

        def nest(rows: np.ndarray, j: int) -> list[Node]:
            # A level where these rows stay together adds nothing: the next one is used.
            while j < len(labels) and len(set(labels[j][rows].tolist())) < 2:
                j += 1
            if j >= len(labels):
                return []
            at = labels[j][rows]
            nodes = [
                Node(
                    members=[members[i] for i in rows[at == c]], children=nest(rows[at == c], j + 1)
                )
                for c in sorted(set(at.tolist()))
            ]
            return sorted(nodes, key=lambda n: (-len(n.members), n.members[0]))

        return nest(np.arange(len(members)), 0)

    def _limit_branching(
        self, X: np.ndarray, labels: np.ndarray, branches: int | None = None
    ) -> np.ndarray:
        """More clusters than `branches`: similar clusters are grouped (k-means on their
        centroids) into that many children, which the recursion splits again, so the
        extra clusters become a level of their own instead of a catch-all bucket."""
        branches = branches or self.max_branching
        found = sorted(set(labels.tolist()))
        if len(found) <= branches:
            return labels
        from sklearn.cluster import KMeans

        centroids = unit_rows(np.stack([X[labels == c].mean(axis=0) for c in found]))
        sizes = np.array([(labels == c).sum() for c in found], dtype=float)
        # k-means over the centroids, weighted by cluster size: linkage methods chain most
        # clusters into one giant group on real corpora (measured on the 9,263 papers).
        grouping = KMeans(
            n_clusters=branches, n_init=3, random_state=self.fallback.seed
        ).fit_predict(centroids, sample_weight=sizes)
        remap = dict(zip(found, grouping.tolist(), strict=True))
        return np.array([remap[c] for c in labels.tolist()])

    def _scores(self, members: list[int]) -> dict[int, float]:
        """Cosine to the leaf centroid; points that were noise score lower, so they rank last."""
        X = self.X_[members]
        centroid = unit_rows(X.mean(axis=0, keepdims=True))[0]
        sims = np.clip(X @ centroid, 0.0, 1.0)
        return {
            m: float(s) * (NOISE_SCORE_FACTOR if self._noise.get(m) else 1.0)
            for m, s in zip(members, sims, strict=True)
        }


class FixedShapeBuilder:
    """Science Hierarchography's fixed shape: k-means per level, bottom-up. Papers form
    `level_sizes[0]` leaf clusters, their centroids `level_sizes[1]` parents, and so on; a
    level asking for as many clusters as it has items (or more) is skipped."""

    def __init__(self, level_sizes: Sequence[int], seed: int = 42) -> None:
        self.level_sizes = level_sizes
        self.seed = seed

    def fit(self, X: np.ndarray, on_leaf: Callable[[int], None] | None = None) -> FixedShapeBuilder:
        from sklearn.cluster import KMeans

        self.X_ = unit_rows(np.asarray(X, dtype=np.float32))
        nodes = [Node(members=[i]) for i in range(len(self.X_))]  # singletons until leaves exist
        points = self.X_
        have_leaves = False
        for k in self.level_sizes:
            if not 1 < k < len(nodes):
                continue
            labels = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit_predict(points)
            groups = [np.flatnonzero(labels == c) for c in range(k)]
            groups = sorted((g for g in groups if len(g)), key=lambda g: (-len(g), g[0]))
            nodes = [self._parent([nodes[i] for i in g], leaf=not have_leaves) for g in groups]
            have_leaves = True
            points = unit_rows(np.stack([self.X_[n.members].mean(axis=0) for n in nodes]))
        if not have_leaves:
            nodes = [self._parent(nodes, leaf=True)]
        self.root_ = Node(members=sorted(m for n in nodes for m in n.members), children=nodes)
        for leaf in self.root_.leaves():
            (on_leaf or (lambda n: None))(len(leaf.members))
        return self

    def _parent(self, children: list[Node], leaf: bool) -> Node:
        members = sorted(m for c in children for m in c.members)
        if not leaf:
            # A parent of one child says nothing: the child moves up instead.
            return children[0] if len(children) == 1 else Node(members=members, children=children)
        X = self.X_[members]
        centroid = unit_rows(X.mean(axis=0, keepdims=True))[0]
        sims = np.clip(X @ centroid, 0.0, 1.0)
        return Node(
            members=members, scores={m: float(s) for m, s in zip(members, sims, strict=True)}
        )
