"""The topic tree as plain data for corrections: one read of the store (or one built hierarchy)
as topics, assignments and a parent→child graph, and how a correction finds its topic again."""

from __future__ import annotations

from typing import Any

import networkx as nx

from hierograph.graph.models import Assignment, Hierarchy, Topic
from hierograph.graph.store import GraphStore

KINDS = (
    "move_paper",
    "add_topic",
    "remove_assignment",
    "rename_topic",
    "merge_topics",
    "split_topic",
    "move_topic",
    "delete_topic",
)
UNDO = "undo"
HUMAN_SCORE = 1.0
DEFAULT_MIN_OVERLAP = 0.5


class CorrectionError(ValueError):
    """A correction that cannot be applied as asked; the message says what to do instead."""


class Satisfied(CorrectionError):
    """On replay: the rebuilt tree already is as the correction wants (the message says why)."""


class TargetMissing(CorrectionError):
    """On replay: a paper or topic the correction names is not in the rebuilt tree."""


class TreeState:
    """One read of the store's tree: topics, assignments and a parent→child networkx graph.
    Replay changes it in place (`apply`) as it goes through the log, so the whole replay runs in
    memory and the store is written once."""

    def __init__(
        self,
        topics: list[Topic],
        assignments: list[Assignment],
        papers: set[str] | None = None,
        store: GraphStore | None = None,
    ):
        self.topics = {t.id: t for t in topics}
        self.assignments = {(a.paper_id, a.topic_id): a for a in assignments}
        self._papers = papers
        self._store = store
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(self.topics)
        self.graph.add_edges_from((t.parent, t.id) for t in topics if t.parent in self.topics)

    @classmethod
    def from_store(cls, store: GraphStore) -> TreeState:
        return cls(store.topics(), store.assignments(), store=store)

    @classmethod
    def from_hierarchy(cls, hierarchy: Hierarchy, papers: set[str]) -> TreeState:
        return cls(list(hierarchy.topics), list(hierarchy.assignments), papers=papers)

    def to_hierarchy(self) -> Hierarchy:
        """Topics by level then id, with sizes recounted (papers under each topic)."""
        counts = self.subtree_counts()
        topics = [
            t.model_copy(update={"size": counts[t.id]})
            for t in sorted(self.topics.values(), key=lambda t: (t.level, t.id))
        ]
        assignments = [self.assignments[k] for k in sorted(self.assignments)]
        return Hierarchy(topics=topics, assignments=assignments)

    def subtree_counts(self) -> dict[str, int]:
        below: dict[str, set[str]] = {t: set() for t in self.topics}
        for p, t in self.assignments:
            if t in below:
                for ancestor in {t} | nx.ancestors(self.graph, t):
                    below[ancestor].add(p)
        return {t: len(ps) for t, ps in below.items()}

    def has_paper(self, paper_id: str) -> bool:
        # Asked per paper rather than reading every paper: a tree state is read per correction.
        if self._papers is not None:
            return paper_id in self._papers
        return self._store is not None and self._store.get_paper(paper_id) is not None

    def topic(self, topic_id: str) -> Topic:
        found = self.topics.get(topic_id)
        if found is None:
            raise TargetMissing(f"no topic {topic_id!r}; `hierograph show --ids` lists topic ids")
        return found

    def root(self) -> str:
        return next(t.id for t in self.topics.values() if t.parent is None)

    def children(self, topic_id: str) -> list[str]:
        return sorted(self.graph.successors(topic_id))

    def is_leaf(self, topic_id: str) -> bool:
        return self.graph.out_degree(topic_id) == 0

    def subtree(self, topic_id: str) -> set[str]:
        return {topic_id} | nx.descendants(self.graph, topic_id)

    def direct_papers(self, topic_id: str) -> list[str]:
        return sorted(p for p, t in self.assignments if t == topic_id)

    def subtree_papers(self, topic_id: str) -> set[str]:
        below = self.subtree(topic_id)
        return {p for p, t in self.assignments if t in below}

    def paper_topics(self, paper_id: str) -> list[Assignment]:
        return [a for (p, _), a in self.assignments.items() if p == paper_id]

    def ref(self, topic_id: str) -> dict[str, Any]:
        """What replay needs to find this topic again in a rebuilt tree, or to make it again
        when the rebuild dissolved it: id, label, its papers and its parent."""
        t = self.topic(topic_id)
        out: dict[str, Any] = {
            "id": t.id,
            "label": t.label,
            "papers": sorted(self.subtree_papers(t.id)),
        }
        if t.parent is not None and t.parent in self.topics:
            parent = self.topics[t.parent]
            out["parent"] = {
                "id": parent.id,
                "label": parent.label,
                "papers": sorted(self.subtree_papers(parent.id)),
            }
        return out

    def leaves(self) -> list[str]:
        return sorted(t for t in self.topics if self.is_leaf(t))

    def set_topic(self, topic_id: str, topic: Topic | None) -> None:
        """Put `topic` in place of `topic_id` (None: take it out), keeping the graph in step."""
        if topic is None:
            self.topics.pop(topic_id, None)
            if topic_id in self.graph:
                self.graph.remove_node(topic_id)
            return
        self.topics[topic_id] = topic
        if topic_id not in self.graph:
            self.graph.add_node(topic_id)
        for old in list(self.graph.predecessors(topic_id)):
            self.graph.remove_edge(old, topic_id)
        if topic.parent is not None:
            self.graph.add_edge(topic.parent, topic_id)

    def set_assignment(self, paper_id: str, topic_id: str, a: Assignment | None) -> None:
        if a is None:
            self.assignments.pop((paper_id, topic_id), None)
        else:
            self.assignments[(paper_id, topic_id)] = a


def match_topic(state: TreeState, ref: dict[str, Any], min_overlap: float) -> str | None:
    """The topic of `state` that `ref` names: same id, else the one topic with the same label,
    else the best paper overlap (Jaccard) of at least `min_overlap`."""
    if ref["id"] in state.topics:
        return ref["id"]
    labels = {ref.get("label"), ref.get("new_label")} - {None}
    same_label = [t.id for t in state.topics.values() if t.label in labels]
    if len(same_label) == 1:
        return same_label[0]
    wanted = set(ref.get("papers") or [])
    if not wanted:
        return None
    below: dict[str, set[str]] = {t: set() for t in state.topics}
    for p, t in state.assignments:
        if t not in below:
            continue
        for ancestor in {t} | nx.ancestors(state.graph, t):
            below[ancestor].add(p)
    best, best_score = None, 0.0
    inner = [t for t in state.topics if state.topics[t].parent is not None]  # never the root
    for topic_id in sorted(inner, key=lambda i: (-state.topics[i].level, i)):
        have = below[topic_id]
        score = len(have & wanted) / len(have | wanted) if have else 0.0
        if score > best_score:
            best, best_score = topic_id, score
    return best if best_score >= min_overlap else None
