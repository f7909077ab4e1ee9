"""Planning: a correction's intent and a tree give its effect. The same planners serve a
correction made now (exact topic ids; anything off is refused with what to do instead) and its
replay onto a rebuilt tree (topics found again by id, label or papers; the human's word wins
over whatever the clustering did)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import networkx as nx

from hierograph.curation.effects import Effect
from hierograph.curation.state import (
    HUMAN_SCORE,
    CorrectionError,
    Satisfied,
    TargetMissing,
    TreeState,
)
from hierograph.graph.models import Assignment, Topic

Resolver = Callable[[dict[str, Any]], str]


def _human(paper_id: str, topic_id: str) -> Assignment:
    return Assignment(paper_id=paper_id, topic_id=topic_id, score=HUMAN_SCORE, origin="human")


def _need_paper(state: TreeState, paper_id: str) -> None:
    if not state.has_paper(paper_id):
        raise TargetMissing(
            f"no paper {paper_id!r} in the store (ingest it again, or undo this correction)"
        )


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


def _replayed_leaf(
    state: TreeState, paper: str, target: str, replay: bool, ref: dict[str, Any]
) -> str:
    """The leaf a replayed placement lands in. A rebuild may have split the human's target
    into subtopics: the placement then goes to the leaf below it that the rebuild already put
    the paper in, else to the leaf below it holding most of the target's papers of the time
    (still inside what the human chose)."""
    if not replay or state.is_leaf(target):
        return target
    below = state.subtree(target)
    inside = sorted(
        (a for a in state.paper_topics(paper) if a.topic_id in below and state.is_leaf(a.topic_id)),
        key=lambda a: (-a.score, a.topic_id),
    )
    if inside:
        return inside[0].topic_id
    wanted = set(ref.get("papers") or [])
    leaves = sorted(t for t in below if state.is_leaf(t))
    if not leaves:
        return target
    return max(leaves, key=lambda t: (len(wanted & set(state.direct_papers(t))), t))


def plan_move_paper(state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool) -> Effect:
    paper = p["paper_id"]
    _need_paper(state, paper)
    target = _replayed_leaf(state, paper, resolve(p["to"]), replay, p["to"])
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
    target = _replayed_leaf(state, paper, resolve(p["topic"]), replay, p["topic"])
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
    effect = Effect()
    try:
        target = resolve(p["topic"])
    except TargetMissing as e:
        if replay:
            raise Satisfied("the topic no longer exists, so the paper is not in it") from e
        raise
    if (paper, target) not in state.assignments:
        if replay:
            raise Satisfied("the rebuilt tree does not put the paper there")
        raise CorrectionError(f"paper {paper} is not in topic {target}")
    if len(state.paper_topics(paper)) == 1:
        if replay:
            raise CorrectionError(
                f"the rebuild put paper {paper} only in topic {target}; move it where it "
                "belongs (`hierograph correct move`)"
            )
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
        if replay:
            raise Satisfied("the rebuild put both topics' papers into one topic")
        raise CorrectionError("a topic cannot be merged into itself")
    if state.topic(source).parent is None:
        raise CorrectionError("the root cannot be merged away")
    if target in state.subtree(source):
        raise CorrectionError(f"topic {target} lies inside {source}; merge the other way round")
    if state.is_leaf(source) != state.is_leaf(target):
        raise CorrectionError(
            "merge two leaves or two topics with subtopics; papers sit in leaves only"
            + (" (the rebuild made one of them a leaf: merge them again by hand)" if replay else "")
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


def home_for_new_topic(state: TreeState, parent: str | None) -> str:
    """Where a topic made on replay hangs: under `parent` unless that is gone or holds papers
    directly (papers sit in leaves only), else under the root."""
    if parent is not None and parent in state.topics and not state.direct_papers(parent):
        return parent
    return state.root()


def plan_split_topic(
    state: TreeState, p: dict[str, Any], resolve: Resolver, replay: bool
) -> Effect:
    try:
        source: str | None = resolve(p["topic"])
    except TargetMissing:
        if not replay:
            raise
        source = None  # the rebuild dissolved the split topic: the new one still stands
    if not replay:
        assert source is not None
        _need_leaf(state, source)
    leaving = sorted(set(p["paper_ids"]))
    new = p["new_topic"]
    effect = Effect()
    if not replay:
        assert source is not None
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
        raise TargetMissing("none of the split-off papers is in the store any more")
    existing = state.topics.get(new["id"])
    if existing is None:
        if source is not None:
            parent = state.topic(source).parent
        else:
            parent_ref = p["topic"].get("parent")
            parent = home_for_new_topic(state, _try(resolve, parent_ref))
        if replay:
            parent = home_for_new_topic(state, parent)
        level = 0 if parent is None else state.topic(parent).level + 1
        topic = Topic(id=new["id"], label=new["label"], parent=parent, level=level)
        effect.set_topic(state, new["id"], topic)
    elif not state.is_leaf(new["id"]):
        raise CorrectionError(
            f"topic {new['id']} has subtopics in the rebuilt tree; split its leaves by hand"
        )
    for paper in present:
        for a in state.paper_topics(paper):
            leaves_source = a.topic_id == source or (replay and a.origin != "human")
            if leaves_source and a.topic_id != new["id"]:
                effect.set_assignment(state, paper, a.topic_id, None)
        effect.set_assignment(state, paper, new["id"], _human(paper, new["id"]))
    return effect


def _try(resolve: Resolver, ref: dict[str, Any] | None) -> str | None:
    if ref is None:
        return None
    try:
        return resolve(ref)
    except TargetMissing:
        return None


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
    try:
        topic = resolve(p["topic"])
    except TargetMissing as e:
        if replay:
            raise Satisfied("the topic no longer exists") from e
        raise
    if state.topic(topic).parent is None:
        raise CorrectionError("the root cannot be deleted")
    if replay and state.is_leaf(topic) and state.direct_papers(topic) and p.get("fold_into"):
        # The rebuild filled the deleted leaf again with papers no person placed there (the
        # replayed moves took theirs out): they join the leaf the person moved its papers to,
        # as a merge would, keeping their clustered origin, so the topic stays deleted.
        # When that topic is gone or no leaf now, the refilled topic is reported below.
        into = _try(resolve, p["fold_into"])
        if into not in (None, topic) and state.is_leaf(into):
            return plan_merge_topics(
                state, {"source": p["topic"], "target": p["fold_into"]}, resolve, replay
            )
    if not state.is_leaf(topic) or state.direct_papers(topic):
        if replay:
            raise CorrectionError(
                f"the rebuild filled topic {topic} ({state.topic(topic).label!r}) with "
                f"{len(state.subtree_papers(topic))} papers again; merge it into another "
                "topic (`hierograph correct merge`) or move its papers away, then delete it"
            )
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
