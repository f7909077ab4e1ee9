"""The refine pass's working tree: a mutable copy of a Hierarchy keyed by topic id, with the
two changes the pass makes (merge two siblings, move a leaf), the normalization that follows
them, a safety check, and the way back to records (llm/refine.py drives it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hierograph.graph.models import Assignment, Hierarchy, Topic
from hierograph.hierarchy.tree import content_id


@dataclass
class RefineNode:
    """One topic of the working tree: its record, child ids and direct assignments."""

    topic: Topic
    children: list[str] = field(default_factory=list)
    assigned: dict[str, Assignment] = field(default_factory=dict)  # paper id → assignment

    def clone(self) -> RefineNode:
        # Topics and assignments are replaced, never mutated: sharing them is safe.
        return RefineNode(self.topic, list(self.children), dict(self.assigned))


class RefineTree:
    """A mutable copy of a Hierarchy keyed by topic id; ids stay as they were during the pass."""

    def __init__(self, nodes: dict[str, RefineNode], root: str) -> None:
        self.nodes = nodes
        self.root = root

    @classmethod
    def of(cls, hierarchy: Hierarchy) -> RefineTree:
        """The working copy of `hierarchy`."""
        nodes = {t.id: RefineNode(t) for t in hierarchy.topics}
        for t in hierarchy.topics:
            if t.parent is not None:
                nodes[t.parent].children.append(t.id)
        for a in hierarchy.assignments:
            nodes[a.topic_id].assigned[a.paper_id] = a
        return cls(nodes, hierarchy.root().id)

    def clone(self) -> RefineTree:
        """An independent copy: a batch's changes are tried on it and kept only if sound."""
        return RefineTree({k: n.clone() for k, n in self.nodes.items()}, self.root)

    def parent(self, topic_id: str) -> str | None:
        """The topic's parent id (None for the root)."""
        return self.nodes[topic_id].topic.parent

    def level(self, topic_id: str) -> int:
        """The topic's depth (the root is 0)."""
        return self.nodes[topic_id].topic.level

    def is_leaf(self, topic_id: str) -> bool:
        """True when the topic has no subtopics."""
        return not self.nodes[topic_id].children

    def papers(self) -> dict[str, set[str]]:
        """Topic id → every paper assigned to it or below it."""
        out: dict[str, set[str]] = {}

        def visit(tid: str) -> set[str]:
            node = self.nodes[tid]
            found = set(node.assigned)
            for child in node.children:
                found |= visit(child)
            out[tid] = found
            return found

        visit(self.root)
        return out

    def _set(self, topic_id: str, **update: object) -> None:
        node = self.nodes[topic_id]
        node.topic = node.topic.model_copy(update=update)

    # --- changes ---
    def merge(self, keep: str, fold: str, update: dict[str, object]) -> None:
        """Fold topic `fold` into its sibling `keep` (children and papers; a paper in both keeps
        its higher score) and update `keep`'s record with `update` (e.g. a new label)."""
        a, b = self.nodes[keep], self.nodes[fold]
        for child in b.children:
            self._set(child, parent=keep)
        a.children.extend(b.children)
        for pid, assignment in b.assigned.items():
            mine = a.assigned.get(pid)
            if mine is None or assignment.score > mine.score:
                a.assigned[pid] = assignment.model_copy(update={"topic_id": keep})
        self._set(keep, **update)
        self.nodes[self.parent(fold) or ""].children.remove(fold)
        del self.nodes[fold]

    def move(self, leaf: str, to: str) -> None:
        """Put `leaf` under the parent `to`."""
        self.nodes[self.parent(leaf) or ""].children.remove(leaf)
        self.nodes[to].children.append(leaf)
        self._set(leaf, parent=to)

    def normalize(self) -> None:
        """Empty topics dropped, a topic with one child replaced by that child (the child moves
        up, as in tree building), levels recomputed from the root."""
        changed = True
        while changed:
            changed = False
            for tid in list(self.nodes):
                node = self.nodes.get(tid)
                if node is None or tid == self.root:
                    continue
                parent = self.nodes[node.topic.parent or ""]
                if not node.children and not node.assigned:
                    parent.children.remove(tid)
                    del self.nodes[tid]
                    changed = True
                elif len(node.children) == 1 and not node.assigned:
                    (child,) = node.children
                    parent.children[parent.children.index(tid)] = child
                    self._set(child, parent=node.topic.parent)
                    del self.nodes[tid]
                    changed = True
            root = self.nodes[self.root]
            if len(root.children) == 1 and self.nodes[root.children[0]].children:
                (only,) = root.children
                root.children = self.nodes[only].children
                for child in root.children:
                    self._set(child, parent=self.root)
                del self.nodes[only]
                changed = True
        stack = [(self.root, 0)]
        while stack:
            tid, level = stack.pop()
            if self.level(tid) != level:
                self._set(tid, level=level)
            stack.extend((c, level + 1) for c in self.nodes[tid].children)

    def problem(self, all_papers: set[str]) -> str | None:
        """What is wrong with the tree, if anything (a safety net behind the candidate rules)."""
        root = self.nodes[self.root]
        if len(root.children) < 2:
            return "the root would have fewer than 2 subtopics"
        for tid, node in self.nodes.items():
            if node.children and node.assigned:
                return f"topic {tid} would hold papers and subtopics"
        in_leaves = {p for n in self.nodes.values() if not n.children for p in n.assigned}
        if in_leaves != all_papers:
            return "a paper would be in no leaf"
        return None

    def to_hierarchy(self) -> Hierarchy:
        """Back to records, root first, each parent before its children; non-root ids are the
        content hash of their (possibly changed) subtree papers."""
        papers = self.papers()
        ids = {tid: tid if tid == self.root else content_id(sorted(papers[tid])) for tid in papers}
        topics: list[Topic] = []
        assignments: list[Assignment] = []
        queue = [self.root]
        for tid in queue:
            node = self.nodes[tid]
            parent = node.topic.parent
            topics.append(
                node.topic.model_copy(
                    update={
                        "id": ids[tid],
                        "parent": None if parent is None else ids[parent],
                        "size": len(papers[tid]),
                    }
                )
            )
            assignments.extend(
                a.model_copy(update={"topic_id": ids[tid]})
                for _, a in sorted(node.assigned.items())
            )
            queue.extend(node.children)
        return Hierarchy(topics=topics, assignments=assignments)
