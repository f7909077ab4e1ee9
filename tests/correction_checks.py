"""What each correction promises, checked on a tree without the corrections code: the facts a
correction established in the tree as a person left it (later corrections may have overtaken
it), and whether a rebuilt tree still shows them."""

from __future__ import annotations

from dataclasses import dataclass

from hierograph.graph.models import Correction
from hierograph.graph.store import GraphStore


@dataclass
class Snapshot:
    """The tree by ids: topics (id → (label, parent)) and assignments ((paper, topic) → origin)."""

    topics: dict[str, tuple[str, str | None]]
    placed: dict[tuple[str, str], str]

    @classmethod
    def of(cls, store: GraphStore) -> Snapshot:
        return cls(
            {t.id: (t.label, t.parent) for t in store.topics()},
            {(a.paper_id, a.topic_id): a.origin for a in store.assignments()},
        )

    def papers_under(self, topic: str) -> set[str]:
        below = {topic}
        for t in sorted(self.topics, key=lambda t: len(self.path(t))):
            if self.topics[t][1] in below:
                below.add(t)
        return {p for p, t in self.placed if t in below}

    def path(self, topic: str) -> list[str]:
        out = []
        while topic is not None and topic in self.topics:
            out.append(topic)
            topic = self.topics[topic][1]
        return out

    def same(self, topic: str, live: Snapshot, target: str) -> bool:
        """`topic` of this tree is the live tree's `target`: the same id, the same label, or
        most of the same papers (Jaccard >= 0.5) - a fresh rebuild may renumber and rename."""
        if topic == target:
            return True
        if target not in live.topics or topic not in self.topics:
            return False
        if self.topics[topic][0] == live.topics[target][0]:
            return True
        mine, theirs = self.papers_under(topic), live.papers_under(target)
        return bool(mine | theirs) and len(mine & theirs) / len(mine | theirs) >= 0.5

    def human_in(self, paper: str, target: str, live: Snapshot) -> bool:
        """The paper placed by a human in the live `target`, or below it: a rebuild may have
        split the human's target into subtopics, and the placement went into one of them."""
        for (p, t), o in self.placed.items():
            if p != paper or o != "human":
                continue
            if self.same(t, live, target):
                return True
            # Above the leaf, only the id or label says "the same topic": most of a parent's
            # papers may well be the target's papers without the paper being in the target.
            if any(
                x == target or self.topics[x][0] == live.topics.get(target, ("",))[0]
                for x in self.path(t)[1:]
            ):
                return True
        return False


def fact(c: Correction, s: Snapshot, live: Snapshot) -> bool:
    """Whether correction `c`'s effect shows in `s`, judged by what it meant in `live`."""
    p = c.payload
    if c.kind in ("move_paper", "add_topic"):
        topic = p["to" if c.kind == "move_paper" else "topic"]["id"]
        return s.human_in(p["paper_id"], topic, live)
    if c.kind == "remove_assignment":
        return (p["paper_id"], p["topic"]["id"]) not in s.placed
    if c.kind == "rename_topic":
        return any(label == p["label"].strip() for label, _ in s.topics.values())
    if c.kind == "merge_topics":
        return p["source"]["id"] not in s.topics
    if c.kind == "delete_topic":
        return p["topic"]["id"] not in s.topics
    if c.kind == "split_topic":
        new = p["new_topic"]["id"]
        mine = [x for x in p["paper_ids"] if live.placed.get((x, new)) == "human"]
        return new in s.topics and all(s.placed.get((x, new)) == "human" for x in mine)
    if c.kind == "move_topic":
        topic, parent = p["topic"]["id"], p["parent"]["id"]
        return any(
            s.same(t, live, topic) and s.same(up, live, parent)
            for t, (_, up) in s.topics.items()
            if up is not None
        )
    raise AssertionError(f"unknown kind {c.kind}")


def broken_promises(
    active: list[Correction], live: Snapshot, rebuilt: Snapshot, reported: dict[int, str]
) -> list[str]:
    """Corrections whose effect held in the live tree, is not in the rebuilt one, and was not
    reported with a reason (`reported`: correction id → the replay's detail)."""
    out = []
    for c in active:
        assert c.id is not None
        if fact(c, live, live) and not fact(c, rebuilt, live) and not reported.get(c.id):
            out.append(f"#{c.id} {c.kind} {c.payload.get('paper_id', '')}")
    return out
