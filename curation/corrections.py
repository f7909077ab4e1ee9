"""Human corrections of the topic tree: applied at once, undone by an inverse entry, replayed onto
every rebuilt tree.

Each correction is one entry of the store's append-only log (`store.append_correction`). Its
payload holds the *intent* (paper ids and references to topics: id, label and the papers under
the topic when it was made) and the *effect* it had (the before/after state of every topic and
assignment it touched). Undo restores the effect's "before" state and appends an `undo` entry;
replay re-plans each still-active intent on the new tree, finding topics by id, then by label,
then by paper overlap. Papers placed by a correction carry origin "human"; clustering and the
corrector never override those, because every rebuild ends with a replay and the corrector skips
papers that a human has placed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, Field

from hierograph.graph.models import Assignment, Correction, Topic
from hierograph.graph.store import GraphStore

log = logging.getLogger(__name__)

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
# Meta keys: the effects of the latest replay (undo after a rebuild reverts those) and its report.
EFFECTS_META = "corrections_replay_effects"
REPORT_META = "corrections_last_replay"
DEFAULT_MIN_OVERLAP = 0.5


class CorrectionError(ValueError):
    """A correction that cannot be applied as asked; the message says what to do instead."""


class TargetMissing(CorrectionError):
    """On replay: a paper or topic the correction names is not in the rebuilt tree."""


# --- the tree as plain data -------------------------------------------------------------------


class TreeState:
    """One read of the store's tree: topics, assignments and a parent→child networkx graph."""

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
        """What replay needs to find this topic again in a rebuilt tree."""
        t = self.topic(topic_id)
        return {"id": t.id, "label": t.label, "papers": sorted(self.subtree_papers(t.id))}

    def leaves(self) -> list[str]:
        return sorted(t for t in self.topics if self.is_leaf(t))


_TAKES_OUT = ("move_paper", "remove_assignment", "split_topic")


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
        for ancestor in {t} | nx.ancestors(state.graph, t):
            below[ancestor].add(p)
    best, best_score = None, 0.0
    for topic_id in sorted(state.topics, key=lambda i: (-state.topics[i].level, i)):
        have = below[topic_id]
        score = len(have & wanted) / len(have | wanted) if have else 0.0
        if score > best_score:
            best, best_score = topic_id, score
    return best if best_score >= min_overlap else None


# --- effects: before/after of the touched items ------------------------------------------------

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
    counts: dict[str, set[str]] = {t: set() for t in state.topics}
    for p, t in state.assignments:
        if t not in counts:
            continue
        for ancestor in {t} | nx.ancestors(state.graph, t):
            counts[ancestor].add(p)
    changed = [
        t.model_copy(update={"size": len(counts[t.id])})
        for t in state.topics.values()
        if t.size != len(counts[t.id])
    ]
    if changed:
        store.upsert_topics(sorted(changed, key=lambda t: (t.level, t.id)))


# --- planning: intent + tree → effect ------------------------------------------------------------

Resolver = Callable[[dict[str, Any]], str]


def _human(paper_id: str, topic_id: str) -> Assignment:
    return Assignment(paper_id=paper_id, topic_id=topic_id, score=HUMAN_SCORE, origin="human")


def _need_paper(state: TreeState, paper_id: str) -> None:
    if not state.has_paper(paper_id):
        raise TargetMissing(f"no paper {paper_id!r} in the store")


def _need_leaf(state: TreeState, topic_id: str) -> None:
    if not state.is_leaf(topic_id):
        raise CorrectionError(
            f"topic {topic_id} has subtopics; papers sit in leaves, so pick one of its leaves"
        )


def _relevel(state: TreeState, effect: Effect, topic_id: str, parent: str | None) -> None:
    """Put `topic_id` under `parent` and give its whole subtree the matching levels."""
    base = 0 if parent is None else state.topic(parent).level + 1
    depth = nx.single_source_shortest_path_length(state.graph, topic_id)
    for node, d in sorted(depth.items()):
        current = effect.topics[node][1] if node in effect.topics else state.topics[node]
        assert current is not None
        update: dict[str, Any] = {"level": base + d}
        if node == topic_id:
            update["parent"] = parent
        effect.set_topic(state, node, current.model_copy(update=update))


def _replayed_leaf(state: TreeState, paper: str, target: str, replay: bool) -> str:
    """The leaf a replayed placement lands in. A rebuild may have split the human's target
    into subtopics: the placement then goes to the leaf below it that the rebuild already put
    the paper in (still inside what the human chose), or else stays a conflict."""
    if not replay or state.is_leaf(target):
        return target
    below = state.subtree(target)
    inside = sorted(
        (a for a in state.paper_topics(paper) if a.topic_id in below and state.is_leaf(a.topic_id)),
        key=lambda a: -a.score,
    )
    return inside[0].topic_id if inside else target


def plan_move_paper(state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool) -> Effect:
    paper = p["paper_id"]
    _need_paper(state, paper)
    target = _replayed_leaf(state, paper, resolve(p["to"]), replay)
    _need_leaf(state, target)
    effect = Effect()
    try:
        source = resolve(p["from"])
    except TargetMissing:
        if not replay:
            raise
        source = None
    if not replay:
        if (paper, source) not in state.assignments:
            raise CorrectionError(f"paper {paper} is not in topic {source}; nothing to move")
        if source == target:
            raise CorrectionError("the paper is already in that topic")
    else:
        # After a rebuild the clustering may have put the paper anywhere: the human said it
        # belongs in the target, so every placement not made by a human gives way.
        for a in state.paper_topics(paper):
            if a.origin != "human" and a.topic_id != target:
                effect.set_assignment(state, paper, a.topic_id, None)
    if source is not None and source != target:
        effect.set_assignment(state, paper, source, None)
    effect.set_assignment(state, paper, target, _human(paper, target))
    return effect


def plan_add_topic(state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool) -> Effect:
    paper = p["paper_id"]
    _need_paper(state, paper)
    target = _replayed_leaf(state, paper, resolve(p["topic"]), replay)
    _need_leaf(state, target)
    existing = state.assignments.get((paper, target))
    if not replay and existing is not None and existing.origin == "human":
        raise CorrectionError(f"paper {paper} is already in topic {target}")
    effect = Effect()
    effect.set_assignment(state, paper, target, _human(paper, target))
    return effect


def plan_remove_assignment(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    paper = p["paper_id"]
    _need_paper(state, paper)
    target = resolve(p["topic"])
    effect = Effect()
    if (paper, target) not in state.assignments:
        if replay:
            return effect  # the rebuilt tree already agrees with the human
        raise CorrectionError(f"paper {paper} is not in topic {target}")
    if len(state.paper_topics(paper)) == 1:
        raise CorrectionError(
            f"topic {target} is the only place of paper {paper}; move it instead "
            "(`hierograph correct move`)"
        )
    effect.set_assignment(state, paper, target, None)
    return effect


def plan_rename_topic(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    target = resolve(p["topic"])
    label = p["label"].strip()
    if not label:
        raise CorrectionError("the new label is empty")
    update: dict[str, Any] = {"label": label}
    if p.get("summary") is not None:
        update["summary"] = p["summary"]
    effect = Effect()
    effect.set_topic(state, target, state.topic(target).model_copy(update=update))
    return effect


def plan_merge_topics(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    source, target = resolve(p["source"]), resolve(p["target"])
    if source == target:
        raise CorrectionError("a topic cannot be merged into itself")
    if state.topic(source).parent is None:
        raise CorrectionError("the root cannot be merged away")
    if target in state.subtree(source):
        raise CorrectionError(f"topic {target} lies inside {source}; merge the other way round")
    if state.is_leaf(source) != state.is_leaf(target):
        raise CorrectionError(
            "merge two leaves or two topics with subtopics; papers sit in leaves only"
        )
    effect = Effect()
    for child in state.children(source):
        _relevel(state, effect, child, target)
    for paper in state.direct_papers(source):
        moved = state.assignments[(paper, source)]
        kept = state.assignments.get((paper, target))
        effect.set_assignment(state, paper, source, None)
        if kept is None or (kept.origin != "human" and moved.score > kept.score):
            effect.set_assignment(
                state, paper, target, moved.model_copy(update={"topic_id": target})
            )
    effect.set_topic(state, source, None)
    return effect


def split_topic_id(source_id: str, paper_ids: list[str]) -> str:
    """Same split → same id, so a replayed split lands on the topic it made before."""
    text = "split\n" + source_id + "\n" + "\n".join(sorted(paper_ids))
    return "t" + hashlib.sha1(text.encode()).hexdigest()[:12]


def plan_split_topic(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    source = resolve(p["topic"])
    _need_leaf(state, source)
    leaving = sorted(set(p["paper_ids"]))
    new = p["new_topic"]
    effect = Effect()
    if not replay:
        inside = set(state.direct_papers(source))
        strangers = [x for x in leaving if x not in inside]
        if strangers:
            raise CorrectionError(f"papers not in topic {source}: {', '.join(strangers)}")
        if not leaving or len(leaving) == len(inside):
            raise CorrectionError("pick some but not all of the topic's papers to split off")
        if new["id"] in state.topics:
            raise CorrectionError(f"this split was made already (topic {new['id']})")
    present = [x for x in leaving if state.has_paper(x)]
    if not present:
        raise TargetMissing("none of the split-off papers is in the store")
    parent = state.topic(source).parent
    existing = state.topics.get(new["id"])
    if existing is None:
        level = state.topic(source).level
        topic = Topic(id=new["id"], label=new["label"], parent=parent, level=level)
        effect.set_topic(state, new["id"], topic)
    elif not state.is_leaf(new["id"]):
        raise CorrectionError(f"topic {new['id']} has subtopics in the rebuilt tree")
    for paper in present:
        for a in state.paper_topics(paper):
            leaves_source = a.topic_id == source or (replay and a.origin != "human")
            if leaves_source and a.topic_id != new["id"]:
                effect.set_assignment(state, paper, a.topic_id, None)
        effect.set_assignment(state, paper, new["id"], _human(paper, new["id"]))
    return effect


def plan_move_topic(state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool) -> Effect:
    topic, parent = resolve(p["topic"]), resolve(p["parent"])
    if state.topic(topic).parent is None:
        raise CorrectionError("the root cannot be moved")
    if parent in state.subtree(topic):
        raise CorrectionError(f"topic {parent} lies inside {topic}; that would make a cycle")
    if state.direct_papers(parent):
        raise CorrectionError(
            f"topic {parent} holds papers directly (a leaf); move topics under inner topics"
        )
    effect = Effect()
    _relevel(state, effect, topic, parent)
    return effect


def plan_delete_topic(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    topic = resolve(p["topic"])
    if state.topic(topic).parent is None:
        raise CorrectionError("the root cannot be deleted")
    if not state.is_leaf(topic) or state.direct_papers(topic):
        raise CorrectionError(
            f"topic {topic} is not empty; move its papers and subtopics away (or merge it) first"
        )
    effect = Effect()
    effect.set_topic(state, topic, None)
    return effect


PLANNERS: dict[str, Callable[[TreeState, dict[str, Any], Resolver, bool], Effect]] = {
    "move_paper": plan_move_paper,
    "add_topic": plan_add_topic,
    "remove_assignment": plan_remove_assignment,
    "rename_topic": plan_rename_topic,
    "merge_topics": plan_merge_topics,
    "split_topic": plan_split_topic,
    "move_topic": plan_move_topic,
    "delete_topic": plan_delete_topic,
}


# --- applying and undoing -----------------------------------------------------------------------


def _exact(state: TreeState) -> Resolver:
    def resolve(ref: dict[str, Any]) -> str:
        return state.topic(ref["id"]).id

    return resolve


def _apply(store: GraphStore, kind: str, intent: dict[str, Any], actor: str) -> Correction:
    """Plan on the current tree with exact ids, write the effect, then log intent + effect."""
    state = TreeState.from_store(store)
    effect = PLANNERS[kind](state, intent, _exact(state), False).pruned()
    write_effect(store, effect)
    payload = {**intent, "effect": effect.to_json()}
    return store.append_correction(Correction(kind=kind, actor=actor, payload=payload))


def move_paper(
    store: GraphStore, paper_id: str, from_topic: str, to_topic: str, actor: str = "human"
) -> Correction:
    state = TreeState.from_store(store)
    refs = {"from": state.ref(from_topic), "to": state.ref(to_topic)}
    return _apply(store, "move_paper", {"paper_id": paper_id, **refs}, actor)


def add_topic(store: GraphStore, paper_id: str, topic_id: str, actor: str = "human") -> Correction:
    state = TreeState.from_store(store)
    return _apply(store, "add_topic", {"paper_id": paper_id, "topic": state.ref(topic_id)}, actor)


def remove_assignment(
    store: GraphStore, paper_id: str, topic_id: str, actor: str = "human"
) -> Correction:
    state = TreeState.from_store(store)
    return _apply(
        store, "remove_assignment", {"paper_id": paper_id, "topic": state.ref(topic_id)}, actor
    )


def rename_topic(
    store: GraphStore,
    topic_id: str,
    label: str,
    summary: str | None = None,
    actor: str = "human",
) -> Correction:
    state = TreeState.from_store(store)
    ref = {**state.ref(topic_id), "new_label": label}
    return _apply(store, "rename_topic", {"topic": ref, "label": label, "summary": summary}, actor)


def merge_topics(store: GraphStore, source: str, target: str, actor: str = "human") -> Correction:
    state = TreeState.from_store(store)
    refs = {"source": state.ref(source), "target": state.ref(target)}
    return _apply(store, "merge_topics", refs, actor)


def split_topic(
    store: GraphStore,
    topic_id: str,
    paper_ids: list[str],
    label: str | None = None,
    actor: str = "human",
) -> Correction:
    state = TreeState.from_store(store)
    ref = state.ref(topic_id)
    new = {
        "id": split_topic_id(topic_id, paper_ids),
        "label": label or f"{ref['label']} (split)",
    }
    intent = {"topic": ref, "paper_ids": sorted(set(paper_ids)), "new_topic": new}
    return _apply(store, "split_topic", intent, actor)


def move_topic(
    store: GraphStore, topic_id: str, new_parent: str, actor: str = "human"
) -> Correction:
    state = TreeState.from_store(store)
    intent = {"topic": state.ref(topic_id), "parent": state.ref(new_parent)}
    old = state.topic(topic_id).parent
    if old is not None:
        intent["old_parent"] = state.ref(old)
    return _apply(store, "move_topic", intent, actor)


def delete_topic(store: GraphStore, topic_id: str, actor: str = "human") -> Correction:
    state = TreeState.from_store(store)
    return _apply(store, "delete_topic", {"topic": state.ref(topic_id)}, actor)


def active_corrections(log_entries: list[Correction]) -> list[Correction]:
    """The log minus undo entries and the corrections they undid, oldest first."""
    undone = {c.payload.get("undoes") for c in log_entries if c.kind == UNDO}
    return [c for c in log_entries if c.kind != UNDO and c.id not in undone]


def current_effect(store: GraphStore, correction: Correction) -> Effect:
    """The effect this correction has on the tree now: from the latest replay when the tree was
    rebuilt since it was made, else the one recorded when it was applied."""
    replayed = json.loads(store.get_meta(EFFECTS_META) or "{}")
    if str(correction.id) in replayed:
        return Effect.from_json(replayed[str(correction.id)])
    return Effect.from_json(correction.payload.get("effect"))


def undo(store: GraphStore, correction_id: int, actor: str = "human") -> Correction:
    """Revert correction `correction_id` and log an `undo` entry; the original stays in the log."""
    entries = store.corrections()
    by_id = {c.id: c for c in entries}
    target = by_id.get(correction_id)
    if target is None:
        raise CorrectionError(
            f"no correction #{correction_id}; `hierograph correct log` lists them"
        )
    if target.kind == UNDO:
        raise CorrectionError("an undo cannot be undone; apply the correction again instead")
    if any(c.kind == UNDO and c.payload.get("undoes") == correction_id for c in entries):
        raise CorrectionError(f"correction #{correction_id} is already undone")
    effect = current_effect(store, target)
    state = TreeState.from_store(store)
    changed = effect.conflicts(state)
    if changed:
        raise CorrectionError(
            f"cannot undo #{correction_id}: {', '.join(changed[:3])} changed since; undo the "
            "later corrections that touched them first"
        )
    inverse = effect.inverse()
    write_effect(store, inverse)
    payload = {"undoes": correction_id, "undone_kind": target.kind, "effect": inverse.to_json()}
    return store.append_correction(Correction(kind=UNDO, actor=actor, payload=payload))


# --- replay onto a rebuilt tree -------------------------------------------------------------------


class ReplayItem(BaseModel):
    id: int
    kind: str
    status: Literal["applied", "unchanged", "missing", "conflict"]
    detail: str = ""


class ReplayReport(BaseModel):
    items: list[ReplayItem] = Field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def not_applied(self) -> list[ReplayItem]:
        return [i for i in self.items if i.status in ("missing", "conflict")]

    def summary(self) -> str:
        return (
            f"{len(self.items)} corrections replayed: {self.count('applied')} applied, "
            f"{self.count('unchanged')} unchanged, {self.count('missing')} missing their "
            f"target, {self.count('conflict')} in conflict"
        )


def replay_corrections(store: GraphStore, min_overlap: float = DEFAULT_MIN_OVERLAP) -> ReplayReport:
    """Re-apply every active correction, oldest first, onto a freshly built tree (call it right
    after `store.replace_hierarchy`). Corrections whose target is gone are reported, not dropped:
    they stay in the log and are tried again at the next rebuild."""
    report = ReplayReport()
    effects: dict[str, Any] = {}
    for correction in active_corrections(store.corrections()):
        assert correction.id is not None
        state = TreeState.from_store(store)

        def resolve(ref: dict[str, Any], state: TreeState = state) -> str:
            found = match_topic(state, ref, min_overlap)
            if found is None:
                raise TargetMissing(f"topic {ref['id']} ({ref.get('label')!r}) is gone")
            return found

        try:
            planner = PLANNERS[correction.kind]
        except KeyError:
            report.items.append(
                ReplayItem(
                    id=correction.id,
                    kind=correction.kind,
                    status="conflict",
                    detail="unknown correction kind (written by a newer Hierograph?)",
                )
            )
            continue
        try:
            effect = planner(state, correction.payload, resolve, True).pruned()
        except TargetMissing as e:
            report.items.append(
                ReplayItem(id=correction.id, kind=correction.kind, status="missing", detail=str(e))
            )
            continue
        except CorrectionError as e:
            report.items.append(
                ReplayItem(id=correction.id, kind=correction.kind, status="conflict", detail=str(e))
            )
            continue
        write_effect(store, effect)
        effects[str(correction.id)] = effect.to_json()
        status = "unchanged" if effect.is_empty() else "applied"
        report.items.append(ReplayItem(id=correction.id, kind=correction.kind, status=status))
    store.set_meta(EFFECTS_META, json.dumps(effects))
    store.set_meta(REPORT_META, report.model_dump_json())
    for item in report.not_applied:
        log.warning("correction #%d (%s) not replayed: %s", item.id, item.kind, item.detail)
    return report


def last_replay(store: GraphStore) -> ReplayReport | None:
    raw = store.get_meta(REPORT_META)
    return ReplayReport.model_validate_json(raw) if raw else None


Evidence = list[tuple[str, str, int, Assignment | None]]


def human_evidence(store: GraphStore) -> Evidence:
    """(paper, topic in the current tree, +1 placed there / -1 taken out, the assignment the pair
    had before the human acted) for every active paper-level correction: what the corrector
    learns from."""
    state = TreeState.from_store(store)
    out: dict[tuple[str, str], tuple[int, Assignment | None]] = {}
    for correction in active_corrections(store.corrections()):
        effect = current_effect(store, correction)
        for (paper, topic), (before, after) in effect.assignments.items():
            if topic not in state.topics:
                continue
            if after is not None and after.origin == "human":
                out[(paper, topic)] = (1, before)
            elif after is None and correction.kind in _TAKES_OUT:
                out[(paper, topic)] = (-1, before)
    return [(p, t, y, before) for (p, t), (y, before) in sorted(out.items())]
