"""Copying a whole graph from one store to another (e.g. the embedded default into Neo4j)."""

from __future__ import annotations

from itertools import islice

from hierograph.graph.models import Hierarchy
from hierograph.graph.store import GraphStore

_BATCH = 1000
# Each store keeps its own schema version; copying it would misreport the target's layout.
_LOCAL_META = {"schema_version", "fts_rowids"}


def copy_graph(src: GraphStore, dst: GraphStore) -> dict[str, int]:
    """Papers, embeddings, the current tree, facets, methods and code links, missing
    corrections and meta, idempotently."""
    papers = src.iter_papers()
    count = 0
    while batch := list(islice(papers, _BATCH)):
        dst.upsert_papers(batch)
        dst.set_embeddings(src.get_embeddings([p.id for p in batch]))
        count += len(batch)
    topics = src.topics()
    if topics:
        dst.replace_hierarchy(Hierarchy(topics=topics, assignments=src.assignments()))
    # Derived layers follow the papers and the tree they hang on.
    dst.replace_facets(src.facets())
    dst.set_layout(src.layout(), replace=True)
    dst.replace_methods(src.methods())
    dst.replace_method_links(src.method_links())
    dst.replace_topic_methods(src.topic_methods())
    dst.replace_code_links(src.code_links())
    dst.record_link_checks(src.repositories())
    have = {(c.kind, c.actor, c.at, repr(c.payload)) for c in dst.corrections()}
    fresh = [c for c in src.corrections() if (c.kind, c.actor, c.at, repr(c.payload)) not in have]
    for c in fresh:
        dst.append_correction(c.model_copy(update={"id": None}))
    for key, value in src.all_meta().items():
        if key not in _LOCAL_META:
            dst.set_meta(key, value)
    return {"papers": count, "topics": len(topics), "corrections": len(fresh)}
