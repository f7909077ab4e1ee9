"""Invariants of the tree built from the supplied corpus with the real embedding model."""

import importlib.util
from collections import Counter

import networkx as nx
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hierograph.graph.sqlite_store import SqliteStore
from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    UmapReducer,
    cuml_usable,
    resolve_backend,
    resolve_hdbscan,
    unit_rows,
)
from hierograph.jobs.build import build_hierarchy
from hierograph.jobs.components import make_tree_builder
from hierograph.settings import load_settings

from .conftest import seeded_home


def _graph(store) -> nx.DiGraph:
    g = nx.DiGraph()
    for t in store.topics():
        g.add_node(t.id)
        if t.parent:
            g.add_edge(t.parent, t.id)
    return g


def test_topics_form_one_tree_at_least_two_levels_deep(built_store):
    topics = built_store.topics()
    g = _graph(built_store)
    assert nx.is_arborescence(g)
    [root] = [t for t in topics if t.parent is None]
    assert root.level == 0
    by_id = {t.id: t for t in topics}
    for t in topics:
        if t.parent:
            assert t.level == by_id[t.parent].level + 1
    assert max(t.level for t in topics) >= 2


def test_every_paper_sits_in_a_leaf_and_no_topic_is_empty(built_store):
    g = _graph(built_store)
    leaves = {n for n in g if g.out_degree(n) == 0}
    placed = Counter()
    for a in built_store.assignments():
        assert a.topic_id in leaves, "papers are assigned to leaves only"
        assert 0.0 <= a.score <= 1.0 and a.origin == "cluster"
        assert placed[a.paper_id] < 2, "at most a second topic per paper"
        placed[a.paper_id] += 1
    ids = {p.id for p in built_store.iter_papers()}
    assert set(placed) == ids
    for t in built_store.topics():
        below = built_store.subtree_paper_ids(t.id)
        assert below, f"empty topic {t.label}"
        assert t.size == len(below)
        assert t.label and (t.parent is None or t.keywords)


def test_sibling_labels_are_distinct(built_store):
    topics = built_store.topics()
    for parent in {t.parent for t in topics if t.parent}:
        labels = [t.label for t in topics if t.parent == parent]
        assert len(labels) == len(set(labels))


def _leaves_of(store, title_start: str) -> set[str]:
    """Every leaf the paper sits in, second topics of multi-label papers included."""
    [paper] = [p for p in store.iter_papers() if p.title.startswith(title_start)]
    return {a.topic_id for a in store.assignments(paper_id=paper.id)}


def test_non_alignment_papers_do_not_share_a_leaf_with_preference_optimization(built_store):
    off_topic = [
        "Embed-Search-Align: DNA Sequence Alignment",
        "LLM-Align: Utilizing Large Language Models for Entity Alignment",
        "Exploring Optimal Transport-Based Multi-Grained Alignments for Text-Molecule",
        "Align With Purpose: Optimize Desired Properties in CTC Models",
    ]
    # The preference-optimization method papers of the corpus (it has no DPO paper itself).
    preference = [
        "Preference Ranking Optimization for Human Alignment",
        "Binary Classifier Optimization for Large Language Model Alignment",
        "The Hitchhiker's Guide to Human Alignment with *PO",
    ]
    off_leaves = set().union(*(_leaves_of(built_store, t) for t in off_topic))
    pref_leaves = set().union(*(_leaves_of(built_store, t) for t in preference))
    assert not off_leaves & pref_leaves


def test_same_input_and_seed_give_the_same_tree(built_corpus, embedding_cache, tmp_path):
    again = seeded_home(tmp_path / "again", embedding_cache)
    with SqliteStore(built_corpus.db_path()) as first, SqliteStore(again.db_path()) as second:
        second.upsert_papers(list(first.iter_papers()))
        report = build_hierarchy(second, again, show_progress=False)
        assert report.embedded == 0, "the embedding cache serves a second build"

        def shape(store):
            return (
                [(t.id, t.parent, t.level, t.label, t.keywords, t.size) for t in store.topics()],
                [(a.paper_id, a.topic_id, a.score) for a in store.assignments()],
            )

        assert shape(first) == shape(second)


def test_fixed_shape_mode_builds_the_requested_levels(built_corpus, embedding_cache, tmp_path):
    """Science Hierarchography's shape: k-means per level, leaves first."""
    settings = seeded_home(tmp_path / "fixed", embedding_cache).model_copy(
        update={"tree_mode": "fixed", "level_sizes": [8, 3, 60]}
    )
    with SqliteStore(built_corpus.db_path()) as source, SqliteStore(settings.db_path()) as store:
        store.upsert_papers(list(source.iter_papers()))
        build_hierarchy(store, settings, show_progress=False)
        topics = store.topics()
        levels = Counter(t.level for t in topics)
        assert levels[1] == 3, "the 60 of level_sizes exceeds the items left and is skipped"
        assert 6 <= levels[2] <= 8, "8 leaves, fewer where a parent of one child collapsed"
        leaves = {t.id for t in topics if not any(c.parent == t.id for c in topics)}
        primary = {a.paper_id for a in store.assignments() if a.topic_id in leaves}
        assert primary == {p.id for p in store.iter_papers()}


# --- clustering backends and scale settings (issue 9) ---


def _blobs(seed: int = 0, centres: int = 5, per: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate(
        [c + 0.15 * rng.normal(size=(per, 32)) for c in rng.normal(size=(centres, 32))]
    )
    return X.astype(np.float32), np.repeat(np.arange(centres), per)


def test_fast_hdbscan_agrees_with_sklearn_on_the_same_reduced_data():
    pytest.importorskip("fast_hdbscan")
    X, _ = _blobs(per=80)
    reduced = UmapReducer(15, 5, seed=42).fit_transform(unit_rows(X))
    sk, _ = HdbscanClusterer(4, "sklearn").fit_predict(reduced)
    fast, strength = HdbscanClusterer(4, "fast_hdbscan").fit_predict(reduced)
    assert adjusted_rand_score(sk, fast) > 0.9
    assert strength.shape == (len(X),) and 0 <= strength.min() <= strength.max() <= 1
    again, _ = HdbscanClusterer(4, "fast_hdbscan").fit_predict(reduced)
    assert np.array_equal(fast, again), "deterministic mode: a rebuild gives the same labels"


def test_umap_fit_sample_maps_every_point_and_keeps_the_clusters():
    X, truth = _blobs()
    X = unit_rows(X)
    sampled = UmapReducer(15, 5, seed=42, fit_sample=100).fit_transform(X)
    assert sampled.shape == (len(X), 5) and np.isfinite(sampled).all()
    assert np.array_equal(sampled, UmapReducer(15, 5, seed=42, fit_sample=100).fit_transform(X))
    labels, _ = HdbscanClusterer(4, "sklearn").fit_predict(sampled)
    # 200 of the 300 points were never fitted, only transformed: they land in their blobs.
    assert adjusted_rand_score(truth, labels) > 0.9


def test_umap_sample_above_fits_a_sample_only_for_larger_inputs():
    X, truth = _blobs()
    X = unit_rows(X)
    whole = UmapReducer(15, 5, seed=42).fit_transform(X)
    # At or above the input's size nothing changes: the same whole fit.
    assert np.array_equal(UmapReducer(15, 5, seed=42, sample_above=len(X)).fit_transform(X), whole)
    sampled = UmapReducer(15, 5, seed=42, sample_above=100)
    assert np.array_equal(
        sampled.fit_transform(X), UmapReducer(15, 5, seed=42, fit_sample=100).fit_transform(X)
    )
    assert sampled.knn_ is None  # the map cannot reuse a sample's neighbour graph


def test_backend_settings_reach_the_builder(tmp_path):
    settings = load_settings(
        home=tmp_path, hdbscan_impl="sklearn", umap_fit_sample=5000, umap_low_memory=False
    )
    builder = make_tree_builder(settings)
    assert builder.clusterer.impl == "sklearn"
    assert (builder.reducer.fit_sample, builder.reducer.low_memory) == (5000, False)
    assert builder.reducer.sample_above == settings.umap_sample_above  # the map tree
    density = make_tree_builder(load_settings(home=tmp_path, tree_mode="density"))
    assert density.reducer.sample_above == 0
    assert builder.dispatch_min_size == settings.executor_min_subtree
    auto = make_tree_builder(load_settings(home=tmp_path, hdbscan_fast_min_points=1000))
    assert auto.clusterer.impl == ("cuml" if cuml_usable() else "auto")
    assert auto.reducer.backend == ("cuml" if cuml_usable() else "cpu")
    assert auto.clusterer.fast_min_points == 1000


def test_auto_hdbscan_is_sklearn_for_small_nodes_and_fast_hdbscan_for_large_ones():
    fast = "fast_hdbscan" if importlib.util.find_spec("fast_hdbscan") else "sklearn"
    assert resolve_hdbscan("auto", points=999, fast_min_points=1000) == "sklearn"
    assert resolve_hdbscan("auto", points=1000, fast_min_points=1000) == fast
    assert resolve_hdbscan("sklearn", points=10**6) == "sklearn"
    assert resolve_hdbscan("fast_hdbscan", points=10) == "fast_hdbscan"


def test_asking_for_cuml_without_a_gpu_fails_clearly():
    if cuml_usable():
        pytest.skip("this machine has cuML and a GPU")
    with pytest.raises(RuntimeError, match="cuML"):
        resolve_backend("cuml")
