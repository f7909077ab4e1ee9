"""The API's per-request query path: the in-memory BM25 index and the batching query encoder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hierograph.api.hybrid import standardized, top_fused, zscore_fusion, zscore_ranking
from hierograph.api.query_encoder import QueryEncoder
from hierograph.api.text_index import TextIndex
from hierograph.api.tree_index import TreeIndex
from hierograph.graph.models import Paper
from hierograph.hierarchy.embed import Embedder, pick_device, query_precision


def paper(pid: str, title: str, abstract: str) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract)


PAPERS = [
    paper("p3", "Aligning language models with human feedback", "We align chat models."),
    paper("p1", "Jailbreak attacks on chatbots", "Jailbreaking prompts bypass safety filters."),
    paper("p2", "DNA sequence alignment", "Aligners for genome reads."),
    paper("p4", "Reward hacking", "Policies exploit reward models."),
    paper("p5", "Untitled", ""),
]


def test_bm25_folds_word_forms_and_drops_stopwords():
    index = TextIndex.from_papers(PAPERS)
    assert len(index) == 5
    # "alignment" meets "Aligning"/"align" (stemmed): both alignment papers, nothing else.
    hits = index.search("the alignment of models", 10)
    assert {pid for pid, _ in hits} >= {"p3", "p2"}
    assert hits[0][0] == "p3"  # "models" is only in p3 and p4
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(s > 0 for _, s in hits)
    assert index.search("jailbreaks", 10)[0][0] == "p1"
    assert index.search("the of and with", 10) == []  # stopwords only
    assert index.search("zebra", 10) == []


def test_bm25_filter_is_exact_and_ties_break_by_id():
    twins = [paper(f"t{i}", "Reward hacking", "Reward hacking, reward hacking.") for i in (3, 1, 2)]
    index = TextIndex.from_papers([*twins, *PAPERS])
    top = index.search("reward hacking", 3)
    assert [pid for pid, _ in top] == ["t1", "t2", "t3"]  # equal scores: by id
    # p4 ranks after the twins globally; within `allowed` it is found whatever n is.
    assert index.search("reward hacking", 1, allowed={"p4", "p2"}) == [
        ("p4", pytest.approx(index.search("reward hacking", 10, allowed={"p4"})[0][1]))
    ]
    assert TextIndex.from_papers([]).search("reward", 5) == []


def test_zscore_fusion_keeps_a_clear_winner_that_one_list_misses():
    index = TextIndex.from_papers(PAPERS)  # paper_ids: p1 .. p5
    bm25 = index.scores("reward models")
    assert bm25 is not None and bm25[index.paper_ids.index("p4")] > 0
    # Vectors in another order, p5 without one: p2 is far above every other paper by cosine
    # and has no word of the query; p4 matches the words and is middling by cosine.
    dense_ids = ["p4", "p2", "p1", "p3"]
    dense = np.array([0.30, 0.95, 0.28, 0.29])
    fused = zscore_fusion(dense, dense_ids, index, bm25, w=1.5)
    by_id = dict(zip(index.paper_ids, fused, strict=True))
    z = dict(zip(dense_ids, standardized(dense), strict=True))
    z_text = dict(zip(index.paper_ids, standardized(bm25), strict=True))
    for pid in dense_ids:  # each paper gets its own cosine, whatever the two orders
        assert by_id[pid] == pytest.approx(z_text[pid] + 1.5 * z[pid])
    assert by_id["p5"] == pytest.approx(z_text["p5"] + 1.5 * min(z.values()))  # no vector
    assert max(by_id, key=by_id.get) == "p2"
    # Rank fusion sees p2 only at rank 1 of one list; with the words it would not lead.
    assert by_id["p4"] > by_id["p1"] and by_id["p4"] > by_id["p3"]
    # No query word in the index: the cosine alone orders the papers.
    none = zscore_fusion(dense, dense_ids, index, None, w=1.0)
    assert [index.paper_ids[i] for i in np.argsort(-none)[:2]] == ["p2", "p4"]
    assert standardized(np.ones(4)).tolist() == [0.0] * 4


def test_zscore_ranking_before_any_paper_is_embedded():
    """Papers ingested, no build yet: no vectors, so full text alone ranks."""
    empty = TreeIndex("", {}, {}, None, {}, {}, {}, {}, {})
    text = TextIndex.from_papers(PAPERS)
    hits = zscore_ranking(empty, text, np.ones(4, np.float32) / 2, "reward models", 1.5, 3)
    assert hits[0][0] == "p4" and len(hits) == 3
    assert zscore_ranking(empty, TextIndex.from_papers([]), np.ones(4), "reward", 1.5, 3) == []


def test_top_fused_filters_exactly_and_breaks_ties_by_id():
    ids = ["a", "b", "c", "d", "e"]
    scores = np.array([0.5, 2.0, 0.5, 3.0, -1.0])
    assert top_fused(ids, scores, 3) == [("d", 3.0), ("b", 2.0), ("a", 0.5)]
    # "e" is last overall; within `allowed` it is found whatever n is.
    assert top_fused(ids, scores, 1, allowed={"e", "zz"}) == [("e", -1.0)]
    assert top_fused(ids, scores, 9, allowed={"c", "a"}) == [("a", 0.5), ("c", 0.5)]
    assert top_fused(ids, scores, 0) == [] and top_fused([], np.zeros(0), 5) == []


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(show_progress=False)


def test_concurrent_queries_are_batched_and_equal_the_builds_vectors(embedder):
    texts = [f"query number {i} about reward models" for i in range(8)]
    release = threading.Event()
    calls: list[int] = []

    def gated(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            release.wait(30)  # hold the worker so the other seven queue up
        return embedder.encode_uncached(batch)

    encoder = QueryEncoder(gated, workers=1, max_batch=16, cache_size=0)
    out: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda i=i: out.update({i: encoder(texts[i])})) for i in range(8)
    ]
    threads[0].start()
    while not calls:
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    while encoder._queue.qsize() < 7:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(30)
    encoder.close()
    assert calls == [1, 7]  # the seven waiting queries went in one forward pass
    build = Embedder(show_progress=False)
    expected = build.encode(texts)
    got = np.stack([out[i] for i in range(8)])
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    if query_precision(build.precision, pick_device(build.device)) == "fp32":
        np.testing.assert_allclose(got, expected, atol=1e-5)
    else:  # queries run a half-precision copy of the model, the build float32
        assert float(np.min(np.sum(got * expected, axis=1))) > 0.9999
        assert not np.allclose(got, expected, atol=1e-6)  # it is the copy that answered


def test_repeats_come_from_memory_and_failures_reach_every_caller(embedder):
    encoder = QueryEncoder(embedder.encode_uncached, workers=2, cache_size=2)
    first = encoder("reward hacking")
    assert encoder.batches_ == 1
    assert encoder("reward hacking") is first  # from the LRU, no forward pass
    encoder("a")
    encoder("b")  # evicts the oldest entry (the cache holds 2)
    encoder("reward hacking")
    assert encoder.batches_ == 4
    encoder.close()

    def broken(batch):
        raise RuntimeError("model gone")

    failing = QueryEncoder(broken, workers=1)
    with pytest.raises(RuntimeError, match="model gone"):
        failing("anything")
    failing.close()


def test_a_worker_gathers_a_batch_only_while_another_is_busy():
    release = threading.Event()
    calls: list[list[str]] = []

    def gated(batch):
        calls.append(list(batch))
        if len(calls) == 1:
            release.wait(30)  # the first worker stays busy
        return np.ones((len(batch), 3), np.float32)

    # A gather window far longer than the test: the second worker must leave it because its
    # batch is full (3), not because the window ran out.
    encoder = QueryEncoder(gated, workers=2, cache_size=0, gather_s=60.0, gather_batch=3)
    threads = [threading.Thread(target=encoder, args=(f"q{i}",)) for i in range(4)]
    threads[0].start()
    while not calls:
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    for t in threads[1:]:
        t.join(30)
    assert not any(t.is_alive() for t in threads[1:])
    assert [len(c) for c in calls] == [1, 3]  # q1..q3 waited for each other, not for q0
    release.set()
    threads[0].join(30)
    # Alone (no other worker busy), a query starts at once: no wait for company.
    done = threading.Thread(target=encoder, args=("alone",))
    done.start()
    done.join(30)
    assert not done.is_alive() and calls[-1] == ["alone"]
    encoder.close()
