"""One real call per LLM path against a running OpenAI-compatible server (opt-in).

Skipped unless HIEROGRAPH_TEST_LLM_API_BASE names the server, e.g. one started by
`bench/llm/serve.sh .llm/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf 8088` after
`bench/llm/setup.sh .llm` (see docs/llm.md):

    HIEROGRAPH_TEST_LLM_API_BASE=http://127.0.0.1:8088/v1 pytest tests/test_llm_live.py

HIEROGRAPH_TEST_LLM_MODEL is the litellm model string (default: openai/<the server's first
model id>). Each path must get a valid answer within two asks; the figures (speed, first-try
validity, label fit) are bench/bench_llm.py's."""

from __future__ import annotations

import json
import os
import urllib.request

import numpy as np
import pytest

from hierograph.api.finder import EmbeddingRanker, LlmRanker
from hierograph.api.tree_index import TreeIndex
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.hierarchy.facets import EmbeddingFacetClassifier
from hierograph.hierarchy.label import KeywordLabeler
from hierograph.hierarchy.tree import Node
from hierograph.jobs.build import to_hierarchy
from hierograph.jobs.components import make_embedder, make_tree_builder, phrase_labeler
from hierograph.llm.client import LlmClient
from hierograph.llm.facets import LlmFacetExtractor
from hierograph.llm.label import LlmLabeler, StructuredLabel
from hierograph.llm.paper_summaries import PaperSummarizer
from hierograph.llm.refine import LlmRefiner

API_BASE = os.environ.get("HIEROGRAPH_TEST_LLM_API_BASE")
pytestmark = pytest.mark.skipif(
    not API_BASE, reason="HIEROGRAPH_TEST_LLM_API_BASE names no running LLM server"
)


@pytest.fixture(scope="module")
def client() -> LlmClient:
    model = os.environ.get("HIEROGRAPH_TEST_LLM_MODEL")
    if not model:
        with urllib.request.urlopen(f"{API_BASE}/models", timeout=10) as reply:
            model = "openai/" + json.load(reply)["data"][0]["id"]
    return LlmClient(model, concurrency=1, timeout=900, api_base=API_BASE, api_key="local")


@pytest.fixture(scope="module")
def demo(built_corpus):
    with SqliteStore(built_corpus.db_path()) as store:
        papers = list(store.iter_papers())
        vectors = store.get_embeddings()
        topics = store.topics()
    X = np.stack([vectors[p.id] for p in papers])
    return built_corpus, papers, X, topics


def test_paper_summary(client, demo):
    _, papers, _, _ = demo
    found = PaperSummarizer(client, max_attempts=2).summarize(papers[:1])
    assert set(found) == {papers[0].id}
    assert found[papers[0].id].problem.endswith((".", "!", "?"))


def test_llm_facets(client, demo):
    _, papers, X, _ = demo
    zero_shot = EmbeddingFacetClassifier(lambda texts: np.zeros((len(texts), X.shape[1])))
    facets = LlmFacetExtractor(client, zero_shot, max_attempts=2).predict(papers[:1], X[:1])
    assert {f.origin for f in facets} == {"llm"}
    assert {f.dimension for f in facets} >= {"contribution", "modality"}


def test_topic_label_and_structured_summary(client, demo):
    _, papers, X, _ = demo
    leaf = Node(members=[0, 1, 2])
    root = Node(members=[0, 1, 2], children=[leaf])
    settings = demo[0]
    # The build's own fallback: phrase labels (jobs.components.make_labeler).
    fallback = phrase_labeler(settings)
    labeler = LlmLabeler(client, fallback, max_attempts=2).fit(papers[:3], X[:3])
    label = labeler.label_tree(root)[id(leaf)]
    assert isinstance(label, StructuredLabel), "the leaf kept its phrase label"
    assert 1 <= len(label.label.split()) <= 6 and label.problem


def test_refine_question(client, demo, tmp_path):
    settings, papers, X, _ = demo
    root = make_tree_builder(settings).fit(X).root_
    labeler = KeywordLabeler().fit([p.text() for p in papers])
    hierarchy = to_hierarchy(root, [p.id for p in papers], labeler)
    refiner = LlmRefiner(
        client,
        budget=1,
        merge_similarity=-1,
        move_margin=-1,
        max_attempts=1,
        log_path=tmp_path / "refine.jsonl",
    )
    _, report = refiner.refine(hierarchy, papers, X)
    assert report.calls == 1 and report.unanswered == 0 and not report.unreachable


def test_finder_ranking(client, demo):
    settings, papers, _, _ = demo
    embedder = make_embedder(settings, show_progress=False)
    with SqliteStore(settings.db_path()) as store:
        index = TreeIndex.from_store(store, embedder.encode)
    candidates = [index.topics[t] for t in index.children[index.root_id]]
    query = embedder.encode([papers[0].title])[0]
    ranker = LlmRanker(client, EmbeddingRanker())
    ranked = ranker.rank(papers[0].title, query, candidates, index)
    assert ranker.fallbacks_ == 0 and len(ranked) == len(candidates)
