"""The agent API's queries, written once over the store interface: the REST routes
(api/rest.py), the MCP tools (api/mcp_server.py) and `hierograph find` all call these."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from hierograph.api.context import ApiContext
from hierograph.api.finder import (
    EmbeddingRanker,
    ExemplarRanker,
    Finder,
    FlatFinder,
    LlmRanker,
    Ranked,
    TreeFinder,
)
from hierograph.api.hybrid import Blend, HybridFinder, rrf_scores, zscore_ranking
from hierograph.api.models import (
    ChildTopic,
    CodeAnswer,
    CorrectionResponse,
    FindResponse,
    FindStrategy,
    Health,
    MethodDetail,
    MethodPaper,
    MethodRef,
    PaperDetail,
    PaperHit,
    SearchHit,
    SearchPage,
    TopicDetail,
    TopicMethodRef,
    TopicRef,
)
from hierograph.api.tree_index import unit_vector
from hierograph.curation import corrections as corr
from hierograph.graph.method_models import Method
from hierograph.graph.models import Paper, Topic
from hierograph.graph.store import StoreError
from hierograph.llm.client import LlmClient
from hierograph.settings import Settings


class QueryError(Exception):
    """An answerable problem with the request; `status` and `code` say which kind."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(QueryError):
    status = 404
    code = "not_found"


class InvalidInput(QueryError):
    status = 422
    code = "invalid_input"


class Refused(QueryError):
    status = 409
    code = "correction_refused"


# --- search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    published_from: date | None = None
    published_to: date | None = None
    topic: str | None = None
    method: str | None = None
    has_code: bool | None = None

    def key(self) -> dict[str, Any]:
        return {k: str(v) if v is not None else None for k, v in asdict(self).items()}


def rrf(rankings: list[Ranked], k: int, weights: list[float] | None = None) -> Ranked:
    """Weighted reciprocal rank fusion (each list adds weight/(k + rank)); ties broken by id,
    so the order (and with it every cursor) is deterministic."""
    scores = rrf_scores(rankings, k, weights)
    return sorted(scores.items(), key=lambda s: (-s[1], s[0]))


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def find_method(ctx: ApiContext, name: str) -> Method:
    key = _fold(name)
    for m in ctx.store.methods():
        if name.strip() == m.id or (key and key in (_fold(n) for n in m.names())):
            return m
    raise NotFound(f"no method {name!r}; GET /code?concept=... searches methods and topics")


def _allowed_ids(ctx: ApiContext, filters: SearchFilters) -> set[str] | None:
    allowed: set[str] | None = None
    if filters.topic is not None:
        if ctx.store.get_topic(filters.topic) is None:
            raise NotFound(f"no topic {filters.topic!r}; GET /topics/root lists the tree")
        allowed = ctx.store.subtree_paper_ids(filters.topic)
    if filters.method is not None:
        method = find_method(ctx, filters.method)
        ids = {link.paper_id for link in ctx.store.method_links(method_id=method.id)}
        allowed = ids if allowed is None else allowed & ids
    return allowed


def _semantic(ctx: ApiContext, vector: np.ndarray, n: int, allowed: set[str] | None) -> Ranked:
    if allowed is None:
        # The in-memory matrix of the tree index: the store would read every embedding.
        unit = unit_vector(vector)
        return ctx.tree_index().semantic(unit.astype(np.float32), n)
    # Within a topic or method the candidates are known: rank them all exactly, so a filter
    # never hides a paper that the global top-n happened to miss.
    with ctx.lock:
        stored = ctx.store.get_embeddings(sorted(allowed))
    if not stored:
        return []
    ids = list(stored)
    matrix = np.stack([stored[i] for i in ids]).astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    sims = matrix @ unit_vector(vector)
    ranked = sorted(zip(ids, sims.tolist(), strict=True), key=lambda s: (-s[1], s[0]))
    return ranked[:n]


def hybrid_ranking(ctx: ApiContext, query: str, allowed: set[str] | None = None) -> Ranked:
    """Vector and full-text search fused (`api_fusion`): by z-score over the whole corpus, or
    by reciprocal rank of the two top lists; either way ranked within `allowed` when given, at
    most twice `api_search_candidates` papers. Only store reads take the lock, so concurrent
    requests overlap."""
    n = ctx.settings.api_search_candidates
    if ctx.settings.api_fusion == "zscore":
        index, text = ctx.tree_index(), ctx.text_index()
        vector = ctx.embed(query)
        unit = unit_vector(vector).astype(np.float32)
        weight = ctx.settings.api_zscore_dense_weight
        return zscore_ranking(index, text, unit, query, weight, 2 * n, allowed)
    semantic = _semantic(ctx, ctx.embed(query), n, allowed)
    text = ctx.text_index().search(query, n, allowed)
    return rrf([semantic, text], ctx.settings.api_rrf_k, [ctx.settings.api_dense_weight, 1.0])


def _passes(paper: Paper, filters: SearchFilters) -> bool:
    if filters.has_code is not None and bool(paper.code_urls) != filters.has_code:
        return False
    if filters.published_from or filters.published_to:
        day = (paper.published or "")[:10]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return False
        if filters.published_from and day < filters.published_from.isoformat():
            return False
        if filters.published_to and day > filters.published_to.isoformat():
            return False
    return True


def _query_key(query: str, filters: SearchFilters) -> str:
    raw = json.dumps([query, filters.key()], sort_keys=True)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def encode_cursor(query_key: str, score: float, paper_id: str) -> str:
    raw = json.dumps({"h": query_key, "s": score, "i": paper_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query_key: str) -> tuple[float, str]:
    """The (score, id) after which the next page starts; a cursor from another query or one
    not issued by this API is refused."""
    bad = InvalidInput("cursor is not valid for this query; repeat the query without a cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["h"] != query_key:
            raise bad
        return float(data["s"]), str(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise bad from e


def topic_paths(ctx: ApiContext, paper_id: str) -> list[list[TopicRef]]:
    """Root → … → topic for each topic the paper sits in, best assignment first (read from the
    tree index, which follows every change of the tree)."""
    return [
        [TopicRef(id=t.id, label=t.label) for t in path]
        for path in ctx.tree_index().topic_paths(paper_id)
    ]


def search_papers(
    ctx: ApiContext,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = 10,
    cursor: str | None = None,
) -> SearchPage:
    filters = filters or SearchFilters()
    if not query.strip():
        raise InvalidInput("q is empty; give a few words to search for")
    key = _query_key(query, filters)
    after = decode_cursor(cursor, key) if cursor else None
    with ctx.lock:
        allowed = _allowed_ids(ctx, filters)
    ranked = hybrid_ranking(ctx, query, allowed)
    if after is not None:
        ranked = [r for r in ranked if (-r[1], r[0]) > (-after[0], after[1])]
    page: list[tuple[Paper, float]] = []
    with ctx.lock:
        # Filters on paper fields are checked lazily, so only about a page of papers is read.
        for pid, score in ranked:
            paper = ctx.store.get_paper(pid)
            if paper is not None and _passes(paper, filters):
                page.append((paper, score))
                if len(page) > limit:
                    break
    hits = [
        SearchHit(id=p.id, title=p.title, score=s, topic_paths=topic_paths(ctx, p.id))
        for p, s in page[:limit]
    ]
    more = len(page) > limit
    next_cursor = encode_cursor(key, hits[-1].score, hits[-1].id) if more else None
    return SearchPage(results=hits, next_cursor=next_cursor)


# --- papers, topics, methods, code -----------------------------------------------------------


def _clip(text: str, chars: int | None) -> str:
    if chars is None or len(text) <= chars:
        return text
    return text[: chars - 1].rstrip() + "…"


def paper_detail(
    ctx: ApiContext, paper_id: str, similar: int | None = None, abstract_chars: int | None = None
) -> PaperDetail:
    n_similar = ctx.settings.api_similar_papers if similar is None else similar
    with ctx.lock:
        paper = ctx.store.get_paper(paper_id)
        if paper is None:
            raise NotFound(f"no paper {paper_id!r}; find ids with GET /papers/search")
        names = {m.id: m.name for m in ctx.store.methods()}
        methods = [
            MethodRef(
                id=link.method_id,
                name=names.get(link.method_id, link.method_id),
                relation=link.relation,
            )
            for link in ctx.store.method_links(paper_id=paper_id)
        ]
        code = [link.url for link in ctx.store.code_links(paper_id=paper_id)]
        code += [u for u in paper.code_urls if u not in code]
        similar_hits: list[PaperHit] = []
        vector = ctx.store.get_embeddings([paper_id]).get(paper_id)
        if vector is not None and n_similar:
            for pid, score in ctx.store.semantic_search(vector, n_similar + 1):
                other = ctx.store.get_paper(pid) if pid != paper_id else None
                if other is not None and len(similar_hits) < n_similar:
                    similar_hits.append(PaperHit(id=pid, title=other.title, score=score))
        return PaperDetail(
            id=paper.id,
            title=paper.title,
            abstract=_clip(paper.abstract, abstract_chars),
            authors=paper.authors,
            published=paper.published,
            arxiv_id=paper.arxiv_id,
            url=paper.url,
            categories=paper.categories,
            topic_paths=topic_paths(ctx, paper_id),
            methods=methods,
            code=code,
            similar=similar_hits,
            **(summary.model_dump() if (summary := paper.current_summary()) else {}),
        )


def topic_detail(ctx: ApiContext, topic_id: str | None = None, papers: int = 10) -> TopicDetail:
    """A topic (the root when `topic_id` is None) with its path, children and best papers."""
    with ctx.lock:
        topics = ctx.store.topics()
        if not topics:
            raise NotFound("no topic tree yet: run `hierograph ingest` and `hierograph build`")
        by_id = {t.id: t for t in topics}
        topic = next(t for t in topics if t.parent is None) if topic_id is None else None
        topic = topic or by_id.get(topic_id or "")
        if topic is None:
            raise NotFound(f"no topic {topic_id!r}; GET /topics/root starts at the top")
        kids: dict[str, list[Topic]] = {}
        for t in topics:
            if t.parent is not None:
                kids.setdefault(t.parent, []).append(t)
        below = {topic.id}
        for t in topics:  # ordered by level: parents come before their children
            if t.parent in below:
                below.add(t.id)
        rows = [a for a in ctx.store.assignments() if a.topic_id in below]
        best: dict[str, float] = {}
        for a in sorted(rows, key=lambda a: (-a.score, a.paper_id)):
            best.setdefault(a.paper_id, a.score)
        top = []
        for pid, score in list(best.items())[:papers]:
            paper = ctx.store.get_paper(pid)
            if paper is not None:
                top.append(PaperHit(id=pid, title=paper.title, score=score))
        names = {m.id: m.name for m in ctx.store.methods()}
        methods = [
            TopicMethodRef(id=r.method_id, name=names.get(r.method_id, r.method_id), score=r.score)
            for r in ctx.store.topic_methods(topic_id=topic.id)
        ]
        children = [
            ChildTopic(id=c.id, label=c.label, size=c.size, leaf=c.id not in kids)
            for c in sorted(kids.get(topic.id, []), key=lambda c: (-c.size, c.id))
        ]
        return TopicDetail(
            id=topic.id,
            label=topic.label,
            summary=topic.summary,
            keywords=topic.keywords,
            level=topic.level,
            size=topic.size,
            path=[TopicRef(id=t.id, label=t.label) for t in ctx.store.ancestors(topic.id)],
            children=children,
            top_papers=top,
            methods=methods,
            problem=topic.problem,
            method=topic.method,
            results=topic.results,
        )


def method_detail(ctx: ApiContext, name: str, papers: int = 10) -> MethodDetail:
    with ctx.lock:
        method = find_method(ctx, name)
        links = ctx.store.method_links(method_id=method.id)
        listed = []
        for link in links[:papers]:
            paper = ctx.store.get_paper(link.paper_id)
            if paper is not None:
                listed.append(MethodPaper(id=paper.id, title=paper.title, relation=link.relation))
        topics = []
        for row in ctx.store.topic_methods(method_id=method.id):
            topic = ctx.store.get_topic(row.topic_id)
            if topic is not None:
                topics.append(TopicRef(id=topic.id, label=topic.label))
        answer = ctx.store.code_for(method.id)
        impls = answer.methods[0].implementations if answer.methods else []
        return MethodDetail(
            id=method.id,
            name=method.name,
            aliases=method.aliases,
            description=method.description,
            arxiv_id=method.arxiv_id,
            papers=listed,
            paper_count=len(links),
            topics=topics,
            implementations=[i.model_dump() for i in impls],
        )


def code_answer(
    ctx: ApiContext, concept: str, papers: int = 5, max_methods: int | None = None
) -> CodeAnswer:
    if not _fold(concept):
        raise InvalidInput("concept has no words; give a method name or a topic label")
    with ctx.lock:
        answer = ctx.store.code_for(concept)
    if answer.matched == "none" or not answer.methods:
        raise NotFound(
            f"no method or topic matches {concept!r}; try a method name such as DPO, "
            "or a topic label from GET /topics/root"
        )
    methods = answer.methods[:max_methods] if max_methods else answer.methods
    trimmed = [m.model_copy(update={"papers": m.papers[:papers]}) for m in methods]
    return CodeAnswer(**answer.model_dump(exclude={"methods"}), methods=trimmed)


# --- the finder ------------------------------------------------------------------------------


def default_blend_of(s: Settings) -> Blend:
    """The hybrid finder's blend from settings (one default for every corpus)."""
    return Blend(
        cosine=s.finder_blend_cosine, topic=s.finder_blend_topic, parent=s.finder_blend_parent
    )


def make_finder(
    ctx: ApiContext, strategy: FindStrategy = "hybrid", llm: LlmClient | None = None
) -> Finder:
    """The hybrid finder (the default), the tree finder (LLM-ranked when an LLM is configured
    or given) or the flat baseline."""
    if strategy == "flat":
        return FlatFinder(lambda text, k: hybrid_ranking(ctx, text)[:k])
    if strategy == "hybrid":
        return HybridFinder(
            ctx.tree_index,
            ctx.embed,
            ctx.text_index,
            default_blend_of(ctx.settings),
            candidates=ctx.settings.finder_candidates,
            fusion=ctx.settings.api_fusion,
            zscore_dense_weight=ctx.settings.api_zscore_dense_weight,
            rrf_k=ctx.settings.api_rrf_k,
            dense_weight=ctx.settings.api_dense_weight,
            centroid_weight=ctx.settings.finder_centroid_weight,
        )
    embedding: EmbeddingRanker | ExemplarRanker = EmbeddingRanker(
        ctx.settings.finder_centroid_weight
    )
    if ctx.settings.finder_exemplars:
        embedding = ExemplarRanker(ctx.settings.finder_exemplars, fallback=embedding)
    client = llm or ctx.llm
    ranker = LlmRanker(client, embedding) if client is not None else embedding
    return TreeFinder(ctx.tree_index, ctx.embed, ranker, ctx.settings.finder_beam)


def find(
    ctx: ApiContext,
    description: str,
    k: int = 5,
    strategy: FindStrategy = "hybrid",
    llm: LlmClient | None = None,
) -> FindResponse:
    if not description.strip():
        raise InvalidInput("description is empty; describe the paper in a sentence or two")
    # The finders read the indexes and the query encoder, not the store: no lock (an LLM
    # ranker's calls would otherwise hold every other request up as well).
    result = make_finder(ctx, strategy, llm).find(description, k)
    with ctx.lock:
        found = [(ctx.store.get_paper(pid), score) for pid, score in result.hits]
    hits = [
        SearchHit(id=p.id, title=p.title, score=score, topic_paths=topic_paths(ctx, p.id))
        for p, score in found
        if p is not None
    ]
    return FindResponse(
        results=hits,
        path=[TopicRef(id=t.id, label=t.label) for t in result.path],
        strategy=result.strategy,  # type: ignore[arg-type]
        steps=result.steps,
    )


# --- corrections (the one write) -------------------------------------------------------------


def apply_correction(ctx: ApiContext, request: Any, actor: str | None = None) -> CorrectionResponse:
    """Apply one correction through hierarchy.corrections (applied at once, logged, undoable)."""
    who = request.actor or actor or ctx.settings.correction_actor
    s = ctx.store
    actions = {
        "move_paper": lambda r: corr.move_paper(s, r.paper_id, r.from_topic, r.to_topic, who),
        "add_topic": lambda r: corr.add_topic(s, r.paper_id, r.topic_id, who),
        "remove_assignment": lambda r: corr.remove_assignment(s, r.paper_id, r.topic_id, who),
        "rename_topic": lambda r: corr.rename_topic(s, r.topic_id, r.label, r.summary, who),
        "merge_topics": lambda r: corr.merge_topics(s, r.source, r.target, who),
        "split_topic": lambda r: corr.split_topic(s, r.topic_id, r.paper_ids, r.label, who),
        "move_topic": lambda r: corr.move_topic(s, r.topic_id, r.new_parent, who),
        "delete_topic": lambda r: corr.delete_topic(s, r.topic_id, who),
        "undo": lambda r: corr.undo(s, r.correction_id, who),
    }
    with ctx.lock:
        try:
            entry = actions[request.kind](request)
        except corr.TargetMissing as e:
            raise NotFound(str(e)) from e
        except (corr.CorrectionError, StoreError) as e:
            raise Refused(str(e)) from e
    return CorrectionResponse(id=entry.id or 0, kind=entry.kind, actor=entry.actor, at=entry.at)


def health(ctx: ApiContext) -> Health:
    with ctx.lock:
        return Health(
            status="ok",
            store=ctx.settings.store,
            papers=ctx.store.paper_count(),
            topics=len(ctx.store.topics()),
        )
