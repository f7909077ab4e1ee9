"""Whole-graph exports. The JSON shape is a documented contract (README, "Export format")."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import networkx as nx

from hierograph.graph.store import GraphStore

EXPORT_VERSION = 1


def export_dict(store: GraphStore) -> dict[str, Any]:
    direct: dict[str, list[str]] = defaultdict(list)
    for a in store.assignments():
        direct[a.topic_id].append(a.paper_id)
    papers = [
        {
            "id": p.id,
            "title": p.title,
            "arxiv_id": p.arxiv_id,
            "published": p.published,
            "code_urls": p.code_urls,
            # LLM summary (llm_paper_summaries); null when the paper has no current one.
            **{k: getattr(s, k) if s else None for k in ("problem", "method", "results")},
        }
        for p in store.iter_papers()
        for s in [p.current_summary()]
    ]
    topics = [
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
        for t in store.topics()
    ]
    return {"version": EXPORT_VERSION, "papers": papers, "topics": topics}


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
    nx.write_graphml(to_networkx(store), out)
