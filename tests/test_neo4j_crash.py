"""Killing Neo4j in the middle of writing a tree leaves the previous tree whole."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hierograph.graph import neo4j_server
from hierograph.graph.factory import open_store
from hierograph.graph.models import Assignment, Hierarchy, Topic
from hierograph.graph.neo4j_password import neo4j_password
from hierograph.settings import load_settings

from .stores import neo4j_wanted
from .test_store_contract import papers, tree

PORT = 7689  # a server of its own: this test kills it


def big_tree(n_topics: int) -> Hierarchy:
    topics = [Topic(id="root", label="All", level=0)] + [
        Topic(id=f"x{i}", label=f"X{i}", parent="root", level=1) for i in range(n_topics)
    ]
    return Hierarchy(
        topics=topics, assignments=[Assignment(paper_id="2501.00000", topic_id="x0", score=1.0)]
    )


def _write_in_progress(store) -> bool:
    rows = store._read("SHOW TRANSACTIONS YIELD currentQuery RETURN currentQuery")
    return any("CREATE (t:Topic)" in (r["currentQuery"] or "") for r in rows)


@pytest.mark.skipif(not neo4j_wanted(), reason="needs Java + Maven; runs under `make test`")
def test_kill_during_tree_write_keeps_previous_tree_and_rerun_completes(tmp_path):
    home = tmp_path / "crash"
    settings = load_settings(
        home=home,
        store="neo4j",
        neo4j_uri=f"bolt://127.0.0.1:{PORT}",
        neo4j_retry_seconds=1.0,
        neo4j_batch_size=500,
    )
    password = neo4j_password(settings, create=True)
    pid = neo4j_server.start(home, password=password, port=PORT)
    try:
        store = open_store(settings)
        ps = papers()
        store.upsert_papers(ps)
        store.replace_hierarchy(tree(ps, "a"))
        before = (store.topics(), store.assignments())

        failure: list[BaseException] = []

        def write() -> None:
            try:
                store.replace_hierarchy(big_tree(300_000))
            except BaseException as e:  # noqa: BLE001 - the kill is expected to surface here
                failure.append(e)

        writer = threading.Thread(target=write)
        writer.start()
        watcher = open_store(settings)
        deadline = time.monotonic() + 60
        while not _write_in_progress(watcher):
            assert time.monotonic() < deadline, "the tree write never started"
            time.sleep(0.05)
        watcher.close()
        os.kill(pid, signal.SIGKILL)
        writer.join(timeout=120)
        assert not writer.is_alive() and failure, "the write must fail when the server dies"
        store.close()

        pid = neo4j_server.start(home, password=password, port=PORT)
        store = open_store(settings)
        assert (store.topics(), store.assignments()) == before
        store.replace_hierarchy(tree(ps, "b"))
        assert {t.id for t in store.topics()} == {"root", "b0", "b1", "b00", "b01", "b10", "b11"}
        store.close()
    finally:
        neo4j_server.stop(home)
    assert not neo4j_server.status(home)["running"]
