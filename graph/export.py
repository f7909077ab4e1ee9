"""Exports: the whole graph as JSON (a documented contract, docs/cli.md "Export formats") or
GraphML, and a selection of papers as references (BibTeX, CSL-JSON: graph/bibtex.py,
graph/csl_json.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from hierograph.graph.citation import Reference, cite_key, landing_url, reference
from hierograph.graph.models import Assignment, Paper, Topic
from hierograph.graph.store import GraphStore

# 2: papers carry abstracts, authors, dates, links, facets, methods, topics and a cite key.
EXPORT_VERSION = 2
EXPORT_VERSIONS = (1, 2)


def export_dict(store: GraphStore, version: int = EXPORT_VERSION) -> dict[str, Any]:
    """The whole graph as the documented JSON contract of `version` (1 or 2)."""
    if version not in EXPORT_VERSIONS:
        raise ValueError(f"export version {version} does not exist; use 1 or 2.")
    data = export_records(store.iter_papers(), store.topics(), store.assignments())
    if version == 2:
        data["version"] = 2
        data["papers"] = _papers_v2(store)
        sizes = {t.id: t.size for t in store.topics()}
        for topic in data["topics"]:
            topic["size"] = sizes.get(topic["id"], 0)
    return data


def _papers_v2(store: GraphStore) -> list[dict[str, Any]]:
    facets: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for f in store.facets():
        facets[f.paper_id][f.dimension].append(f.value)
    methods: dict[str, list[dict[str, str]]] = defaultdict(list)
    for link in store.method_links():
        methods[link.paper_id].append({"id": link.method_id, "relation": link.relation})
    topics: dict[str, list[str]] = defaultdict(list)
    for a in store.assignments():
        topics[a.paper_id].append(a.topic_id)
    return [
        {
            "id": p.id,
            "cite_key": cite_key(p),
            "title": p.title,
            "abstract": p.abstract,
            "authors": p.authors,
            "arxiv_id": p.arxiv_id,
            "doi": p.doi,
            "published": p.published,
            "updated": p.updated,
            "version": p.version,
            "categories": p.categories,
            "primary_category": p.primary_category,
            "journal_ref": p.journal_ref,
            "upvotes": p.upvotes,
            "urls": {
                "landing": landing_url(p),
                "pdf": f"https://arxiv.org/pdf/{p.arxiv_id}" if p.arxiv_id else None,
                "code": p.code_urls,
                "github": p.github_repo,
                "project_page": p.project_page,
                "other": p.urls,
            },
            "facets": {k: v for k, v in facets.get(p.id, {}).items()},
            "methods": methods.get(p.id, []),
            "topics": sorted(topics.get(p.id, [])),
            **{k: getattr(s, k) if s else None for k in ("problem", "method", "results")},
        }
        for p in store.iter_papers()
        for s in [p.current_summary()]
    ]


def references(store: GraphStore, paper_ids: list[str]) -> list[Reference]:
    """The papers of `paper_ids` (in that order; unknown ids skipped) as references, each
    tagged with the labels of the topics it sits in (the root, which names the corpus, left
    out)."""
    labels = {t.id: t.label for t in store.topics() if t.parent is not None}
    out = []
    for pid in paper_ids:
        paper: Paper | None = store.get_paper(pid)
        if paper is None:
            continue
        tags = [labels[a.topic_id] for a in store.assignments(paper_id=pid) if a.topic_id in labels]
        out.append(reference(paper, list(dict.fromkeys(tags))))
    return out


def export_records(
    papers: Iterable[Paper], topics: Iterable[Topic], assignments: Iterable[Assignment]
) -> dict[str, Any]:
    """The JSON export contract, version 1, from records (a store's, or a snapshot of them)."""
    direct: dict[str, list[str]] = defaultdict(list)
    for a in assignments:
        direct[a.topic_id].append(a.paper_id)
    paper_rows = [
        {
            "id": p.id,
            "title": p.title,
            "arxiv_id": p.arxiv_id,
            "published": p.published,
            "code_urls": p.code_urls,
            # LLM summary (llm_paper_summaries); null when the paper has no current one.
            **{k: getattr(s, k) if s else None for k in ("problem", "method", "results")},
        }
        for p in papers
        for s in [p.current_summary()]
    ]
    topic_rows = [
        {
            "id": t.id,
            "parent": t.parent,
            "level": t.level,
            "label": t.label,
            "keywords": t.keywords,
            "summary": t.summary,
            "problem": t.problem,
            "method": t.method,
            "results": t.results,
            "paper_ids": sorted(direct.get(t.id, [])),
        }
        for t in topics
    ]
    return {"version": 1, "papers": paper_rows, "topics": topic_rows}


def to_networkx(store: GraphStore) -> nx.DiGraph:
    """Papers and topics as nodes; SUBTOPIC_OF (child→parent) and IN_TOPIC (paper→topic)."""
    graph = nx.DiGraph()
    for p in store.iter_papers():
        graph.add_node(
            p.id,
            kind="Paper",
            title=p.title,
            arxiv_id=p.arxiv_id or "",
            published=p.published or "",
            code_urls=" ".join(p.code_urls),
        )
    for t in store.topics():
        graph.add_node(
            t.id, kind="Topic", label=t.label, level=t.level, keywords=", ".join(t.keywords)
        )
        if t.parent:
            graph.add_edge(t.id, t.parent, kind="SUBTOPIC_OF")
    for a in store.assignments():
        graph.add_edge(a.paper_id, a.topic_id, kind="IN_TOPIC", score=a.score, origin=a.origin)
    return graph


def write_graphml(store: GraphStore, out: Path) -> None:
    """The graph of to_networkx as GraphML (Gephi, Cytoscape, yEd)."""
    nx.write_graphml(to_networkx(store), out)
