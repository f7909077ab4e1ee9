"""Subtrees grown on process and Ray workers give the tree the serial recursion gives;
embeddings computed as Ray tasks match the embedder's own."""

from __future__ import annotations

import numpy as np
import pytest

from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    KMeansSplitter,
    UmapReducer,
)
from hierograph.hierarchy.embed import Embedder
from hierograph.hierarchy.executor import (
    ProcessExecutor,
    RayExecutor,
    SerialExecutor,
    embed_distributed,
    make_executor,
    same_threads_env,
)
from hierograph.hierarchy.tree import Guide, Node, TreeBuilder
from hierograph.jobs.components import executor_from_settings
from hierograph.settings import load_settings

from .conftest import seeded_home
from .stores import BACKENDS, open_empty_store

ray = pytest.importorskip("ray")


def nested_blobs(seed: int = 0, top: int = 4, sub: int = 4, per: int = 20) -> np.ndarray:
    """Points around sub-centres around top centres: a corpus with a two-level topic shape,
    its top topics of different sizes (per, 2 per, 3 per, … points per sub-centre)."""
    rng = np.random.default_rng(seed)
    points = []
    for k, centre in enumerate(rng.normal(size=(top, 48))):
        for sub_centre in centre + 0.45 * rng.normal(size=(sub, 48)):
            points.append(sub_centre + 0.12 * rng.normal(size=(per * (k + 1) // 2 + 5, 48)))
    return np.concatenate(points).astype(np.float32)


def make_builder(dispatch_min_size: int = 40) -> TreeBuilder:
    return TreeBuilder(
        reducer=UmapReducer(15, 5, seed=42),
        clusterer=HdbscanClusterer(4, "auto"),
        fallback=KMeansSplitter(8, 3, seed=42),
        max_depth=2,
        min_leaf_size=3,
        max_leaf_size=20,
        max_branching=8,
        dispatch_min_size=dispatch_min_size,
    )


def shape(node: Node) -> tuple:
    """Everything the build keeps of a tree: members in order, leaf scores, child order."""
    return (
        tuple(node.members),
        tuple(sorted(node.scores.items())),
        tuple(shape(c) for c in node.children),
    )


def as_guide(node: Node) -> Guide:
    return Guide(members=set(node.members), children=[as_guide(c) for c in node.children])


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return nested_blobs()


@pytest.fixture(scope="module")
def serial_tree(X: np.ndarray) -> TreeBuilder:
    return make_builder().fit(X)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the module; executors find it running and leave it."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": same_threads_env()},
    )
    yield
    ray.shutdown()


def test_serial_executor_runs_the_plain_recursion(X, serial_tree):
    with SerialExecutor() as executor:
        tree = make_builder().fit(X, executor=executor)
    assert executor.submitted == 0, "inline: no tasks, no row slicing"
    assert shape(tree.root_) == shape(serial_tree.root_)
    assert len(serial_tree.root_.children) >= 2
    assert any(c.children for c in serial_tree.root_.children), "the tree has two levels"


def test_process_executor_grows_the_same_tree_as_serial(X, serial_tree):
    placed: list[int] = []
    with ProcessExecutor(workers=2) as executor:
        tree = make_builder().fit(X, on_leaf=placed.append, executor=executor)
    assert executor.submitted >= 2, "subtrees above the threshold went to the workers"
    assert shape(tree.root_) == shape(serial_tree.root_)
    assert sum(placed) == len(X), "every leaf reported once, the workers' ones included"
    assert tree._noise == serial_tree._noise


def test_ray_executor_grows_the_same_tree_as_serial(X, serial_tree, local_ray):
    placed: list[int] = []
    with make_executor("ray") as executor:
        tree = make_builder().fit(X, on_leaf=placed.append, executor=executor)
    assert executor.submitted >= 2
    assert ray.is_initialized(), "a Ray this process started elsewhere is left running"
    assert shape(tree.root_) == shape(serial_tree.root_)
    assert sum(placed) == len(X)


def test_only_subtrees_above_the_threshold_are_dispatched(X, serial_tree, local_ray):
    sizes = [len(c.members) for c in serial_tree.root_.children if c.children]
    threshold = sorted(sizes)[-1]  # only the largest splittable child(ren) qualify
    with RayExecutor() as executor:
        tree = make_builder(dispatch_min_size=threshold).fit(X, executor=executor)
    assert executor.submitted == sum(s >= threshold for s in sizes) < len(sizes)
    assert shape(tree.root_) == shape(serial_tree.root_)


def test_guided_rebuild_on_workers_matches_serial(X, serial_tree, local_ray):
    """New papers join an old tree: the guide travels with each subtree task."""
    grown = np.concatenate([X, nested_blobs(seed=1, top=4, sub=4, per=1)])
    guide = as_guide(serial_tree.root_)
    reference = make_builder().fit(grown, guide=guide)
    with RayExecutor() as executor:
        tree = make_builder().fit(grown, guide=guide, executor=executor)
    assert executor.submitted >= 2
    assert shape(tree.root_) == shape(reference.root_)


def test_embedding_on_ray_matches_the_embedder(local_ray):
    texts = [f"paper {i} on {w} for language model alignment" for i, w in enumerate("abcdefghij")]
    # float32 on both sides: in bf16 (auto on a CPU with native bfloat16) the rounding
    # depends on the batch shape, which is exactly what distributing changes.
    expected = Embedder(cache_path=None, show_progress=False, precision="fp32").encode(texts)
    chunks: list[int] = []
    with RayExecutor() as executor:
        got = embed_distributed(
            texts, executor, chunk_size=4, on_chunk=chunks.append, precision="fp32"
        )
    assert executor.submitted == 3 and sorted(chunks) == [2, 4, 4]
    assert got.shape == expected.shape
    # Same model and texts; only batch composition differs, hence float noise at most.
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("kind", BACKENDS)
def test_build_with_ray_gives_the_serial_tree(
    kind, built_corpus, embedding_cache, tmp_path, local_ray
):
    """The whole `hierograph build` with executor=ray, written to each store backend."""
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.jobs.build import build_hierarchy

    home = tmp_path / "ray"
    settings = seeded_home(home, embedding_cache).model_copy(
        update={"store": kind, "executor": "ray", "executor_min_subtree": 2}
    )
    with SqliteStore(built_corpus.db_path()) as source, open_empty_store(kind, home) as store:
        store.upsert_papers(list(source.iter_papers()))
        report = build_hierarchy(store, settings, show_progress=False)

        def tree(s):
            return (
                [(t.id, t.parent, t.level, t.label, t.size) for t in s.topics()],
                sorted((a.paper_id, a.topic_id, a.score) for a in s.assignments()),
            )

        assert report.embedded == 0
        # A second level means a root child was split again: with executor_min_subtree 2,
        # that child's subtree was a Ray task.
        assert report.depth >= 2
        assert tree(store) == tree(source)


def test_build_embeds_cache_misses_as_ray_tasks(tmp_path, local_ray):
    """executor=ray: the misses go to Ray tasks (the local model is never loaded), the cache
    and the matrix stay here, and a second encode finds everything cached."""
    from hierograph.jobs.build import embed_papers
    from hierograph.jobs.components import make_embedder

    texts = [f"study {i} of {w} in reward modelling" for i, w in enumerate("klmnopqrst")]
    # float32: bf16 rounding depends on the batch's shape, and the tasks' chunks of 8 are not
    # the one batch of 10 that the comparison encodes.
    settings = load_settings(
        home=tmp_path,
        executor="ray",
        executor_workers=2,
        embedding_chunk_size=8,
        embedding_precision="fp32",
    )
    embedder = make_embedder(settings, show_progress=False)
    with executor_from_settings(settings) as executor:
        got = embed_papers(embedder, texts, settings, executor)
    assert embedder._model is None, "the local model embedded what Ray tasks should have"
    assert embedder.embedded_count_ == len(texts)
    expected = Embedder(cache_path=None, show_progress=False, precision="fp32").encode(texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    again = make_embedder(settings.model_copy(update={"executor": "serial"}), show_progress=False)
    np.testing.assert_allclose(again.encode(texts), got, atol=1e-6)
    assert again.embedded_count_ == 0 and again._model is None
