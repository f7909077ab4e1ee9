"""What a correction changed: the before/after state of every topic and assignment it touched,
written to a store (applying, undoing) or to an in-memory tree (replaying)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hierograph.curation.state import TreeState
from hierograph.graph.models import Assignment, Topic
from hierograph.graph.store import GraphStore

_VOLATILE = {"size", "built_at"}


def _same_topic(a: Topic | None, b: Topic | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.model_dump(exclude=_VOLATILE) == b.model_dump(exclude=_VOLATILE)


def _same_assignment(a: Assignment | None, b: Assignment | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.origin, round(a.score, 6)) == (b.origin, round(b.score, 6))


@dataclass
class Effect:
    """What one correction changed: (before, after) per topic id and per (paper, topic) pair."""

    topics: dict[str, tuple[Topic | None, Topic | None]] = field(default_factory=dict)
    assignments: dict[tuple[str, str], tuple[Assignment | None, Assignment | None]] = field(
        default_factory=dict
    )

    def set_topic(self, state: TreeState, topic_id: str, after: Topic | None) -> None:
        before = self.topics[topic_id][0] if topic_id in self.topics else state.topics.get(topic_id)
        self.topics[topic_id] = (before, after)

    def set_assignment(
        self, state: TreeState, paper_id: str, topic_id: str, after: Assignment | None
    ) -> None:
        key = (paper_id, topic_id)
        before = self.assignments[key][0] if key in self.assignments else state.assignments.get(key)
        self.assignments[key] = (before, after)

    def then(self, later: Effect) -> Effect:
        """This effect followed by `later`: the earliest "before" and the latest "after"."""
        topics = dict(self.topics)
        for k, (b, a) in later.topics.items():
            topics[k] = (topics[k][0] if k in topics else b, a)
        assignments = dict(self.assignments)
        for k, (b, a) in later.assignments.items():
            assignments[k] = (assignments[k][0] if k in assignments else b, a)
        return Effect(topics, assignments)

    def pruned(self) -> Effect:
        """Without the items whose before and after are the same."""
        return Effect(
            {k: v for k, v in self.topics.items() if not _same_topic(*v)},
            {k: v for k, v in self.assignments.items() if not _same_assignment(*v)},
        )

    def inverse(self) -> Effect:
        return Effect(
            {k: (a, b) for k, (b, a) in self.topics.items()},
            {k: (a, b) for k, (b, a) in self.assignments.items()},
        )

    def is_empty(self) -> bool:
        return not self.topics and not self.assignments

    def apply_to(self, state: TreeState) -> None:
        """Bring the in-memory tree to this effect's "after" state (replay)."""
        for k, (_, after) in sorted(self.topics.items(), key=lambda kv: _order(kv[1])):
            if after is not None:
                state.set_topic(k, after)
        for (p, t), (_, after) in self.assignments.items():
            state.set_assignment(p, t, after)
        gone = [(b, k) for k, (b, a) in self.topics.items() if a is None]
        for _, k in sorted(gone, key=lambda x: (-(x[0].level if x[0] else 0), x[1])):
            state.set_topic(k, None)
            for key in [key for key in state.assignments if key[1] == k]:
                del state.assignments[key]

    def to_json(self) -> dict[str, Any]:
        def dump(m: BaseModel | None) -> dict[str, Any] | None:
            return None if m is None else m.model_dump()

        return {
            "topics": [[k, dump(b), dump(a)] for k, (b, a) in sorted(self.topics.items())],
            "assignments": [
                [p, t, dump(b), dump(a)] for (p, t), (b, a) in sorted(self.assignments.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Effect:
        data = data or {}

        def topic(d: dict[str, Any] | None) -> Topic | None:
            return None if d is None else Topic(**d)

        def assignment(d: dict[str, Any] | None) -> Assignment | None:
            return None if d is None else Assignment(**d)

        return cls(
            {k: (topic(b), topic(a)) for k, b, a in data.get("topics", [])},
            {(p, t): (assignment(b), assignment(a)) for p, t, b, a in data.get("assignments", [])},
        )

    def conflicts(self, state: TreeState) -> list[str]:
        """Items whose current state is not this effect's "after" (changed since)."""
        out = [
            f"topic {k}"
            for k, (_, a) in self.topics.items()
            if not _same_topic(state.topics.get(k), a)
        ]
        out += [
            f"assignment {p} → {t}"
            for (p, t), (_, a) in self.assignments.items()
            if not _same_assignment(state.assignments.get((p, t)), a)
        ]
        return out


def _order(pair: tuple[Topic | None, Topic | None]) -> tuple[int, str]:
    after = pair[1]
    return (after.level, after.id) if after is not None else (10**6, "")


def write_effect(store: GraphStore, effect: Effect) -> None:
    """Bring the store to the effect's "after" state, in an order the store accepts: new and
    changed topics parents first, then assignments, then removed topics deepest first."""
    upserts = [a for _, a in effect.topics.values() if a is not None]
    if upserts:
        store.upsert_topics(sorted(upserts, key=lambda t: (t.level, t.id)))
    added = [a for _, a in effect.assignments.values() if a is not None]
    if added:
        store.upsert_assignments(added)
    for (paper_id, topic_id), (_, after) in sorted(effect.assignments.items()):
        if after is None:
            store.remove_assignment(paper_id, topic_id)
    gone = [b for k, (b, a) in effect.topics.items() if a is None and b is not None]
    for topic in sorted(gone, key=lambda t: (-t.level, t.id)):
        store.delete_topic(topic.id)
    refresh_sizes(store)


def refresh_sizes(store: GraphStore) -> None:
    """Topic.size counts the papers under a topic; corrections move papers, so recount."""
    state = TreeState(store.topics(), store.assignments())
    counts = state.subtree_counts()
    changed = [
        t.model_copy(update={"size": counts[t.id]})
        for t in state.topics.values()
        if t.size != counts[t.id]
    ]
    if changed:
        store.upsert_topics(sorted(changed, key=lambda t: (t.level, t.id)))
