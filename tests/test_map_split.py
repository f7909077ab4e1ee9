"""The map split (hierarchy/map_split.py) and the tree it grows: nested levels, one reduction of
the whole corpus, determinism."""

import numpy as np
from sklearn.metrics import adjusted_rand_score

from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    KMeansSplitter,
    UmapReducer,
    exact_cosine_knn,
)
from hierograph.hierarchy.map_split import level_counts, nested_split, top_count
from hierograph.hierarchy.tree import TreeBuilder


def _blobs(seed: int = 0, centres: int = 6, per: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [c + 0.2 * rng.normal(size=(per, 24)) for c in 3 * rng.normal(size=(centres, 24))]
    )
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), np.repeat(np.arange(centres), per)


def test_level_counts_grow_geometrically_to_the_leaves():
    assert level_counts(135, 5, 4) == [5, 15, 45, 135]
    assert level_counts(10, 4, 4) == [4, 5, 7, 10]
    assert level_counts(3, 12, 4) == [3], "a top above the leaf count is the leaf count"
    assert level_counts(40, 6, 1) == [40]
    assert top_count(100, 12) == 3 and top_count(1_000, 12) == 11 and top_count(10**6, 12) == 12


def test_nested_split_levels_refine_each_other():
    X, _ = _blobs()
    levels = nested_split(X, X, leaf_size=7.5, counts_top=3, levels=4, min_leaf_size=3, seed=1)
    assert levels is not None and len(levels) == 4
    for upper, lower in zip(levels, levels[1:], strict=False):
        parent_of: dict[int, int] = {}
        for u, low in zip(upper, lower, strict=True):
            assert parent_of.setdefault(low, u) == u, "a lower cluster lies inside one upper one"
    leaves = len(set(levels[-1]))
    assert 30 <= leaves <= 40, "about 300 / 7.5 leaves, tiny ones absorbed"
    assert [len(set(level)) for level in levels] == level_counts(leaves, 3, 4)
    assert nested_split(X[:4], X[:4], 7.5, 3, 4, 3, seed=1) is None, "fewer than two leaves"


class CountingReducer(UmapReducer):
    calls = 0

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        type(self).calls += 1
        return super().fit_transform(X)


def _builder(**kwargs: object) -> TreeBuilder:
    return TreeBuilder(
        reducer=CountingReducer(15, 5, seed=42),
        clusterer=HdbscanClusterer(4, "sklearn"),
        fallback=KMeansSplitter(12, 3, seed=42),
        split="map",
        reduce_once=True,
        **kwargs,
    )


def test_map_tree_reduces_the_corpus_once_and_finds_the_blobs():
    X, truth = _blobs()
    CountingReducer.calls = 0
    root = _builder().fit(X).root_
    assert CountingReducer.calls == 1, "one UMAP of the whole corpus, reused by every node"
    walk = root.walk()
    assert max(level for _, _, level in walk) <= 4
    assert sorted(m for leaf in root.leaves() for m in leaf.members) == list(range(len(X)))
    for node, _, _ in walk:
        assert len(node.children) != 1, "no parent of one child"
        if node.children:
            assert sorted(m for c in node.children for m in c.members) == node.members
    # The level whose topic count is the blob count recovers the blobs.
    by_level: dict[int, np.ndarray] = {}
    for node, _, level in walk:
        if level:
            by_level.setdefault(level, np.full(len(X), -1))[node.members] = id(node)
    best = max(adjusted_rand_score(truth, labels) for labels in by_level.values())
    assert best > 0.9
    again = _builder().fit(X).root_
    assert [sorted(n.members) for n, _, _ in again.walk()] == [
        sorted(n.members) for n, _, _ in walk
    ], "same input and seed, same tree"


def test_small_corpora_get_the_density_tree():
    X, _ = _blobs(per=20)
    CountingReducer.calls = 0
    root = _builder(reduce_min_points=500).fit(X).root_
    assert CountingReducer.calls >= 1, "no corpus map below reduce_min_points: UMAP per node"
    assert len(root.children) >= 2
    assert sorted(m for leaf in root.leaves() for m in leaf.members) == list(range(len(X)))


def test_small_inputs_get_exact_neighbours_that_the_map_can_reuse():
    X, _ = _blobs(seed=3, per=30)
    indices, dists = exact_cosine_knn(X, 10)
    brute = 1.0 - X.astype(np.float64) @ X.T.astype(np.float64)
    assert (indices[:, 0] == np.arange(len(X))).all() and (dists[:, 0] == 0).all()
    for row in range(len(X)):
        expected = np.sort(brute[row])[:10]
        assert np.allclose(np.sort(brute[row, indices[row]]), expected, atol=1e-6)
        assert np.allclose(dists[row], brute[row, indices[row]].clip(0), atol=1e-6)
        assert (np.diff(dists[row]) >= 0).all(), "nearest first"
    reducer = UmapReducer(10, 5, seed=42)
    out = reducer.fit_transform(X)
    assert out.shape == (len(X), 5)
    assert reducer.knn_ is not None, "the exact graph is kept for the paper map"
    assert (reducer.knn_[0] == indices).all()
