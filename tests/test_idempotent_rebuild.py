"""Rebuilding unchanged data (same papers, settings and corrections) gives the same tree: topic
ids, labels, parents, paper sets and second topics; --fresh included, on both stores."""

from __future__ import annotations

import pytest

from hierograph.graph.store import GraphStore
from hierograph.ingest.tabular import parse_jsonl
from hierograph.jobs.build import build_hierarchy
from hierograph.settings import Settings

from .conftest import SHARED_ARXIV, seeded_home
from .stores import BACKENDS, open_empty_store
from .test_corrections_hold import copy_of, correct_four_ways

Tree = tuple[frozenset, frozenset]


def tree_of(store: GraphStore) -> Tree:
    topics = frozenset((t.id, t.label, t.parent, t.level, t.size) for t in store.topics())
    placed = frozenset((a.paper_id, a.topic_id, a.origin) for a in store.assignments())
    return topics, placed


def build(store: GraphStore, settings: Settings, fresh: bool = False) -> Tree:
    build_hierarchy(
        store, settings.model_copy(update={"guided_rebuild": not fresh}), show_progress=False
    )
    return tree_of(store)


def differences(a: Tree, b: Tree) -> dict[str, list]:
    return {"topics": sorted(a[0] ^ b[0])[:6], "assignments": sorted(a[1] ^ b[1])[:6]}


@pytest.mark.parametrize("kind", BACKENDS)
def test_rebuilding_the_supplied_corpus_with_corrections_changes_nothing(
    built_corpus, tmp_path, embedding_cache, kind
):
    store, settings = copy_of(built_corpus, kind, tmp_path / "home", embedding_cache)
    try:
        correct_four_ways(store)
        first = build(store, settings)
        second = build(store, settings)
        assert first == second, differences(first, second)
        assert any(label == "Named by a person" for _, label, *_ in first[0])
        fresh = build(store, settings, fresh=True)
        after_fresh = build(store, settings)
        assert fresh == after_fresh, differences(fresh, after_fresh)
    finally:
        store.close()


@pytest.mark.slow  # embeds 300 papers, four builds
@pytest.mark.skipif(not SHARED_ARXIV.exists(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("kind", BACKENDS)
def test_rebuilding_300_shared_corpus_papers_changes_nothing(tmp_path, embedding_cache, kind):
    settings = seeded_home(tmp_path / "home", embedding_cache).model_copy(update={"store": kind})
    store = open_empty_store(kind, settings.home)
    try:
        store.upsert_papers([p for _, p in parse_jsonl(SHARED_ARXIV).papers[:300]])
        trees = [build(store, settings), build(store, settings)]
        trees += [build(store, settings, fresh=True), build(store, settings)]
        for a, b in zip(trees, trees[1:], strict=False):
            assert a == b, differences(a, b)
        assert len(trees[0][0]) > 10  # a real tree, not an empty one that trivially repeats
    finally:
        store.close()
