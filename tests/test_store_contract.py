"""One contract for both store backends: every operation, the same answers."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from hierograph.graph.factory import open_store
from hierograph.graph.models import Assignment, Correction, Hierarchy, Paper, PaperSummary, Topic
from hierograph.graph.paper_source import StoredPapers
from hierograph.graph.store import SCHEMA_VERSION, GraphStore, StoreError
from hierograph.graph.sync import copy_graph
from hierograph.settings import load_settings

from .stores import BACKENDS, open_empty_store

DIM = 16


def papers(n: int = 30) -> list[Paper]:
    words = ["reward", "preference", "decoding", "safety", "interpretability", "dna"]
    return [
        Paper(
            id=f"2501.{i:05d}",
            arxiv_id=f"2501.{i:05d}",
            title=f"Paper {i} on {words[i % len(words)]}",
            abstract=f"We study {words[i % len(words)]} and {words[(i + 1) % len(words)]} "
            f"in language models, number {i}.",
            authors=[f"Author {i}"],
            published=f"2025-01-{1 + i % 28:02d}",
            code_urls=[f"https://github.com/x/p{i}"] if i % 3 == 0 else [],
        )
        for i in range(n)
    ]


def vectors(ps: list[Paper]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {p.id: rng.normal(size=DIM).astype(np.float32) for p in ps}


def tree(ps: list[Paper], tag: str = "a") -> Hierarchy:
    """root → two topics → two leaves each; papers spread over the four leaves."""
    topics = [Topic(id="root", label="All", level=0, size=len(ps))]
    leaves = []
    for i in range(2):
        topics.append(
            Topic(
                id=f"{tag}{i}",
                label=f"Topic {tag}{i}",
                parent="root",
                level=1,
                keywords=["k1", "k2"],
                size=0,
            )
        )
        for j in range(2):
            leaf = Topic(
                id=f"{tag}{i}{j}",
                label=f"Leaf {tag}{i}{j}",
                parent=f"{tag}{i}",
                level=2,
                summary="s",
                keywords=["k"],
                size=0,
            )
            topics.append(leaf)
            leaves.append(leaf.id)
    assignments = [
        Assignment(paper_id=p.id, topic_id=leaves[k % 4], score=round(0.5 + (k % 5) / 10, 2))
        for k, p in enumerate(ps)
    ]
    return Hierarchy(topics=topics, assignments=assignments)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> GraphStore:
    s = open_empty_store(request.param, tmp_path / request.param)
    yield s
    s.close()


def test_upsert_is_idempotent_and_merges(store):
    ps = papers()
    first = store.upsert_papers(ps)
    assert (first.new, first.updated, first.unchanged) == (30, 0, 0)
    again = store.upsert_papers(ps)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 30)
    assert store.paper_count() == 30
    assert [p.id for p in store.iter_papers()] == sorted(p.id for p in ps)
    assert store.get_paper(ps[3].id) == ps[3]
    assert store.get_paper("nope") is None

    extra = ps[0].model_copy(
        update={"doi": "10.1/x", "authors": ["Author 0", "New"], "abstract": ""}
    )
    result = store.upsert_papers([extra])
    assert (result.new, result.updated) == (0, 1)
    merged = store.get_paper(ps[0].id)
    assert merged.doi == "10.1/x" and merged.authors == ["Author 0", "New"]
    assert merged.abstract == ps[0].abstract, "an upsert never empties a field"
    assert store.find_paper_by_title_key("paper 3 on safety").id == ps[3].id


def test_papers_by_id_and_ids_alone_stream_in_chunks(store):
    """get_papers answers in the order asked, skipping unknown ids; paper_ids is the order of
    iter_papers and filters on having an embedding; StoredPapers reads the same papers
    through them, chunk by chunk (the build's papers and texts)."""
    ps = papers(25)
    store.upsert_papers(ps[::-1])  # insertion order is not id order
    by_id = {p.id: p for p in ps}
    ids = sorted(by_id)
    assert store.paper_ids() == ids == [p.id for p in store.iter_papers()]
    asked = [ids[7], "nope", ids[2], ids[7], ids[20]]
    assert store.get_papers(asked) == [by_id[ids[7]], by_id[ids[2]], by_id[ids[7]], by_id[ids[20]]]
    assert store.get_papers([]) == []
    assert store.get_papers(ids) == [by_id[i] for i in ids]
    many = [f"none{i}" for i in range(2500)] + [ids[0]]  # more ids than one query binds
    assert store.get_papers(many) == [by_id[ids[0]]]
    store.set_embeddings({pid: vectors(ps)[pid] for pid in ids[:10]})
    assert store.paper_ids(embedded=True) == ids[:10]
    assert store.paper_ids(embedded=False) == ids[10:]

    stream = StoredPapers(store, chunk=4)
    assert len(stream) == 25 and stream.ids == ids
    assert list(stream) == list(store.iter_papers())
    assert stream[3] == by_id[ids[3]] and stream[-1] == by_id[ids[-1]]
    assert stream[5:9] == [by_id[i] for i in ids[5:9]]
    texts = stream.texts()
    assert list(texts) == [by_id[i].text() for i in ids]
    assert texts[np.int64(4)] == by_id[ids[4]].text() and len(texts) == 25
    some = StoredPapers(store, [ids[9], ids[1]])
    assert [p.id for p in some] == [ids[9], ids[1]]


def test_tree_queries_and_assignments(store):
    ps = papers()
    store.upsert_papers(ps)
    store.replace_hierarchy(tree(ps))
    assert store.root().id == "root"
    assert [t.id for t in store.children("a0")] == ["a00", "a01"]
    assert [t.id for t in store.ancestors("a01")] == ["root", "a0", "a01"]
    assert store.ancestors("missing") == []
    assert store.get_topic("a10").parent == "a1" and store.get_topic("a10").keywords == ["k"]
    assert [t.level for t in store.topics()] == [0, 1, 1, 2, 2, 2, 2]
    expected = {p.id for k, p in enumerate(ps) if k % 4 in (0, 1)}
    assert store.subtree_paper_ids("a0") == expected
    assert store.subtree_paper_ids("root") == {p.id for p in ps}

    leaf = store.assignments(topic_id="a00")
    assert [a.score for a in leaf] == sorted((a.score for a in leaf), reverse=True)
    assert all(a.origin == "cluster" for a in leaf)
    store.upsert_assignments(
        [Assignment(paper_id=ps[0].id, topic_id="a11", score=0.9, origin="human")]
    )
    mine = {a.topic_id: a for a in store.assignments(paper_id=ps[0].id)}
    assert set(mine) == {"a00", "a11"} and mine["a11"].origin == "human"
    store.upsert_assignments(
        [Assignment(paper_id=ps[0].id, topic_id="a11", score=0.4, origin="corrector")]
    )
    assert store.assignments(paper_id=ps[0].id, topic_id="a11")[0].score == 0.4
    assert store.remove_assignment(ps[0].id, "a11") is True
    assert store.remove_assignment(ps[0].id, "a11") is False


def test_rebuild_replaces_tree_but_keeps_papers_corrections_and_embeddings(store):
    ps = papers()
    store.upsert_papers(ps)
    store.set_embeddings(vectors(ps))
    store.replace_hierarchy(tree(ps, "a"))
    store.append_correction(Correction(kind="rename", actor="ann", payload={"topic": "a0"}))
    store.replace_hierarchy(tree(ps, "b"))
    assert {t.id for t in store.topics()} == {"root", "b0", "b1", "b00", "b01", "b10", "b11"}
    assert {a.topic_id for a in store.assignments()} == {"b00", "b01", "b10", "b11"}
    assert len(store.assignments()) == 30
    assert store.paper_count() == 30
    assert [c.kind for c in store.corrections()] == ["rename"]
    assert len(store.get_embeddings()) == 30


def test_tree_and_its_meta_are_written_together_or_not_at_all(store):
    ps = papers()
    store.upsert_papers(ps)
    store.replace_hierarchy(tree(ps, "a"), meta={"replayed": "a", "other": "1"})
    assert (store.get_meta("replayed"), store.get_meta("other")) == ("a", "1")
    before = (store.topics(), store.assignments())
    broken = tree(ps, "b")
    # Two topics with one id: the write fails part way, after the old tree was deleted.
    broken.topics.append(broken.topics[-1].model_copy())
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own integrity error
        store.replace_hierarchy(broken, meta={"replayed": "b"})
    assert (store.topics(), store.assignments()) == before
    assert store.get_meta("replayed") == "a"
    store.replace_hierarchy(tree(ps, "b"), meta={"replayed": "b"})
    assert store.get_meta("replayed") == "b" and store.get_meta("other") == "1"


def test_embeddings_and_semantic_search(store):
    ps = papers()
    store.upsert_papers(ps)
    vs = vectors(ps)
    store.set_embeddings(vs)
    got = store.get_embeddings([ps[1].id, ps[2].id, "missing"])
    assert set(got) == {ps[1].id, ps[2].id}
    np.testing.assert_allclose(got[ps[1].id], vs[ps[1].id], rtol=1e-6)
    hits = store.semantic_search(vs[ps[4].id], k=5)
    assert hits[0][0] == ps[4].id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 5 and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_fulltext_search(store):
    store.upsert_papers(papers())
    hits = store.fulltext_search("interpretability", k=50)
    ids = {pid for pid, _ in hits}
    assert ids == {p.id for k, p in enumerate(papers()) if 4 in (k % 6, (k + 1) % 6)}
    # Query syntax in user text is taken as words, never as an error.
    ranked = store.fulltext_search('interpretability AND ("', k=len(ids))
    assert {i for i, _ in ranked} == ids
    assert store.fulltext_search('( " *', k=5) == []
    assert store.fulltext_search("zebra", k=5) == []


@pytest.mark.parametrize("kind", BACKENDS)
def test_change_token_moves_with_every_write_from_any_handle(kind, tmp_path):
    home = tmp_path / kind
    store = open_empty_store(kind, home)
    other = open_store(load_settings(home=home, store=kind))
    try:
        before = store.change_token()
        if before is None:  # a backend that cannot tell says so, always
            store.upsert_papers(papers(3))
            assert store.change_token() is None
            return
        assert store.change_token() == before  # reading changes nothing
        store.upsert_papers(papers(3))
        mine = store.change_token()
        assert mine != before
        other.upsert_topics([Topic(id="root", label="All", level=0, size=3)])
        assert store.change_token() != mine  # another handle's commit is seen too
    finally:
        other.close()
        store.close()


def test_corrections_log_is_append_only(store):
    first = store.append_correction(Correction(kind="move", actor="ann", payload={"p": "1"}))
    second = store.append_correction(Correction(kind="undo", actor="bob", payload={"of": 1}))
    assert second.id > first.id
    log = store.corrections()
    assert [(c.kind, c.actor, c.payload) for c in log] == [
        ("move", "ann", {"p": "1"}),
        ("undo", "bob", {"of": 1}),
    ]
    assert not any(
        name.startswith(("delete", "remove")) and "correction" in name for name in dir(store)
    )


def test_sqlite_refuses_deleting_corrections(tmp_path):
    s = open_empty_store("sqlite", tmp_path)
    s.append_correction(Correction(kind="move", actor="ann"))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        s._db.execute("DELETE FROM corrections")
    s.close()


def test_meta_and_newer_schema_is_refused(store, tmp_path):
    store.set_meta("watermark:arxiv", "2025-01-01")
    store.set_meta("watermark:arxiv", "2025-02-01")
    assert store.get_meta("watermark:arxiv") == "2025-02-01"
    assert store.get_meta("missing") is None
    assert store.all_meta()["watermark:arxiv"] == "2025-02-01"
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer than this Hierograph"):
        type(store)(**_reopen_args(store))
    store.set_meta("schema_version", str(SCHEMA_VERSION))


def _reopen_args(store) -> dict:
    if hasattr(store, "path"):
        return {"path": store.path}
    from hierograph.graph.neo4j_password import neo4j_password
    from hierograph.settings import load_settings

    s = load_settings()
    return {
        "uri": s.neo4j_uri,
        "user": s.neo4j_user,
        "password": neo4j_password(s),
        "database": s.neo4j_database,
    }


def test_both_stores_agree_on_semantic_search_and_sync_copies_everything(tmp_path):
    lite = open_empty_store("sqlite", tmp_path / "lite")
    neo = open_empty_store("neo4j", tmp_path / "neo")
    ps = papers(60)
    vs = vectors(ps)
    lite.upsert_papers(ps)
    lite.set_embeddings(vs)
    lite.replace_hierarchy(tree(ps))
    lite.append_correction(Correction(kind="move", actor="ann", payload={"p": ps[0].id}))
    lite.set_meta("last_build", "x")
    lite.set_layout({p.id: (i * 0.5, -i * 0.25) for i, p in enumerate(ps)})
    lite.set_paper_summaries(
        {p.id: PaperSummary(problem=f"P{i}.", method="M.", results="R.") for i, p in enumerate(ps)}
    )
    counts = copy_graph(lite, neo)
    assert counts == {"papers": 60, "topics": 7, "corrections": 1}
    assert copy_graph(lite, neo)["corrections"] == 0, "sync is idempotent"
    for q in range(5):
        query = vs[ps[q * 7].id] + 0.3 * vs[ps[q].id]
        a, b = lite.semantic_search(query, 10), neo.semantic_search(query, 10)
        assert [i for i, _ in a] == [i for i, _ in b]
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
    assert list(neo.iter_papers()) == list(lite.iter_papers())
    assert neo.paper_summaries() == lite.paper_summaries() and len(neo.paper_summaries()) == 60
    assert neo.topics() == lite.topics()
    assert neo.assignments() == lite.assignments()
    assert [c.payload for c in neo.corrections()] == [c.payload for c in lite.corrections()]
    assert neo.get_meta("last_build") == "x"
    assert neo.layout() == lite.layout() and len(neo.layout()) == 60
    back = open_empty_store("sqlite", tmp_path / "back")
    copy_graph(neo, back)
    assert list(back.iter_papers()) == list(lite.iter_papers())
    assert back.assignments() == lite.assignments()
    for s in (lite, neo, back):
        s.close()


def test_map_layout_is_stored_per_paper_and_replaced_after_a_build(store):
    ps = papers(6)
    store.upsert_papers(ps)
    assert store.layout() == {}
    store.set_layout({ps[2].id: (1.5, -2.0), ps[0].id: (0.0, 3.25), "no-such-paper": (9.0, 9.0)})
    assert store.layout() == {ps[0].id: (0.0, 3.25), ps[2].id: (1.5, -2.0)}
    assert list(store.layout()) == sorted(store.layout()), "ordered by id"
    # A refresh adds papers and keeps the others; a re-ingest leaves coordinates alone.
    store.set_layout({ps[4].id: (4.0, 4.0), ps[2].id: (1.0, 1.0)})
    store.replace_papers([ps[4].model_copy(update={"title": "Renamed"})])
    assert store.layout() == {ps[0].id: (0.0, 3.25), ps[2].id: (1.0, 1.0), ps[4].id: (4.0, 4.0)}
    # A build's new layout replaces the whole map.
    store.set_layout({ps[1].id: (2.0, 2.0)}, replace=True)
    assert store.layout() == {ps[1].id: (2.0, 2.0)}


def test_older_schema_is_migrated(store):
    store.set_meta("schema_version", "0")
    reopened = type(store)(**_reopen_args(store))
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION)
    reopened.close()


def test_topics_are_edited_in_place(store):
    ps = papers()
    store.upsert_papers(ps)
    store.replace_hierarchy(tree(ps))
    renamed = store.get_topic("a00").model_copy(update={"label": "Renamed", "keywords": ["z"]})
    new_leaf = Topic(id="a02", label="New leaf", parent="a0", level=2)
    moved = store.get_topic("a10").model_copy(update={"parent": "a0"})
    store.upsert_topics([renamed, new_leaf, moved])
    assert store.get_topic("a00").label == "Renamed" and store.get_topic("a00").keywords == ["z"]
    assert [t.id for t in store.children("a0")] == ["a00", "a01", "a02", "a10"]
    assert [t.id for t in store.children("a1")] == ["a11"]
    assert len(store.assignments(topic_id="a00")) > 0, "editing a topic keeps its papers"
    with pytest.raises(StoreError, match="subtopics"):
        store.delete_topic("a0")
    store.delete_topic("a00")
    assert store.get_topic("a00") is None and store.assignments(topic_id="a00") == []
    assert len(store.topics()) == 7


def test_facets_replace_per_dimension(store):
    from hierograph.graph.models import Facet

    ps = papers(3)
    store.upsert_papers(ps)
    store.replace_facets(
        [
            Facet(paper_id=ps[0].id, dimension="contribution", value="survey", score=0.9),
            Facet(paper_id=ps[0].id, dimension="modality", value="text LLM", score=0.8),
            Facet(paper_id=ps[1].id, dimension="contribution", value="method", score=0.7),
        ]
    )
    store.replace_facets(
        [
            Facet(
                paper_id=ps[0].id, dimension="contribution", value="method", score=0.6, origin="llm"
            )
        ]
    )
    mine = store.facets(paper_id=ps[0].id)
    assert [(f.dimension, f.value, f.origin) for f in mine] == [
        ("contribution", "method", "llm"),
        ("modality", "text LLM", "embedding"),
    ]
    assert [f.paper_id for f in store.facets(dimension="contribution")] == [ps[0].id, ps[1].id]


def test_paper_summaries_are_stored_kept_by_reingest_and_go_stale_with_the_text(store):
    ps = papers(4)
    store.upsert_papers(ps)
    one = PaperSummary(problem="P0.", method="M0.", results="R0.")
    two = PaperSummary(problem="P1.", method="M1.", results="R1.")
    assert store.set_paper_summaries({ps[0].id: one, ps[1].id: two, "unknown": one}) == 2
    assert store.paper_summaries() == {ps[0].id: one, ps[1].id: two}
    assert store.paper_summaries([ps[1].id, ps[2].id]) == {ps[1].id: two}
    got = store.get_paper(ps[0].id)
    assert (got.problem, got.method, got.results) == ("P0.", "M0.", "R0.")
    assert got.summary_of == ps[0].text_hash()
    # Re-ingesting the same record (no summary in it) keeps the summary.
    assert store.upsert_papers([ps[0]]).unchanged == 1
    assert store.paper_summaries([ps[0].id]) == {ps[0].id: one}
    # A new abstract (a newer arXiv version) leaves the old summary stale: no longer current.
    changed = store.get_paper(ps[1].id).model_copy(update={"abstract": "A different abstract."})
    store.replace_papers([changed])
    assert ps[1].id not in store.paper_summaries()
    assert store.get_paper(ps[1].id).problem == "P1.", "stale, not lost"
    # None clears.
    store.set_paper_summaries({ps[0].id: None})
    got = store.get_paper(ps[0].id)
    assert (got.problem, got.method, got.results, got.summary_of) == (None, None, None, None)
    assert store.paper_summaries() == {}
    assert store.get_paper(ps[3].id) == ps[3], "other papers untouched"


def test_structured_topic_summaries_round_trip(store):
    ps = papers(8)
    store.upsert_papers(ps)
    h = tree(ps)
    structured = h.topics[1].model_copy(
        update={"problem": "What they solve.", "method": "How.", "results": "What they found."}
    )
    store.replace_hierarchy(
        h.model_copy(update={"topics": [h.topics[0], structured, *h.topics[2:]]})
    )
    got = store.get_topic(structured.id)
    assert (got.problem, got.method, got.results) == (
        "What they solve.",
        "How.",
        "What they found.",
    )
    assert store.get_topic("a00").problem == "", "keyword-labelled topics stay empty"
    store.upsert_topics([got.model_copy(update={"results": "Revised."})])
    assert store.get_topic(structured.id).results == "Revised."
    assert store.topics()[1] == store.get_topic(structured.id)


def test_version_1_store_is_migrated_and_keeps_its_data(store):
    ps = papers(3)
    store.upsert_papers(ps)
    store.replace_hierarchy(tree(ps))
    store.set_meta("schema_version", "1")
    reopened = type(store)(**_reopen_args(store))
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION) == "2"
    assert list(reopened.iter_papers()) == ps
    assert reopened.paper_summaries() == {}
    assert all(t.problem == "" for t in reopened.topics())
    summary = PaperSummary(problem="P.", method="M.", results="R.")
    assert reopened.set_paper_summaries({ps[2].id: summary}) == 1
    assert reopened.paper_summaries() == {ps[2].id: summary}
    reopened.close()
