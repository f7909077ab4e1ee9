"""Corrections hold for ever, on the supplied corpus built for real: the newcomer's scenario
(build; move, rename, merge, split, delete; build; build --fresh; build) and random correction
sequences (hypothesis) through three rebuilds, normal, --fresh and normal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from hierograph.curation import corrections as C
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.store import GraphStore
from hierograph.graph.sync import copy_graph
from hierograph.jobs.build import build_hierarchy
from hierograph.settings import Settings

from .conftest import seeded_home
from .correction_checks import Snapshot, broken_promises
from .stores import BACKENDS, open_empty_store
from .test_cli_and_export import run


def copy_of(
    built: Settings, kind: str, home: Path, embedding_cache: Path
) -> tuple[GraphStore, Settings]:
    settings = seeded_home(home, embedding_cache).model_copy(update={"store": kind})
    store = open_empty_store(kind, home) if kind == "neo4j" else SqliteStore(settings.db_path())
    with SqliteStore(built.db_path()) as src:
        copy_graph(src, store)
    return store, settings


def rebuild_and_check(store: GraphStore, settings: Settings, fresh: bool, live: Snapshot) -> list:
    """One build; every correction whose effect held before must hold after or be reported."""
    build = settings.model_copy(update={"guided_rebuild": not fresh})
    report = build_hierarchy(store, build, show_progress=False).corrections
    reported = {i.id: i.detail for i in report.not_applied}
    active = C.active_corrections(store.corrections())
    broken = broken_promises(active, live, Snapshot.of(store), reported)
    assert not broken, (fresh, broken, report)
    assert C.last_replay(store) == report
    return report.not_applied


def leaves_by_size(store: GraphStore) -> list[str]:
    state = C.TreeState.from_store(store)
    return sorted(state.leaves(), key=lambda t: (-len(state.direct_papers(t)), t))


def correct_four_ways(store: GraphStore) -> None:
    """A move, a rename, a split and a merge on the built tree, as a reviewer would make them."""
    big, other, *rest = leaves_by_size(store)
    state = C.TreeState.from_store(store)
    C.move_paper(store, state.direct_papers(big)[0], big, other)
    C.rename_topic(store, rest[0], "Named by a person")
    C.split_topic(store, big, state.direct_papers(big)[1:3], label="Split off")
    C.merge_topics(store, rest[-1], other)


@pytest.mark.parametrize("kind", BACKENDS)
def test_newcomer_scenario_every_correction_holds_through_three_rebuilds(
    built_corpus, tmp_path, embedding_cache, kind
):
    store, settings = copy_of(built_corpus, kind, tmp_path / "home", embedding_cache)
    try:
        big, other, *rest = leaves_by_size(store)
        small, tiny = rest[-2], rest[-1]
        state = C.TreeState.from_store(store)
        moved = state.direct_papers(big)[0]
        C.move_paper(store, moved, big, other)
        C.rename_topic(store, rest[0], "Named by a person")
        C.merge_topics(store, small, other)
        C.split_topic(store, big, state.direct_papers(big)[1:3], label="Split off")
        for paper in C.TreeState.from_store(store).direct_papers(tiny):
            C.move_paper(store, paper, tiny, other)
        C.delete_topic(store, tiny)
        live = Snapshot.of(store)
        for fresh in (False, True, False):
            assert rebuild_and_check(store, settings, fresh, live) == []
        assert Snapshot.of(store).topics.get(other) is not None
    finally:
        store.close()
    if kind == "sqlite":
        log = run(settings.home, "correct", "log", "--limit", "0")
        assert log.returncode == 0, log.stderr
        assert "[replay: applied" in log.stdout
        assert "missing" not in log.stdout.replace("0 missing", "")
        assert "conflict" not in log.stdout.replace("0 in conflict", "")


def _random_correction(store: GraphStore, data: st.DataObject) -> None:
    """One correction of a kind drawn at random, on targets drawn from the current tree; one the
    store refuses (CorrectionError) is simply not made, as for a person."""
    state = C.TreeState.from_store(store)
    leaves = state.leaves()
    inner = sorted(t for t in state.topics if not state.is_leaf(t))
    topics = sorted(t for t in state.topics if state.topics[t].parent is not None)
    pairs = sorted(state.assignments)
    kind = data.draw(st.sampled_from([*C.KINDS, "undo", "empty_and_delete"]), label="kind")
    pick = lambda xs, label: data.draw(st.sampled_from(xs), label=label)  # noqa: E731
    try:
        if kind == "move_paper":
            paper, source = pick(pairs, "pair")
            C.move_paper(store, paper, source, pick(leaves, "to"))
        elif kind == "add_topic":
            paper, _ = pick(pairs, "pair")
            C.add_topic(store, paper, pick(leaves, "topic"))
        elif kind == "remove_assignment":
            C.remove_assignment(store, *pick(pairs, "pair"))
        elif kind == "rename_topic":
            C.rename_topic(store, pick(topics, "topic"), f"Renamed {data.draw(st.integers(0, 99))}")
        elif kind == "merge_topics":
            group = pick([leaves, inner], "level")
            C.merge_topics(store, pick(group, "source"), pick(group, "target"))
        elif kind == "split_topic":
            leaf = pick(leaves, "leaf")
            papers = state.direct_papers(leaf)
            if papers:
                chosen = data.draw(st.lists(st.sampled_from(papers), min_size=1, unique=True))
                C.split_topic(store, leaf, chosen, label=f"Split {len(chosen)}")
        elif kind == "move_topic":
            C.move_topic(store, pick(topics, "topic"), pick(inner, "parent"))
        elif kind == "delete_topic":
            C.delete_topic(store, pick(topics, "topic"))
        elif kind == "undo":
            done = [c.id for c in store.corrections()]
            if done:
                C.undo(store, pick(done, "undo"))
        else:  # a person empties a leaf, then deletes it
            leaf, to = pick(leaves, "leaf"), pick(leaves, "to")
            for paper in state.direct_papers(leaf):
                C.move_paper(store, paper, leaf, to)
            C.delete_topic(store, leaf)
    except C.CorrectionError:
        pass


@pytest.mark.slow  # a few examples, each three real builds
@pytest.mark.parametrize("kind", BACKENDS)
def test_random_correction_sequences_hold_through_normal_fresh_normal_rebuilds(
    built_corpus, tmp_path_factory, embedding_cache, kind
):
    runs = iter(range(10**6))

    @hsettings(
        # Each example is three real builds: a few by default, more on demand.
        max_examples=int(os.environ.get("HIEROGRAPH_PROPERTY_EXAMPLES", "5")),
        deadline=None,
        derandomize=True,
        # No shrinking: each example costs three real builds; the failing draws are printed.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), steps=st.integers(min_value=2, max_value=8))
    def check(data: st.DataObject, steps: int) -> None:
        home = tmp_path_factory.mktemp(f"prop{next(runs)}")
        store, settings = copy_of(built_corpus, kind, home, embedding_cache)
        try:
            for _ in range(steps):
                _random_correction(store, data)
            live = Snapshot.of(store)
            for fresh in (False, True, False):
                for item in rebuild_and_check(store, settings, fresh, live):
                    # Not carried out: said why, and what a person can do about it.
                    assert item.detail and any(
                        w in item.detail for w in ("hierograph", "undo", "by hand", "ingest")
                    ), item
        finally:
            store.close()

    check()
