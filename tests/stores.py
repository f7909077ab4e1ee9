"""Opening each store backend for tests, empty, against real servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hierograph.graph.factory import open_store
from hierograph.graph.store import GraphStore
from hierograph.settings import load_settings

BACKENDS = ["sqlite", "neo4j"]


def neo4j_wanted() -> bool:
    """`make test` sets HIEROGRAPH_TEST_NEO4J=1 after starting the server; then an unreachable
    server fails the tests instead of skipping them."""
    return os.environ.get("HIEROGRAPH_TEST_NEO4J") == "1"


def wipe_neo4j(store: GraphStore) -> None:
    store._run("MATCH (n) DETACH DELETE n")  # type: ignore[attr-defined]


def open_empty_store(kind: str, home: Path) -> GraphStore:
    settings = load_settings(home=home, store=kind)
    if kind == "neo4j":
        if not neo4j_wanted():
            pytest.skip("Neo4j tests run under `make test` (HIEROGRAPH_TEST_NEO4J=1)")
        store = open_store(settings)
        wipe_neo4j(store)
        store.close()
    return open_store(settings)
