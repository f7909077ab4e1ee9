"""The finder: tree navigation with embedding ranking, with an LLM ranking through litellm
(mock_response, which exercises litellm's real completion path), its fallback, and the flat
baseline behind the same interface."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import numpy as np
import pytest

from hierograph.api import queries
from hierograph.api.context import ApiContext, api_context
from hierograph.api.finder import EmbeddingRanker, LlmRanker, TreeFinder, parse_ranking
from hierograph.api.hybrid import Blend, HybridFinder
from hierograph.llm.client import LlmClient
from hierograph.settings import Settings


@pytest.fixture(scope="module")
def ctx(built_corpus: Settings) -> Iterator[ApiContext]:
    with api_context(built_corpus) as c:
        yield c


MODEL_ID = "openai/gpt-4o-mini"


def _is_chain(ctx: ApiContext, path: list) -> bool:
    index = ctx.tree_index()
    return (
        path[0].id == index.root_id
        and index.is_leaf(path[-1].id)
        and all(c.parent == p.id for p, c in zip(path, path[1:], strict=False))
    )


def test_tree_finder_finds_papers_by_title_and_reports_its_path(ctx: ApiContext) -> None:
    papers = [p for p in ctx.store.iter_papers()][:12]
    finder = queries.make_finder(ctx, "tree")
    found = 0
    for p in papers:
        result = finder.find(p.title, 5)
        assert _is_chain(ctx, result.path) and result.steps >= 1
        assert len(result.hits) <= 5
        # The path leads to the leaf of the best hit.
        leaves = {a.topic_id for a in ctx.store.assignments(paper_id=result.hits[0][0])}
        assert result.path[-1].id in leaves
        found += p.id in [pid for pid, _ in result.hits]
    assert found >= 10


def test_beam_one_follows_the_best_child_at_each_level(ctx: ApiContext) -> None:
    paper = next(iter(ctx.store.iter_papers()))
    ranker = EmbeddingRanker(ctx.settings.finder_centroid_weight)
    result = TreeFinder(ctx.tree_index, ctx.embed, ranker, beam=1).find(paper.title, 3)
    index = ctx.tree_index()
    query = ctx.embed(paper.title)
    for parent, child in zip(result.path, result.path[1:], strict=False):
        options = [index.topics[c] for c in index.children[parent.id]]
        assert ranker.rank(paper.title, query, options, index)[0][0] == child.id
    assert result.steps == len(result.path) - 1


def test_llm_ranker_drives_navigation(ctx: ApiContext) -> None:
    """The mock LLM always prefers the last candidate listed; with beam 1 the finder must take
    exactly that route."""
    prompts: list[str] = []

    def last_first(messages: list[dict[str, str]]) -> str:
        prompts.append(messages[-1]["content"])
        n = messages[-1]["content"].count("\n[")
        return json.dumps({"ranking": list(range(n, 0, -1))})

    client = LlmClient("openai/gpt-4o-mini", mock=last_first)
    index = ctx.tree_index()
    description = "a paper about reward models for preference learning"
    ranker = LlmRanker(client, EmbeddingRanker())
    result = TreeFinder(ctx.tree_index, ctx.embed, ranker, beam=1).find(description, 3)
    # Candidates are listed in embedding order, so "last listed" is the embedding's last.
    query = ctx.embed(description)
    expected, node = [index.root_id], index.root_id
    while index.children[node]:
        kids = [index.topics[c] for c in index.children[node]]
        node = EmbeddingRanker().rank(description, query, kids, index)[-1][0]
        expected.append(node)
    assert [t.id for t in result.path] == expected
    assert client.usage.calls == len(prompts) >= 1 and ranker.fallbacks_ == 0
    assert description in prompts[0] and index.topics[expected[1]].label in prompts[0]
    # The papers come from the leaf the LLM chose.
    assert {pid for pid, _ in result.hits} <= set(index.direct[expected[-1]])


def test_a_model_that_echoes_the_list_keeps_the_embedding_order(ctx: ApiContext) -> None:
    """The 0.5B model answered {"ranking": [1, 2, ..., n]} to every ranking question."""

    def echo(messages: list[dict[str, str]]) -> str:
        n = messages[-1]["content"].count("\n[")
        return json.dumps({"ranking": list(range(1, n + 1))})

    description = "a paper about reward models for preference learning"
    with_llm = queries.find(ctx, description, 3, "tree", llm=LlmClient(MODEL_ID, mock=echo))
    assert with_llm == queries.find(ctx, description, 3, "tree")


def test_unusable_llm_answers_fall_back_to_embeddings(ctx: ApiContext) -> None:
    client = LlmClient("openai/gpt-4o-mini", mock=lambda messages: "I think the second one.")
    description = next(iter(ctx.store.iter_papers())).title
    with_llm = queries.find(ctx, description, 3, "tree", llm=client)
    plain = queries.find(ctx, description, 3, "tree")
    assert with_llm == plain and client.usage.calls >= 1


def test_parse_ranking_rejects_nonsense() -> None:
    assert parse_ranking('Sure: {"ranking": [2, 9, 1, 2]}', 3) == [1, 0]
    for bad in ("no json", '{"ranking": "first"}', '{"ranking": [7]}'):
        with pytest.raises(ValueError):
            parse_ranking(bad, 3)


def test_flat_finder_has_the_same_interface(ctx: ApiContext) -> None:
    paper = list(ctx.store.iter_papers())[5]
    result = queries.make_finder(ctx, "flat").find(paper.title, 4)
    assert result.path == [] and result.steps == 1 and result.strategy == "flat"
    assert result.hits[0][0] == paper.id and len(result.hits) == 4


def test_tree_index_is_cached_and_its_subtrees_nest(ctx: ApiContext) -> None:
    first = ctx.tree_index()
    assert ctx.tree_index() is first  # unchanged tree: no rebuild
    assert set(first.subtree[first.root_id]) == {a.paper_id for a in ctx.store.assignments()}
    for tid, kids in first.children.items():
        for c in kids:
            assert first.subtree[c] <= first.subtree[tid]


def test_hybrid_is_the_default_and_finds_papers_by_title(ctx: ApiContext) -> None:
    finder = queries.make_finder(ctx)
    assert finder.strategy == "hybrid"
    index = ctx.tree_index()
    for p in list(ctx.store.iter_papers())[:8]:
        result = finder.find(p.title, 5)
        assert result.hits[0][0] == p.id and result.steps == 1
        # The path ends in the best hit's topic that matches the description best.
        assert result.path and result.path[0].id == index.root_id
        assert result.path[-1].id in index.paper_topics[p.id]


def test_hybrid_blend_weights_decide_the_order(ctx: ApiContext) -> None:
    finder = queries.make_finder(ctx, "hybrid")
    found = finder.candidates_for("reward models trained from human preferences")
    assert len(found.ids) == min(ctx.settings.finder_candidates, len(ctx.tree_index().paper_ids))
    for column, blend in enumerate(
        [Blend(1, 0, 0, 0), Blend(0, 1, 0, 0), Blend(0, 0, 1, 0), Blend(0, 0, 0, 1)]
    ):
        scores = [s for _, s in found.rank(blend)]
        assert scores == sorted(found.features[:, column].tolist(), reverse=True)
    # Fused scores are scaled to at most 1 (rank 1 in both lists); cosines are cosines.
    assert found.features[:, 0].max() <= 1.0 + 1e-9 and abs(found.features[:, 1]).max() <= 1.0001


def test_hybrid_fusion_is_a_setting(ctx: ApiContext) -> None:
    """z-score fusion is the default; rank fusion stays available, and both find by title."""
    description = "reward models trained from human preferences"
    zscore = queries.make_finder(ctx, "hybrid")
    assert isinstance(zscore, HybridFinder) and zscore.fusion == "zscore"
    rrf_ctx = ApiContext(
        ctx.settings.model_copy(update={"api_fusion": "rrf"}), ctx.store, ctx.embedder
    )
    from_settings = queries.make_finder(rrf_ctx, "hybrid")
    assert isinstance(from_settings, HybridFinder) and from_settings.fusion == "rrf"
    rrf = dataclasses.replace(zscore, fusion="rrf")  # this context's query encoder
    a, b = zscore.candidates_for(description), rrf.candidates_for(description)
    assert a.features[0, 0] == pytest.approx(1.0) and b.features[:, 0].max() <= 1.0 + 1e-9
    assert a.ids != b.ids  # the two fusions order the candidates differently
    for p in list(ctx.store.iter_papers())[8:12]:
        assert rrf.find(p.title, 3).hits[0][0] == p.id


def test_in_memory_search_agrees_with_the_store(ctx: ApiContext) -> None:
    index = ctx.tree_index()
    query = ctx.embed("language model alignment with preference data")
    unit = (query / np.linalg.norm(query)).astype(np.float32)
    mine = index.semantic(unit, 10)
    theirs = ctx.store.semantic_search(query, 10)
    assert [p for p, _ in mine] == [p for p, _ in theirs]
    assert np.allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-5)


def test_topic_paths_from_the_index_match_the_store(ctx: ApiContext) -> None:
    index = ctx.tree_index()
    for p in list(ctx.store.iter_papers())[:10]:
        rows = sorted(ctx.store.assignments(paper_id=p.id), key=lambda a: (-a.score, a.topic_id))
        expected = [[t.id for t in ctx.store.ancestors(a.topic_id)] for a in rows]
        assert [[t.id for t in path] for path in index.topic_paths(p.id)] == expected
