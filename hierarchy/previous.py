"""The previous build's clustered tree: what the next build is guided by and matches topic ids
against. It is the tree as clustering made it (ids already stable, second topics marked), before
the human corrections were replayed onto it: a rebuild of unchanged papers with unchanged
settings and corrections then sees exactly the input the last build saw, and gives the same
tree (idempotent), whatever the corrections did to the stored tree."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass

from hierograph.graph.models import Assignment, Hierarchy, Topic

META_KEY = "build_clustered_tree"
VERSION = 1


@dataclass
class ClusteredTree:
    """`hierarchy`: topics and every clustered assignment; `primary`: paper → the leaf the
    clustering put it in (second topics excluded: a guide holds each paper once)."""

    hierarchy: Hierarchy
    primary: dict[str, str]

    def primary_hierarchy(self) -> Hierarchy:
        """The tree with each paper in its primary leaf only (what a guide is made from)."""
        keep = [a for a in self.hierarchy.assignments if self.primary.get(a.paper_id) == a.topic_id]
        return self.hierarchy.model_copy(update={"assignments": keep})


def dump(hierarchy: Hierarchy, n_primary: int) -> str:
    """`hierarchy.assignments[:n_primary]` are the primary placements, the rest second topics
    (the order the build appends them in). Compressed: the meta value of a 10,000-paper tree
    stays a few hundred kB."""
    data = {
        "version": VERSION,
        "topics": [t.model_dump(exclude={"built_at"}) for t in hierarchy.topics],
        "assignments": [
            [a.paper_id, a.topic_id, a.score, int(i < n_primary)]
            for i, a in enumerate(hierarchy.assignments)
        ],
    }
    raw = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    return base64.b64encode(raw).decode("ascii")


def load(value: str | None) -> ClusteredTree | None:
    """The stored clustered tree, or None when there is none (or from another version)."""
    if not value:
        return None
    try:
        data = json.loads(zlib.decompress(base64.b64decode(value)))
    except (ValueError, zlib.error):
        return None
    if data.get("version") != VERSION:
        return None
    topics = [Topic(**t) for t in data["topics"]]
    assignments = [
        Assignment(paper_id=p, topic_id=t, score=s) for p, t, s, _ in data["assignments"]
    ]
    primary = {p: t for p, t, _, first in data["assignments"] if first}
    return ClusteredTree(Hierarchy(topics=topics, assignments=assignments), primary)


def from_stored_tree(hierarchy: Hierarchy) -> ClusteredTree:
    """Stores written before the clustered tree was kept: the stored tree without what humans
    and the corrector placed; each paper's primary leaf is its best-scoring one."""
    clustered = [a for a in hierarchy.assignments if a.origin in ("cluster", "llm")]
    best: dict[str, Assignment] = {}
    for a in clustered:
        if a.paper_id not in best or a.score > best[a.paper_id].score:
            best[a.paper_id] = a
    return ClusteredTree(
        hierarchy.model_copy(update={"assignments": clustered}),
        {p: a.topic_id for p, a in best.items()},
    )
