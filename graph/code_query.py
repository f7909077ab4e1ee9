"""`code_for(concept)`: from a method name or a topic to methods, papers and ranked code.

Written once over the store primitives, so both backends answer it the same way.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hierograph.graph.method_models import (
    CodeFor,
    Method,
    MethodCode,
    PaperRef,
    Rank,
    RankedImplementation,
    Repository,
)

if TYPE_CHECKING:
    from hierograph.graph.store import GraphStore

_RANK_ORDER: dict[Rank, int] = {"official": 0, "library": 1, "repo": 2}


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _words_in(query: str, text: str) -> bool:
    """Every word of the query is a word of the text, in any order: "preference optimization"
    finds "Preference Ranking Optimization" too."""
    return set(query.split()) <= set(_fold(text).split())


def resolve(store: GraphStore, concept: str) -> tuple[str, list[str], list[Method]]:
    """(how it matched, topic ids, methods) for `concept`: a method's id, name or alias first,
    then a topic's id or label (its papers' methods, then methods whose names contain all the
    concept's words), then methods and topic labels that contain all its words."""
    methods = store.methods()
    by_id = {m.id: m for m in methods}
    key = _fold(concept)
    if not key:
        return "none", [], []
    for m in methods:
        if concept.strip() == m.id or key in (_fold(n) for n in m.names()):
            return "method", [], [m]
    topics = store.topics()
    exact = [t.id for t in topics if concept.strip() == t.id or _fold(t.label) == key]
    found = [m for m in methods if any(_words_in(key, n) for n in m.names())]
    if exact:
        # A topic named like the concept is one cluster's view of it: the methods its papers
        # use come first, and the methods named for the concept are not lost because the tree
        # happens to have such a topic ("preference optimization" still finds PRO).
        mine = _topic_methods(store, exact, by_id)
        return "topic", exact, mine + [m for m in found if m not in mine]
    near = [t.id for t in topics if _words_in(key, t.label)]
    for m in _topic_methods(store, near, by_id):
        if m not in found:
            found.append(m)
    return ("search" if found else "none"), near, found


def _topic_methods(
    store: GraphStore, topic_ids: list[str], by_id: dict[str, Method]
) -> list[Method]:
    rows = [r for t in topic_ids for r in store.topic_methods(topic_id=t)]
    rows.sort(key=lambda r: (-r.score, r.method_id))
    return [by_id[i] for i in dict.fromkeys(r.method_id for r in rows) if i in by_id]


def code_for(store: GraphStore, concept: str) -> CodeFor:
    matched, topic_ids, methods = resolve(store, concept)
    status = {r.url: r for r in store.repositories()}
    answers = [_method_code(store, m, status) for m in methods]
    if matched == "search":
        # The most-studied methods first: that is what a reader of the topic meets most.
        answers.sort(key=lambda a: (-len(a.papers), a.method.name.casefold()))
    return CodeFor(concept=concept, matched=matched, topics=topic_ids, methods=answers)


def _method_code(store: GraphStore, method: Method, status: dict[str, Repository]) -> MethodCode:
    links = store.method_links(method_id=method.id)
    papers: list[PaperRef] = []
    for link in links:
        paper = store.get_paper(link.paper_id)
        if paper is not None:
            papers.append(
                PaperRef(
                    paper_id=paper.id,
                    title=paper.title,
                    relation=link.relation,
                    arxiv_id=paper.arxiv_id,
                )
            )
    ranked: list[RankedImplementation] = []
    for impl in method.implementations:
        rank: Rank = "official" if impl.official else impl.kind
        ranked.append(
            RankedImplementation(
                rank=rank,
                url=impl.url,
                source="registry",
                entry=impl.entry,
                library=impl.library,
                since=impl.since,
                until=impl.until,
                options=impl.options,
            )
        )
    # Code linked from a paper: the proposing paper's code is the method's official code.
    for ref in papers:
        for link in store.code_links(paper_id=ref.paper_id):
            rank = "official" if ref.relation == "PROPOSES" else "repo"
            ranked.append(RankedImplementation(rank=rank, url=link.url, source=ref.paper_id))
    unique: dict[tuple[str, str | None, str], RankedImplementation] = {}
    for r in ranked:
        key = (r.url, r.entry, repr(sorted(r.options.items())))
        best = unique.get(key)
        if best is None or _RANK_ORDER[r.rank] < _RANK_ORDER[best.rank]:
            unique[key] = r
    for key, r in unique.items():
        checked = status.get(r.url)
        if checked is not None:
            unique[key] = r.model_copy(update={"status": checked.status, "ok": checked.ok})
    # Stable sort: within a rank the registry's order stays; links known dead go last.
    ordered = sorted(
        unique.values(), key=lambda r: (_RANK_ORDER[r.rank], r.ok is False, r.until is not None)
    )
    return MethodCode(method=method, papers=papers, implementations=ordered)
