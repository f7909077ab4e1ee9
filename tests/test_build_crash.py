"""A build is one step: a build killed (-9) before, during or right after writing the new tree
leaves the previous tree with its corrections or the new tree with its corrections, never a
tree without them; on both stores."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from hierograph.curation import corrections as C
from hierograph.graph.factory import open_store

from .correction_checks import Snapshot, broken_promises
from .test_corrections_hold import copy_of, correct_four_ways

# Runs the real build in a child process that kills itself with SIGKILL at the chosen point.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from hierograph.graph.factory import open_store
    from hierograph.graph.neo4j_store import Neo4jStore
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.jobs.build import build_hierarchy
    from hierograph.settings import load_settings

    home, kind, when = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    for cls in (SqliteStore, Neo4jStore):
        original = cls.replace_hierarchy

        def patched(self, hierarchy, meta=None, _original=original):
            if when == "before":
                die()
            _original(self, hierarchy, meta)
            die()

        cls.replace_hierarchy = patched
    if when == "during":  # SQLite: inside the transaction, after the old tree is deleted
        SqliteStore._insert_assignments = lambda self, rows: die()
    settings = load_settings(home=home, store=kind)
    build_hierarchy(open_store(settings), settings, show_progress=False)
    """
)


@pytest.mark.parametrize(
    ("kind", "when"),
    [("sqlite", "before"), ("sqlite", "during"), ("sqlite", "after"), ("neo4j", "after")],
)
def test_a_build_killed_at_any_point_leaves_a_tree_with_its_corrections(
    built_corpus, tmp_path, embedding_cache, kind, when
):
    store, settings = copy_of(built_corpus, kind, tmp_path / "home", embedding_cache)
    try:
        correct_four_ways(store)
        live = Snapshot.of(store)
        last_build = store.get_meta("last_build")
    finally:
        store.close()

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(settings.home), kind, when],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HIEROGRAPH_HOME": str(settings.home)},
    )
    assert child.returncode == -9, child.stderr[-2000:]

    with open_store(settings) as after:
        rebuilt = Snapshot.of(after)
        active = C.active_corrections(after.corrections())
        assert len(active) == 4
        assert broken_promises(active, live, rebuilt, {}) == []
        if when == "after":  # the new tree is in, with the replay's record beside it
            assert after.get_meta("last_build") != last_build
            report = C.last_replay(after)
            assert [i.id for i in report.items] == [c.id for c in active]
            assert report.not_applied == []
        else:  # the previous tree, exactly as the person left it
            assert after.get_meta("last_build") == last_build
            assert rebuilt == live
