"""Replaying the corrections log onto a rebuilt tree, in memory, so that the build writes the
new tree and its corrections in one store write (a crash leaves the old tree with its
corrections or the new one with its corrections, never a tree without them).

Each active correction, oldest first, is re-planned on the tree as the replay has left it:
topics are found by id, then label, then paper overlap. A topic the human placed papers in
(a move's or an add's target, a merge's target, a move-topic's new parent) that the rebuild
dissolved is made again where it hung, so a placement never goes missing; a topic that the
replay leaves empty (its papers all moved away by humans) is removed as part of the correction
that emptied it; a `delete` of a leaf the rebuild filled again after people moved its papers
away folds the newcomers into where most of those papers went; a stale `delete`, `remove` or
`merge` whose topic no longer exists is already satisfied. What cannot be carried out is
reported with what to do about it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from hierograph.curation.effects import Effect
from hierograph.curation.planners import PLANNERS, home_for_new_topic
from hierograph.curation.state import (
    DEFAULT_MIN_OVERLAP,
    UNDO,
    CorrectionError,
    Satisfied,
    TargetMissing,
    TreeState,
    match_topic,
)
from hierograph.graph.models import Assignment, Correction, Hierarchy, Topic
from hierograph.graph.store import GraphStore

log = logging.getLogger(__name__)

# Meta keys: the effects of the latest replay (undo after a rebuild reverts those) and its report.
EFFECTS_META = "corrections_replay_effects"
REPORT_META = "corrections_last_replay"
# Per kind, the intent keys naming a topic that the human put something into: made again on
# replay when the rebuild dissolved it (the second key must resolve first, when given).
_PLACES_INTO: dict[str, tuple[str, str | None]] = {
    "move_paper": ("to", None),
    "add_topic": ("topic", None),
    "merge_topics": ("target", "source"),
    "move_topic": ("parent", "topic"),
}
_TAKES_OUT = ("move_paper", "remove_assignment", "split_topic")


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


@dataclass
class Replay:
    """A replay's outcome: the corrected tree, the report, and each correction's effect."""

    hierarchy: Hierarchy
    report: ReplayReport
    effects: dict[str, Any]

    def meta(self) -> dict[str, str]:
        """What the store keeps of it, written in the same transaction as the tree."""
        return {
            EFFECTS_META: json.dumps(self.effects),
            REPORT_META: self.report.model_dump_json(),
        }


class _Resolver:
    def __init__(self, state: TreeState, min_overlap: float) -> None:
        self.state, self.min_overlap = state, min_overlap

    def __call__(self, ref: dict[str, Any]) -> str:
        found = match_topic(self.state, ref, self.min_overlap)
        if found is None:
            raise TargetMissing(
                f"topic {ref['id']} ({ref.get('label')!r}) is gone: the rebuild regrouped its "
                "papers; find where they are now (`hierograph show --ids`) and redo the "
                "correction there, or undo it"
            )
        return found


def _remake(state: TreeState, ref: dict[str, Any], resolve: _Resolver) -> Effect:
    """A topic the human put papers into, made again under its old parent (or the root)."""
    parent_ref = ref.get("parent")
    parent = None
    if parent_ref is not None:
        try:
            parent = resolve(parent_ref)
        except TargetMissing:
            parent = None
    parent = home_for_new_topic(state, parent)
    topic = Topic(
        id=ref["id"],
        label=ref.get("new_label") or ref.get("label") or ref["id"],
        parent=parent,
        level=state.topic(parent).level + 1,
    )
    effect = Effect()
    effect.set_topic(state, topic.id, topic)
    return effect


def _ensure_targets(state: TreeState, correction: Correction, resolve: _Resolver) -> Effect:
    place = _PLACES_INTO.get(correction.kind)
    if place is None:
        return Effect()
    key, first = place
    p = correction.payload
    if first is not None:
        resolve(p[first])  # the source must be there; a missing one is satisfied or reported
    ref = p.get(key)
    if ref is None or match_topic(state, ref, resolve.min_overlap) is not None:
        return Effect()
    return _remake(state, ref, resolve)


def _empty_leaves(state: TreeState) -> set[str]:
    holding = {t for _, t in state.assignments}
    return {
        t
        for t, topic in state.topics.items()
        if topic.parent is not None and state.is_leaf(t) and t not in holding
    }


def _prune(state: TreeState, empty_before: set[str]) -> Effect:
    """Topics that the last correction left empty go with it (and parents left bare)."""
    effect = Effect()
    while gone := sorted(_empty_leaves(state) - empty_before):
        step = Effect()
        for t in gone:
            step.set_topic(state, t, None)
        step.apply_to(state)
        effect = effect.then(step)
    return effect


_SATISFIED = {
    "delete_topic": "the topic no longer exists",
    "remove_assignment": "the paper is not in that topic",
    "merge_topics": "the merged-away topic no longer exists",
}


def replay_onto(
    hierarchy: Hierarchy,
    log_entries: list[Correction],
    papers: set[str],
    min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> Replay:
    """Every active correction of `log_entries`, oldest first, re-applied to `hierarchy` (a
    freshly built tree) in memory; `papers` are the ids in the store."""
    state = TreeState.from_hierarchy(hierarchy, papers)
    resolve = _Resolver(state, min_overlap)
    report = ReplayReport()
    effects: dict[str, Any] = {}
    for correction in _with_fold_targets(active_corrections(log_entries)):
        assert correction.id is not None
        item = _replay_one(state, correction, resolve, effects)
        report.items.append(item)
    for item in report.not_applied:
        log.warning("correction #%d (%s) not replayed: %s", item.id, item.kind, item.detail)
    return Replay(state.to_hierarchy(), report, effects)


def _with_fold_targets(active: list[Correction]) -> list[Correction]:
    """`active` with each `delete` of a topic whose papers people had moved away given
    `fold_into`: the topic most of those moves went to. A rebuild may fill the deleted leaf
    again with other papers; they then join that topic instead of the delete failing."""
    went: dict[str, Counter[str]] = {}
    refs: dict[str, dict[str, Any]] = {}
    out = []
    for c in active:
        p = c.payload
        if c.kind == "move_paper" and p.get("from"):
            went.setdefault(p["from"]["id"], Counter())[p["to"]["id"]] += 1
            refs[p["to"]["id"]] = p["to"]
        if c.kind == "delete_topic" and went.get(p["topic"]["id"]):
            target = went[p["topic"]["id"]].most_common(1)[0][0]
            c = c.model_copy(update={"payload": {**p, "fold_into": refs[target]}})
        out.append(c)
    return out


def _replay_one(
    state: TreeState, correction: Correction, resolve: _Resolver, effects: dict[str, Any]
) -> ReplayItem:
    assert correction.id is not None

    def item(status: str, detail: str = "") -> ReplayItem:
        return ReplayItem(id=correction.id, kind=correction.kind, status=status, detail=detail)

    planner = PLANNERS.get(correction.kind)
    if planner is None:
        return item("conflict", "unknown correction kind (written by a newer Hierograph?)")
    empty_before = _empty_leaves(state)
    try:
        made = _ensure_targets(state, correction, resolve)
    except TargetMissing as e:
        if correction.kind in _SATISFIED:
            return item("unchanged", f"already satisfied: {_SATISFIED[correction.kind]}")
        return item("missing", str(e))
    made.apply_to(state)
    try:
        planned = planner(state, correction.payload, resolve, True)
    except Satisfied as e:
        made.inverse().apply_to(state)
        return item("unchanged", f"already satisfied: {e}")
    except CorrectionError as e:
        made.inverse().apply_to(state)
        if isinstance(e, TargetMissing) and correction.kind in _SATISFIED:
            return item("unchanged", f"already satisfied: {_SATISFIED[correction.kind]}")
        return item("missing" if isinstance(e, TargetMissing) else "conflict", str(e))
    planned.apply_to(state)
    effect = made.then(planned).then(_prune(state, empty_before)).pruned()
    effects[str(correction.id)] = effect.to_json()
    return item("unchanged" if effect.is_empty() else "applied")


def replay_corrections(store: GraphStore, min_overlap: float = DEFAULT_MIN_OVERLAP) -> ReplayReport:
    """Replay the log onto the store's current tree (one that `store.replace_hierarchy` has just
    written) and write the corrected tree with the replay's record in one transaction. A build
    replays before it writes (`replay_onto`); this serves trees written by other means."""
    hierarchy = Hierarchy(topics=store.topics(), assignments=store.assignments())
    papers = {p.id for p in store.iter_papers()}
    replay = replay_onto(hierarchy, store.corrections(), papers, min_overlap)
    store.replace_hierarchy(replay.hierarchy, meta=replay.meta())
    return replay.report


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
