"""Human corrections of the topic tree: applied at once, undone by an inverse entry, replayed onto
every rebuilt tree.

Each correction is one entry of the store's append-only log (`store.append_correction`). Its
payload holds the *intent* (paper ids and references to topics: id, label, the papers under the
topic and its parent when it was made) and the *effect* it had (the before/after state of every
topic and assignment it touched). Undo restores the effect's "before" state and appends an `undo`
entry; replay (`replay.py`) re-plans each still-active intent on the new tree. Papers placed by a
correction carry origin "human"; clustering and the corrector never override those, because
every rebuild is written with its replay and the corrector skips papers that a human has placed.

This module is the public face: the correction kinds (planned in `planners.py`), undo, and the
names of the modules below it, so callers import one place.
"""

from __future__ import annotations

from typing import Any

from hierograph.curation.effects import Effect, refresh_sizes, write_effect
from hierograph.curation.planners import PLANNERS, Resolver, split_topic_id
from hierograph.curation.replay import (
    EFFECTS_META,
    REPORT_META,
    Evidence,
    Replay,
    ReplayItem,
    ReplayReport,
    active_corrections,
    current_effect,
    human_evidence,
    last_replay,
    replay_corrections,
    replay_onto,
)
from hierograph.curation.state import (
    DEFAULT_MIN_OVERLAP,
    HUMAN_SCORE,
    KINDS,
    UNDO,
    CorrectionError,
    TargetMissing,
    TreeState,
    match_topic,
)
from hierograph.graph.models import Correction
from hierograph.graph.store import GraphStore

__all__ = [
    "DEFAULT_MIN_OVERLAP",
    "EFFECTS_META",
    "HUMAN_SCORE",
    "KINDS",
    "PLANNERS",
    "REPORT_META",
    "UNDO",
    "CorrectionError",
    "Effect",
    "Evidence",
    "Replay",
    "ReplayItem",
    "ReplayReport",
    "Resolver",
    "TargetMissing",
    "TreeState",
    "active_corrections",
    "add_topic",
    "confirm_paper",
    "current_effect",
    "delete_topic",
    "human_evidence",
    "last_replay",
    "match_topic",
    "merge_topics",
    "move_paper",
    "move_topic",
    "refresh_sizes",
    "remove_assignment",
    "rename_topic",
    "replay_corrections",
    "replay_onto",
    "split_topic",
    "split_topic_id",
    "undo",
    "write_effect",
]


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
    """Take `paper_id` out of `from_topic` and put it in the leaf `to_topic`."""
    state = TreeState.from_store(store)
    refs = {"from": state.ref(from_topic), "to": state.ref(to_topic)}
    return _apply(store, "move_paper", {"paper_id": paper_id, **refs}, actor)


def confirm_paper(
    store: GraphStore, paper_id: str, topic_id: str, actor: str = "human"
) -> Correction:
    """A reviewer says `paper_id` is right where it is, in `topic_id`: logged as an `add_topic`
    that turns the clustered placement into a human one (kept on every rebuild, and learned
    from by the corrector). A paper that is not in `topic_id` cannot be confirmed there."""
    # The paper's own assignments, not the whole tree: add_topic reads the tree once itself.
    if all(a.topic_id != topic_id for a in store.assignments(paper_id=paper_id)):
        raise CorrectionError(
            f"paper {paper_id} is not in topic {topic_id}, so there is nothing to confirm; to "
            "put it there use `correct move` (instead of where it is) or `correct add` (as well)."
        )
    return add_topic(store, paper_id, topic_id, actor=actor)


def add_topic(store: GraphStore, paper_id: str, topic_id: str, actor: str = "human") -> Correction:
    """Put `paper_id` in the leaf `topic_id` too (or confirm it there)."""
    state = TreeState.from_store(store)
    return _apply(store, "add_topic", {"paper_id": paper_id, "topic": state.ref(topic_id)}, actor)


def remove_assignment(
    store: GraphStore, paper_id: str, topic_id: str, actor: str = "human"
) -> Correction:
    """Take `paper_id` out of one of its topics (not its only one)."""
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
    """Give a topic a new label (and summary)."""
    state = TreeState.from_store(store)
    ref = {**state.ref(topic_id), "new_label": label}
    return _apply(store, "rename_topic", {"topic": ref, "label": label, "summary": summary}, actor)


def merge_topics(store: GraphStore, source: str, target: str, actor: str = "human") -> Correction:
    """`source` disappears; `target` takes its papers and subtopics."""
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
    """The named papers leave the leaf `topic_id` for a new sibling topic."""
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
    """Put a topic (with its subtree) under another inner topic."""
    state = TreeState.from_store(store)
    intent = {"topic": state.ref(topic_id), "parent": state.ref(new_parent)}
    old = state.topic(topic_id).parent
    if old is not None:
        intent["old_parent"] = state.ref(old)
    return _apply(store, "move_topic", intent, actor)


def delete_topic(store: GraphStore, topic_id: str, actor: str = "human") -> Correction:
    """Remove a topic that holds no papers and no subtopics."""
    state = TreeState.from_store(store)
    return _apply(store, "delete_topic", {"topic": state.ref(topic_id)}, actor)


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
