"""Human corrections on both stores: each kind applied, undone, replayed after a rebuild (same ids,
new ids, new ids and labels); targets that vanish are reported; the log only grows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hierograph.curation import corrections as C
from hierograph.graph.models import Assignment, Hierarchy, Paper, Topic
from hierograph.graph.store import GraphStore

from .stores import BACKENDS, open_empty_store

# root ─ A ─ a0 (p0 p1 p2), a1 (p3 p4 p5; p0 also)   B ─ b0 (p6 p7 p8), b1 (p9 p10 p11), b2 (empty)
LEAVES = {"a0": [0, 1, 2], "a1": [3, 4, 5, 0], "b0": [6, 7, 8], "b1": [9, 10, 11], "b2": []}
PARENT = {"A": "root", "B": "root", "a0": "A", "a1": "A", "b0": "B", "b1": "B", "b2": "B"}


def pid(i: int) -> str:
    return f"2501.{i:05d}"


def tree(suffix: str = "", relabel: bool = False) -> Hierarchy:
    """The same clustering each time; `suffix` gives every topic but the root a new id (a rebuild
    that could not keep ids), `relabel` new labels too (only paper overlap can match then)."""

    def tid(name: str) -> str:
        return name if name == "root" else name + suffix

    def label(name: str) -> str:
        return f"{'Other ' if relabel else ''}Topic {name}"

    def size(name: str) -> int:
        leaves = [k for k in LEAVES if k == name or PARENT[k] == name or name == "root"]
        return len({i for k in leaves for i in LEAVES[k]})

    topics = [Topic(id="root", label="All", level=0, size=12)]
    for name in ("A", "B", "a0", "a1", "b0", "b1", "b2"):
        level = 1 if name.isupper() else 2
        parent = None if PARENT[name] == "root" else tid(PARENT[name])
        topics.append(
            Topic(
                id=tid(name),
                label=label(name),
                parent=parent or "root",
                level=level,
                size=size(name),
            )
        )
    assignments = [
        Assignment(paper_id=pid(i), topic_id=tid(leaf), score=0.9 if k == 0 else 0.6)
        for leaf, members in LEAVES.items()
        for k, i in enumerate(members)
    ]
    return Hierarchy(topics=topics, assignments=assignments)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> GraphStore:
    s = open_empty_store(request.param, tmp_path / request.param)
    s.upsert_papers(
        [Paper(id=pid(i), title=f"Paper {i}", abstract=f"Abstract {i}.") for i in range(12)]
    )
    s.replace_hierarchy(tree())
    yield s
    s.close()


def by_label(store: GraphStore, label: str) -> str:
    found = [t.id for t in store.topics() if t.label in (label, f"Other {label}")]
    assert len(found) <= 1, f"{label!r}: {found}"
    return found[0] if found else "(none)"


def view(store: GraphStore) -> tuple[set, set]:
    """The tree by labels (ids may differ between rebuilds), sizes included."""
    topics = {t.id: t for t in store.topics()}
    names = {
        (t.label, topics[t.parent].label if t.parent else None, t.level, t.size)
        for t in topics.values()
    }
    placed = {(a.paper_id, topics[a.topic_id].label, a.origin) for a in store.assignments()}
    return names, placed


def rebuild(store: GraphStore, suffix: str = "", relabel: bool = False) -> C.ReplayReport:
    store.replace_hierarchy(tree(suffix, relabel))
    return C.replay_corrections(store)


@dataclass
class Case:
    do: Callable[[GraphStore], object]
    holds: Callable[[GraphStore], bool]


def _papers_in(store: GraphStore, label: str) -> dict[str, str]:
    return {a.paper_id: a.origin for a in store.assignments(topic_id=by_label(store, label))}


CASES = {
    "move_paper": Case(
        lambda s: C.move_paper(s, pid(1), by_label(s, "Topic a0"), by_label(s, "Topic b1")),
        lambda s: (
            _papers_in(s, "Topic b1").get(pid(1)) == "human"
            and pid(1) not in _papers_in(s, "Topic a0")
        ),
    ),
    "add_topic": Case(
        lambda s: C.add_topic(s, pid(1), by_label(s, "Topic b0")),
        lambda s: (
            _papers_in(s, "Topic b0").get(pid(1)) == "human" and pid(1) in _papers_in(s, "Topic a0")
        ),
    ),
    "remove_assignment": Case(
        lambda s: C.remove_assignment(s, pid(0), by_label(s, "Topic a1")),
        lambda s: pid(0) not in _papers_in(s, "Topic a1") and pid(0) in _papers_in(s, "Topic a0"),
    ),
    "rename_topic": Case(
        lambda s: C.rename_topic(s, by_label(s, "Topic a0"), "Reward models", summary="RMs"),
        lambda s: (
            not [t for t in s.topics() if t.label.endswith("Topic a0")]
            and s.get_topic(by_label(s, "Reward models")).summary == "RMs"
        ),
    ),
    "merge_topics": Case(
        lambda s: C.merge_topics(s, by_label(s, "Topic a1"), by_label(s, "Topic a0")),
        lambda s: (
            not [t for t in s.topics() if t.label.endswith("Topic a1")]
            and set(_papers_in(s, "Topic a0")) == {pid(i) for i in (0, 1, 2, 3, 4, 5)}
            and s.get_topic(by_label(s, "Topic a0")).size == 6
        ),
    ),
    "split_topic": Case(
        lambda s: C.split_topic(s, by_label(s, "Topic b0"), [pid(7), pid(8)], label="Split"),
        lambda s: (
            set(_papers_in(s, "Split")) == {pid(7), pid(8)}
            and set(_papers_in(s, "Topic b0")) == {pid(6)}
            and getattr(s.get_topic(by_label(s, "Split")), "parent", None) == by_label(s, "Topic B")
        ),
    ),
    "move_topic": Case(
        lambda s: C.move_topic(s, by_label(s, "Topic b1"), by_label(s, "Topic A")),
        lambda s: (
            s.get_topic(by_label(s, "Topic b1")).parent == by_label(s, "Topic A")
            and s.get_topic(by_label(s, "Topic A")).size == 9
        ),
    ),
    "delete_topic": Case(
        lambda s: C.delete_topic(s, by_label(s, "Topic b2")),
        lambda s: not [t for t in s.topics() if t.label.endswith("Topic b2")],
    ),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_correction_applies_undoes_and_replays(store: GraphStore, kind: str) -> None:
    case = CASES[kind]
    original = view(store)

    # Applied at once, undone at once: the tree is back as it was, both entries stay in the log.
    first = case.do(store)
    assert first.kind == kind and case.holds(store)
    C.undo(store, first.id)
    assert view(store) == original and not case.holds(store)
    assert [c.kind for c in store.corrections()] == [kind, "undo"]

    # Applied again, it survives rebuilds that keep ids, renew ids, renew ids and labels.
    second = case.do(store)
    for suffix, relabel in (("", False), ("-v2", False), ("-v3", True)):
        report = rebuild(store, suffix, relabel)
        if kind == "delete_topic" and relabel:
            # An empty topic with a new id and label has nothing left to be recognised by: the
            # topic the human deleted no longer exists, so the delete is satisfied, not missing.
            assert [(i.id, i.status) for i in report.items] == [(second.id, "unchanged")]
            assert "already satisfied" in report.items[0].detail
            continue
        assert case.holds(store), (suffix, report)
        assert [(i.id, i.status) for i in report.items] == [(second.id, "applied")], report
    rebuilt = rebuild(store, "-v4")
    assert rebuilt.not_applied == []

    # Undo after the rebuild reverts what the replay did; later rebuilds leave it undone.
    C.undo(store, second.id)
    store_view = view(store)
    store.replace_hierarchy(tree("-v4"))
    assert view(store) == store_view
    assert C.replay_corrections(store).items == []
    assert len(store.corrections()) == 4  # nothing was ever taken out of the log


def test_human_placement_wins_over_a_rebuild_that_clusters_differently(store):
    C.move_paper(store, pid(1), "a0", "b1")
    store.replace_hierarchy(tree())  # clustering puts p1 back into a0
    assert _papers_in(store, "Topic a0").get(pid(1)) == "cluster"
    C.replay_corrections(store)
    assert [(a.topic_id, a.origin) for a in store.assignments(paper_id=pid(1))] == [("b1", "human")]


def _without_b2(relabel: bool = True) -> Hierarchy:
    smaller = tree()
    smaller.topics = [t for t in smaller.topics if t.id != "b2"]
    for t in smaller.topics:
        if relabel:
            t.label = f"Renamed {t.id}"  # nothing to match b2 by label either
    return smaller


def test_a_target_the_rebuild_dissolved_is_made_again_where_it_hung(store):
    entry = C.move_paper(store, pid(1), "a0", "b2")
    store.replace_hierarchy(_without_b2())
    report = C.replay_corrections(store)
    assert [(i.id, i.status) for i in report.items] == [(entry.id, "applied")]
    assert C.last_replay(store) == report
    b2 = store.get_topic("b2")
    assert (b2.label, b2.parent, b2.level, b2.size) == ("Topic b2", "B", 2, 1)
    assert [(a.topic_id, a.origin) for a in store.assignments(paper_id=pid(1))] == [("b2", "human")]
    # Undo after the rebuild takes the paper out and the remade topic away again.
    C.undo(store, entry.id)
    assert store.get_topic("b2") is None
    assert {a.topic_id for a in store.assignments(paper_id=pid(1))} == {"a0"}


def test_a_rename_of_a_dissolved_topic_is_reported_with_what_to_do_and_kept(store):
    entry = C.rename_topic(store, "b2", "Empty corner")
    store.replace_hierarchy(_without_b2())
    report = C.replay_corrections(store)
    assert [(i.id, i.status) for i in report.not_applied] == [(entry.id, "missing")]
    assert "b2" in report.not_applied[0].detail and "redo" in report.not_applied[0].detail
    assert [c.id for c in store.corrections()] == [entry.id]
    report = rebuild(store)  # the topic is back: so is its name
    assert [(i.id, i.status) for i in report.items] == [(entry.id, "applied")]
    assert store.get_topic("b2").label == "Empty corner"


def test_replay_removes_a_topic_its_corrections_left_empty_and_a_stale_delete_is_satisfied(
    store,
):
    moves = [C.move_paper(store, pid(i), "b0", "b1") for i in (6, 7, 8)]
    deleted = C.delete_topic(store, "b0")
    report = rebuild(store, "-v2")
    assert store.get_topic("b0") is None and store.get_topic("b0-v2") is None
    assert [i.status for i in report.items] == ["applied"] * 3 + ["unchanged"]
    assert "already satisfied" in report.items[-1].detail
    assert {a.paper_id for a in store.assignments(topic_id="b1-v2")} >= {pid(6), pid(7), pid(8)}
    assert [c.id for c in C.active_corrections(store.corrections())] == [
        *(m.id for m in moves),
        deleted.id,
    ]


def _refilled(leaf: str, paper: int) -> Hierarchy:
    """The same tree, except that the clustering also put `paper` into `leaf` (and not into
    its own leaf)."""
    again = tree()
    again.assignments = [a for a in again.assignments if a.paper_id != pid(paper)]
    again.assignments.append(Assignment(paper_id=pid(paper), topic_id=leaf, score=0.5))
    return again


def test_a_deleted_topic_the_rebuild_filled_again_joins_where_its_papers_were_moved(store):
    # The reviewer empties b0 into b1 and deletes it; the rebuild makes b0 again, with its old
    # papers and p10 too. The moves take the old papers out; p10, placed by no one, follows
    # them into b1 (keeping its clustered origin), and b0 stays deleted.
    moves = [C.move_paper(store, pid(i), "b0", "b1") for i in (6, 7, 8)]
    deleted = C.delete_topic(store, "b0")
    store.replace_hierarchy(_refilled("b0", 10))
    report = C.replay_corrections(store)
    assert [(i.id, i.status) for i in report.items] == [
        *((m.id, "applied") for m in moves),
        (deleted.id, "applied"),
    ], report
    assert store.get_topic("b0") is None
    assert _papers_in(store, "Topic b1") == {
        **{pid(i): "human" for i in (6, 7, 8)},
        **{pid(i): "cluster" for i in (9, 10, 11)},
    }
    # Undo after the rebuild brings the refilled topic back with its paper.
    C.undo(store, deleted.id)
    assert _papers_in(store, "Topic b0") == {pid(10): "cluster"}


def test_a_deleted_empty_topic_the_rebuild_filled_is_reported_with_what_to_do(store):
    # b2 was empty when deleted: nobody said where its kind of papers belongs, so a rebuild
    # that fills it does not guess; the report says what to do.
    deleted = C.delete_topic(store, "b2")
    store.replace_hierarchy(_refilled("b2", 11))
    report = C.replay_corrections(store)
    assert [(i.id, i.status) for i in report.not_applied] == [(deleted.id, "conflict")]
    assert "merge it into another topic" in report.not_applied[0].detail
    assert _papers_in(store, "Topic b2") == {pid(11): "cluster"}


def test_undo_refuses_while_a_later_correction_holds_the_same_items(store):
    first = C.move_paper(store, pid(1), "a0", "b1")
    second = C.move_paper(store, pid(1), "b1", "b0")
    with pytest.raises(C.CorrectionError, match="undo the later corrections"):
        C.undo(store, first.id)
    C.undo(store, second.id)
    C.undo(store, first.id)
    assert _papers_in(store, "Topic a0").get(pid(1)) == "cluster"
    with pytest.raises(C.CorrectionError, match="already undone"):
        C.undo(store, first.id)
    with pytest.raises(C.CorrectionError, match="cannot be undone"):
        C.undo(store, store.corrections()[-1].id)
    with pytest.raises(C.CorrectionError, match="no correction #99"):
        C.undo(store, 99)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda s: C.move_paper(s, pid(1), "a0", "A"), "has subtopics"),
        (lambda s: C.move_paper(s, pid(1), "b0", "b1"), "not in topic b0"),
        (lambda s: C.move_paper(s, pid(1), "a0", "nope"), "no topic 'nope'"),
        (lambda s: C.add_topic(s, "0000.00000", "b1"), "no paper"),
        (lambda s: C.remove_assignment(s, pid(1), "a0"), "only place"),
        (lambda s: C.rename_topic(s, "a0", "  "), "empty"),
        (lambda s: C.merge_topics(s, "A", "a0"), "lies inside"),
        (lambda s: C.merge_topics(s, "a0", "B"), "two leaves"),
        (lambda s: C.split_topic(s, "a0", [pid(6)]), "not in topic a0"),
        (lambda s: C.split_topic(s, "a0", [pid(0), pid(1), pid(2)]), "not all"),
        (lambda s: C.move_topic(s, "A", "a0"), "lies inside"),
        (lambda s: C.move_topic(s, "b1", "a0"), "holds papers"),
        (lambda s: C.delete_topic(s, "b1"), "not empty"),
        (lambda s: C.delete_topic(s, "root"), "root"),
    ],
)
def test_bad_corrections_are_refused_and_not_logged(store, action, message):
    before = view(store)
    with pytest.raises(C.CorrectionError, match=message):
        action(store)
    assert store.corrections() == [] and view(store) == before


def test_the_log_has_no_way_to_delete():
    names = [n for n in dir(GraphStore) + dir(C) if "correction" in n.lower()]
    assert not [n for n in names if any(w in n for w in ("delete", "remove", "clear", "drop"))]
