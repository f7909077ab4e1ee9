"""Whole-graph exports. The JSON shape is a documented contract (README, "Export format")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from hierograph.graph.models import Assignment, Paper, Topic
from hierograph.graph.store import GraphStore

EXPORT_VERSION = 1


def export_dict(store: GraphStore) -> dict[str, Any]:
    """The whole graph in the JSON export contract: version, papers, topics with paper ids."""
    return export_records(store.iter_papers(), store.topics(), store.assignments())


def export_records(
    papers: Iterable[Paper], topics: Iterable[Topic], assignments: Iterable[Assignment]
) -> dict[str, Any]:
    """The JSON export contract from records (a store's, or a snapshot of them)."""
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
    return {"version": EXPORT_VERSION, "papers": paper_rows, "topics": topic_rows}


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
