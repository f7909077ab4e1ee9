"""Topic ids survive rebuilds where the topic persists."""

from __future__ import annotations

import json
import shutil

import pytest

from hierograph.graph.models import Assignment, Hierarchy, Topic
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.hierarchy.stable_ids import StableIdMatcher
from hierograph.ingest.tabular import parse_jsonl
from hierograph.jobs.build import build_hierarchy

from .conftest import SHARED_ARXIV, make_settings


def tree(groups: dict[str, tuple[str, list[str]]], tag: str) -> Hierarchy:
    """root → level-1 topics → leaves; groups maps leaf id → (parent id, papers)."""
    topics = [Topic(id="root", label="All")]
    for parent in sorted({p for p, _ in groups.values()}):
        topics.append(Topic(id=parent, label=f"{tag} {parent}", parent="root", level=1))
    assignments = []
    for leaf, (parent, papers) in groups.items():
        topics.append(Topic(id=leaf, label=f"{tag} {leaf}", parent=parent, level=2))
        assignments += [Assignment(paper_id=p, topic_id=leaf, score=1.0) for p in papers]
    return Hierarchy(topics=topics, assignments=assignments)


def test_matching_keeps_ids_and_labels_of_persisting_topics():
    old = tree(
        {"L1": ("P1", list("abcdef")), "L2": ("P1", list("ghij")), "L3": ("P2", list("klmn"))},
        "old",
    )
    # New ids (content hashes in a real build): L1 gained a paper, L2 lost half, L3 vanished
    # into a new topic of mostly new papers.
    new = tree(
        {"n1": ("q1", list("abcdefz")), "n2": ("q1", list("gh")), "n3": ("q2", list("kwxy"))}, "new"
    )
    matched, stats = StableIdMatcher(min_jaccard=0.3, keep_label_jaccard=0.6).match(old, new)
    by_id = {t.id: t for t in matched.topics}
    assert "L1" in by_id and by_id["L1"].label == "old L1", "small change: id and label kept"
    assert "L2" in by_id and by_id["L2"].label == "new n2", "big change: id kept, relabeled"
    assert "n3" in by_id and "L3" not in by_id, "too little overlap: a new topic"
    assert by_id["L1"].parent == "P1" and by_id["L2"].parent == "P1"
    assert {a.topic_id for a in matched.assignments} == {"L1", "L2", "n3"}
    assert (stats.kept, stats.new, stats.retired) == (3, 2, 2)  # P1→q1 kept; P2, L3 retired


def test_a_kept_label_keeps_its_summaries_but_an_llm_label_replaces_a_keyword_one():
    groups = {"L1": ("P1", list("abcdef")), "L2": ("P1", list("ghij")), "L3": ("P2", list("klm"))}
    keyword_tree, llm_tree = tree(groups, "kw"), tree(groups, "llm")
    llm_tree = llm_tree.model_copy(
        update={
            "topics": [
                t.model_copy(update={"problem": f"P {t.id}.", "method": "M.", "results": "R."})
                for t in llm_tree.topics
            ]
        }
    )
    matcher = StableIdMatcher(min_jaccard=0.3, keep_label_jaccard=0.6)
    upgraded, stats = matcher.match(keyword_tree, llm_tree)
    leaf = {t.id: t for t in upgraded.topics}["L1"]
    assert (leaf.label, leaf.problem) == ("llm L1", "P L1."), "the LLM name wins over keywords"
    assert stats.relabeled == 5  # every non-root topic got its LLM name

    again = tree(groups, "again")
    rewritten = again.model_copy(
        update={
            "topics": [
                t.model_copy(update={"problem": "Other.", "method": "x.", "results": "y."})
                for t in again.topics
            ]
        }
    )
    kept, stats = matcher.match(upgraded, rewritten)
    leaf = {t.id: t for t in kept.topics}["L1"]
    assert (leaf.label, leaf.problem, leaf.method) == ("llm L1", "P L1.", "M.")
    assert stats.relabeled == 0


def test_a_topic_that_changed_level_keeps_its_id():
    old = tree({"L1": ("P1", list("abcd")), "L2": ("P1", list("efgh"))}, "old")
    flat = Hierarchy(
        topics=[
            Topic(id="root", label="All"),
            Topic(id="x", label="x", parent="root", level=1),
            Topic(id="y", label="y", parent="root", level=1),
        ],
        assignments=[Assignment(paper_id=p, topic_id="x", score=1) for p in "abcd"]
        + [Assignment(paper_id=p, topic_id="y", score=1) for p in "efgh"],
    )
    matched, _ = StableIdMatcher().match(old, flat)
    assert {t.id for t in matched.topics} == {"root", "L1", "L2"}


@pytest.mark.skipif(not SHARED_ARXIV.exists(), reason="needs ../shared/corpus")
def test_rebuild_after_five_percent_more_papers_keeps_most_topic_ids(tmp_path, embedding_cache):
    records = [p for _, p in parse_jsonl(SHARED_ARXIV).papers[:315]]
    home = tmp_path / "home"
    home.mkdir()
    if embedding_cache.exists():
        shutil.copy(embedding_cache, home / "embeddings.sqlite")
    settings = make_settings(home)
    with SqliteStore(settings.db_path()) as store:
        store.upsert_papers(records[:300])
        build_hierarchy(store, settings, show_progress=False)
        before = {t.id for t in store.topics() if t.parent}
        store.upsert_papers(records[300:])
        report = build_hierarchy(store, settings, show_progress=False)
        after = {t.id for t in store.topics() if t.parent}
    kept = len(before & after) / len(before)
    print(
        json.dumps(
            {"topics_before": len(before), "kept_share": round(kept, 3), "ids": report.ids.__dict__}
        )
    )
    assert kept >= 0.9
