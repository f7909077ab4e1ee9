"""The topic tree as a Python object: a snapshot of the store's topics, papers and assignments,
with navigation, the JSON export contract and a networkx graph. `Hierograph.tree()` makes one.

A snapshot, not a live view: after a build, a refresh or a correction, ask for a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import networkx as nx

from hierograph.graph.export import export_records
from hierograph.graph.models import Assignment, Paper, Topic, topic_path
from hierograph.graph.store import GraphStore


class TopicTree:
    """Topics by id with their children (largest first), their papers and their paths.

    Every method taking a `topic_id` raises KeyError naming the id when the tree has no such
    topic."""

    def __init__(
        self, topics: list[Topic], assignments: list[Assignment], papers: list[Paper]
    ) -> None:
        if not topics:
            raise ValueError("no topic tree yet: ingest papers and build first")
        self._topics = {t.id: t for t in topics}
        self._order = topics
        self._assignments = assignments
        self._papers = {p.id: p for p in papers}
        self._children: dict[str, list[Topic]] = {t.id: [] for t in topics}
        for t in topics:
            if t.parent in self._children:
                self._children[t.parent].append(t)
        for kids in self._children.values():
            kids.sort(key=lambda t: (-t.size, t.id))
        self._direct: dict[str, list[Assignment]] = {t.id: [] for t in topics}
        for a in assignments:
            if a.topic_id in self._direct:
                self._direct[a.topic_id].append(a)
        self.root: Topic = next(t for t in topics if t.parent is None)
        """The root topic (id "root", every paper below it)."""

    @classmethod
    def from_store(cls, store: GraphStore) -> TopicTree:
        """A snapshot of the store's current tree; ValueError when there is none yet."""
        return cls(store.topics(), store.assignments(), list(store.iter_papers()))

    # --- topics ---
    def __len__(self) -> int:
        """The number of topics, the root included."""
        return len(self._topics)

    def __iter__(self) -> Iterator[Topic]:
        """Every topic, by level (the root first), then id."""
        return iter(self._order)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._topics

    def topic(self, topic_id: str) -> Topic:
        """The topic with this id."""
        return self._topics[self._known(topic_id)]

    def children(self, topic_id: str) -> list[Topic]:
        """The topic's subtopics, largest first (empty for a leaf)."""
        return list(self._children[self._known(topic_id)])

    def leaves(self) -> list[Topic]:
        """Every topic without subtopics, by level, then id."""
        return [t for t in self._order if not self._children[t.id]]

    def path(self, topic_id: str) -> list[Topic]:
        """The topics from the root down to this one, both included."""
        return topic_path(self._topics, self._known(topic_id))

    # --- papers ---
    def papers(self, topic_id: str, direct: bool = False) -> list[Paper]:
        """The papers under the topic, each once, best assignment score first (ties by id);
        `direct` keeps only those assigned to the topic itself (papers sit in leaves, so an
        inner topic has none of its own)."""
        below = [self._known(topic_id)]
        if not direct:
            for tid in below:  # grows while it is walked: breadth-first over the subtree
                below.extend(c.id for c in self._children[tid])
        best: dict[str, float] = {}
        for tid in below:
            for a in self._direct[tid]:
                best[a.paper_id] = max(a.score, best.get(a.paper_id, a.score))
        ranked = sorted(best.items(), key=lambda s: (-s[1], s[0]))
        return [self._papers[pid] for pid, _ in ranked if pid in self._papers]

    def topics_of(self, paper_id: str) -> list[Topic]:
        """The topics a paper is assigned to (its leaf first, then any second topics)."""
        rows = sorted(
            (a for a in self._assignments if a.paper_id == paper_id), key=lambda a: -a.score
        )
        return [self._topics[a.topic_id] for a in rows if a.topic_id in self._topics]

    # --- exports ---
    def to_dict(self) -> dict[str, Any]:
        """The JSON export contract (docs/cli.md, "Export format"): `version`, `papers`, and
        `topics` with their parent, level, label, keywords, summaries and direct paper ids."""
        return export_records(self._papers.values(), self._order, self._assignments)

    def to_networkx(self) -> nx.DiGraph:
        """Topics and papers as one directed graph, edges pointing down the tree: topic →
        subtopic (kind "HAS_SUBTOPIC") and topic → paper (kind "HAS_PAPER", with the
        assignment's score and origin). Topics alone form an arborescence rooted at
        `self.root.id`, so `nx.descendants`, `nx.dfs_preorder_nodes`, `nx.shortest_path` and
        `nx.lowest_common_ancestor` work as on any tree; a paper in two topics has two parents.
        Node attributes: kind ("Topic" or "Paper"), label, level, size and keywords for topics;
        title, arxiv_id and published for papers."""
        graph = nx.DiGraph()
        for t in self._order:
            graph.add_node(
                t.id, kind="Topic", label=t.label, level=t.level, size=t.size, keywords=t.keywords
            )
        for t in self._order:
            if t.parent is not None:
                graph.add_edge(t.parent, t.id, kind="HAS_SUBTOPIC")
        for p in self._papers.values():
            graph.add_node(
                p.id, kind="Paper", title=p.title, arxiv_id=p.arxiv_id, published=p.published
            )
        for a in self._assignments:
            if a.topic_id in self._topics and a.paper_id in self._papers:
                graph.add_edge(
                    a.topic_id, a.paper_id, kind="HAS_PAPER", score=a.score, origin=a.origin
                )
        return graph

    def _known(self, topic_id: str) -> str:
        if topic_id not in self._topics:
            raise KeyError(f"no topic {topic_id!r} in this tree; tree.root.id is its root")
        return topic_id

    def __repr__(self) -> str:
        return (
            f"TopicTree({len(self._topics)} topics, {len(self.leaves())} leaves, "
            f"{len(self._papers)} papers)"
        )
