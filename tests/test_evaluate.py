import json
import random

import pytest

from hierograph.hierarchy.evaluate import (
    GoldError,
    GoldRecord,
    category_name,
    evaluate,
    label_fit,
    load_gold,
    size_distribution,
)
from hierograph.jobs.components import make_embedder


def _gold_from_tree(store, path, shuffle=False):
    topics = {t.id: t for t in store.topics()}
    leaf = {}
    for a in store.assignments():
        if a.paper_id not in leaf or a.score > leaf[a.paper_id][0]:
            leaf[a.paper_id] = (a.score, a.topic_id)
    lines = []
    for paper in store.iter_papers():
        chain = [topics[leaf[paper.id][1]]]
        while chain[-1].parent and topics[chain[-1].parent].parent:
            chain.append(topics[chain[-1].parent])
        labels = [t.id for t in reversed(chain)]
        # Half the lines match by title only (no id), as gold files built elsewhere do.
        key = {"title": paper.title.upper()} if len(lines) % 2 else {"arxiv_id": paper.id}
        lines.append({**key, "category_path": labels})
    if shuffle:
        paths = [line["category_path"] for line in lines]
        random.Random(3).shuffle(paths)
        lines = [{**line, "category_path": p} for line, p in zip(lines, paths, strict=True)]
    lines.append({"arxiv_id": "9999.99999", "category_path": ["not in the tree"]})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return load_gold(path)


def test_gold_equal_to_the_tree_scores_perfectly(built_store, tmp_path):
    gold = _gold_from_tree(built_store, tmp_path / "gold.jsonl")
    report = evaluate(built_store, gold, gold_depth=1)
    assert report.matched == built_store.paper_count()
    level1 = report.levels[0]
    assert level1.level == 1 and level1.ami == pytest.approx(1.0)
    assert level1.nmi == pytest.approx(1.0) and level1.ari == pytest.approx(1.0)
    assert level1.v_measure == pytest.approx(1.0)
    assert report.best_level == 1
    assert report.leaf_purity == pytest.approx(1.0)
    assert report.one_subtree_share == pytest.approx(1.0)
    deep = evaluate(built_store, gold, gold_depth=3)
    assert deep.leaf_purity == pytest.approx(1.0) and deep.inverse_purity == pytest.approx(1.0)
    assert deep.levels[-1].ami == pytest.approx(1.0)


def test_shuffled_gold_scores_near_zero(built_store, tmp_path):
    # Scored on the full paths (every level's topics as categories): at depth 1 the demo tree
    # can have two top topics of 47 and 2 papers, where chance leaf purity is already 0.96.
    gold = _gold_from_tree(built_store, tmp_path / "gold.jsonl", shuffle=True)
    report = evaluate(built_store, gold, gold_depth=9)
    assert all(abs(s.ami) < 0.2 and abs(s.ari) < 0.2 for s in report.levels)
    assert report.leaf_purity < 0.8


def test_bad_gold_lines_name_the_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        '{"arxiv_id": "1", "category_path": ["a"]}\n{"title": "x", "category_path": []}\n'
    )
    with pytest.raises(GoldError, match="gold.jsonl:2"):
        load_gold(path)


def test_size_distribution_counts_each_level(built_store):
    sizes = size_distribution(built_store.topics())
    assert sizes[0]["topics"] == 1 and sizes[0]["max"] == built_store.paper_count()
    assert sum(1 for t in built_store.topics() if t.level == 1) == sizes[1]["topics"]


def test_label_fit_is_high_when_gold_names_are_the_labels_and_low_when_unrelated(
    built_corpus, built_store
):
    """Gold categories = the level-2 topics, named like them (with an outline number): each
    category's best-overlapping topic is itself and the cosine is 1. Renamed to unrelated
    words, the same overlap gives a low fit."""
    topics = {t.id: t for t in built_store.topics()}
    leaf = {}
    for a in built_store.assignments():
        if a.paper_id not in leaf or a.score > leaf[a.paper_id][0]:
            leaf[a.paper_id] = (a.score, a.topic_id)
    gold, renamed = [], []
    for pid, (_, tid) in leaf.items():
        chain = [topics[tid]]
        while chain[-1].parent:
            chain.append(topics[chain[-1].parent])
        top = chain[-2] if len(chain) >= 2 else chain[0]
        name = f"3 · {top.label}"
        gold.append(GoldRecord(id=pid, category_path=[name]))
        renamed.append(GoldRecord(id=pid, category_path=[f"kitchen recipes {top.id}"]))
    embed = make_embedder(built_corpus, False).encode
    fit = label_fit(built_store, gold, embed)
    assert fit.categories and all(c.f1 == pytest.approx(1.0) for c in fit.categories)
    assert fit.score == pytest.approx(1.0, abs=1e-3)
    assert all(c.papers >= 5 for c in fit.categories)
    assert label_fit(built_store, renamed, embed).score < 0.5


def test_category_names_lose_their_outline_numbers():
    assert category_name("5 · Mitigation Through Structural Intervention") == (
        "Mitigation Through Structural Intervention"
    )
    assert category_name("2.1 Reward hacking") == "Reward hacking"
    assert category_name("Agent foundations") == "Agent foundations"
    assert category_name("II. Iterated amplification") == "Iterated amplification"
    assert category_name("X risk") == "X risk"
