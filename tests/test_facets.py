"""Facets from the zero-shot classifier (default) and from the LLM (mocked through litellm)."""

import json

import numpy as np

from hierograph.hierarchy.facets import (
    PROTOTYPES,
    EmbeddingFacetClassifier,
    facet_counts,
)
from hierograph.jobs.components import make_embedder
from hierograph.llm.client import LlmClient
from hierograph.llm.facets import LlmFacetExtractor


def test_every_paper_gets_one_value_per_closed_dimension(built_store):
    ids = {p.id for p in built_store.iter_papers()}
    for dimension, values in PROTOTYPES.items():
        facets = built_store.facets(dimension=dimension)
        assert sorted(f.paper_id for f in facets) == sorted(ids)
        assert {f.value for f in facets} <= set(values)
    titles = {p.id: p.title for p in built_store.iter_papers()}
    surveys = [
        f
        for f in built_store.facets(dimension="contribution")
        if "survey" in titles[f.paper_id].lower()
    ]
    assert surveys and all(f.value == "survey" for f in surveys)
    modality = {titles[f.paper_id]: f.value for f in built_store.facets(dimension="modality")}
    assert modality["Aligning Multimodal LLM with Human Preference: A Survey"] in {
        "multimodal",
        "vision-language",
    }
    counts = facet_counts(built_store.facets(), ids, "modality")
    assert sum(n for _, n in counts) == len(ids) and counts[0][0] == "text LLM"


def test_llm_facets_validated_with_fallback(built_corpus, built_store, tmp_path):
    papers = list(built_store.iter_papers())[:6]
    vectors = built_store.get_embeddings([p.id for p in papers])
    X = np.stack([vectors[p.id] for p in papers])

    def answer(messages):
        if papers[0].title in messages[1]["content"]:
            return json.dumps(
                {"contribution": "a poem", "modality": "text LLM", "problem": "x", "technique": "y"}
            )
        return json.dumps(
            {
                "contribution": "method",
                "modality": "text LLM",
                "problem": "Aligning models with preferences",
                "technique": "Preference optimization",
            }
        )

    client = LlmClient("openai/gpt-4o-mini", cache_path=tmp_path / "c.sqlite", mock=answer)
    zero_shot = EmbeddingFacetClassifier(make_embedder(built_corpus, False).encode).fit()
    facets = LlmFacetExtractor(client, zero_shot).predict(papers, X)
    first = [f for f in facets if f.paper_id == papers[0].id]
    assert {f.origin for f in first} <= {"embedding", "rule"}, "invalid answers fall back"
    assert {f.dimension for f in first} == {"contribution", "modality"}
    second = {f.dimension: f for f in facets if f.paper_id == papers[1].id}
    assert second["technique"].value == "preference optimization"
    assert second["contribution"].origin == "llm" and len(second) == 4
    assert client.usage.calls == len(papers) + 1, "one re-ask for the invalid answer"


def test_a_build_makes_one_llm_client_and_reports_the_facets_calls(
    built_corpus, embedding_cache, tmp_path, monkeypatch
):
    """Facets, paper summaries and topic names share the build's one client, so the report's
    LLM line counts every call, the facets' included."""
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.jobs import components
    from hierograph.jobs.build import build_hierarchy
    from hierograph.llm.facets import FACET_PROMPT

    from .conftest import seeded_home
    from .test_paper_summaries import honest_summary, is_summary_prompt, topic_answer

    asked: list[str] = []

    def answer(messages) -> str:
        if messages[0]["content"] == FACET_PROMPT:
            asked.append("facets")
            return json.dumps(
                {
                    "contribution": "method",
                    "modality": "text LLM",
                    "problem": "Aligning models with preferences",
                    "technique": "Preference optimization",
                }
            )
        if is_summary_prompt(messages):
            asked.append("summary")
            return honest_summary(messages)
        asked.append("label")
        return topic_answer(messages)

    made: list[LlmClient] = []

    def mocked_client(settings):
        made.append(LlmClient(settings.llm, cache_path=settings.llm_cache_path(), mock=answer))
        return made[-1]

    monkeypatch.setattr(components, "client_from_settings", mocked_client)
    settings = seeded_home(tmp_path / "home", embedding_cache).model_copy(
        update={"llm": "openai/gpt-4o-mini", "llm_facets": True, "llm_paper_summaries": True}
    )
    with SqliteStore(built_corpus.db_path()) as source, SqliteStore(settings.db_path()) as store:
        store.upsert_papers(list(source.iter_papers()))
        report = build_hierarchy(store, settings, show_progress=False)
        llm_facets = [f for f in store.facets(dimension="technique") if f.origin == "llm"]
    papers = 49
    assert len(made) == 1, "one LLM client per build"
    assert asked.count("facets") == papers and asked.count("summary") == papers
    assert len(llm_facets) == papers
    assert asked.count("label") > 0
    assert f"LLM: {len(asked)} calls" in report.llm, report.llm
