"""Placing new papers into the existing tree without a rebuild.

Each new paper joins the leaf whose centroid is nearest by cosine (the cosine is its score);
a paper far from every leaf goes to the "unplaced" pool. A leaf that grows past
max_leaf_size is re-clustered into subtopics (it keeps its id and becomes their parent), and
a pool that grows past unplaced_pool_size is clustered into new top-level topics. Nothing
else in the tree changes, so every other topic id stays.

Every change is a TreeEdit written to the store's meta before it is applied and cleared after
(a write-ahead record). Applying an edit is idempotent, so a run killed at any point and run
again finishes the interrupted edit and ends where an uninterrupted run would have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from rich.progress import Progress

from hierograph.graph.models import Assignment, Topic, utc_now
from hierograph.graph.paper_source import StoredPapers
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.cluster import unit_rows
from hierograph.hierarchy.tree import Node, TreeBuilder, content_id
from hierograph.settings import Settings

POOL_ID = "unplaced"
STATE_KEY = "place_state"


class TreeEdit(BaseModel):
    """One step of tree changes, applied in this order: topics (parents first), new
    assignments, removed assignments, deleted topics (children first)."""

    kind: str
    target: str | None = None
    upsert_topics: list[Topic] = Field(default_factory=list)
    assign: list[Assignment] = Field(default_factory=list)
    unassign: list[tuple[str, str]] = Field(default_factory=list)  # (paper id, topic id)
    delete_topics: list[str] = Field(default_factory=list)

    def apply(self, store: GraphStore) -> None:
        if self.upsert_topics:
            store.upsert_topics(self.upsert_topics)
        if self.assign:
            store.upsert_assignments(self.assign)
        for paper_id, topic_id in self.unassign:
            store.remove_assignment(paper_id, topic_id)
        for topic_id in self.delete_topics:
            store.delete_topic(topic_id)


class PlaceState(BaseModel):
    """What survives a crash: the edit being applied, and leaves still to check for a split."""

    edit: TreeEdit | None = None
    pending: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, store: GraphStore) -> PlaceState:
        raw = store.get_meta(STATE_KEY)
        return cls.model_validate_json(raw) if raw else cls()

    def save(self, store: GraphStore) -> None:
        store.set_meta(STATE_KEY, self.model_dump_json())


class TreeView:
    """The stored tree as plain maps, read once per step."""

    def __init__(self, topics: Iterable[Topic], assignments: Iterable[Assignment]) -> None:
        self.topics = {t.id: t for t in topics}
        self.children: dict[str, list[str]] = defaultdict(list)
        for t in self.topics.values():
            if t.parent is not None:
                self.children[t.parent].append(t.id)
        self.members: dict[str, dict[str, Assignment]] = defaultdict(dict)
        for a in assignments:
            self.members[a.topic_id][a.paper_id] = a

    @classmethod
    def of(cls, store: GraphStore) -> TreeView:
        return cls(store.topics(), store.assignments())

    @property
    def root_id(self) -> str | None:
        return next((t.id for t in self.topics.values() if t.parent is None), None)

    def assigned(self) -> set[str]:
        return {p for papers in self.members.values() for p in papers}

    def leaves(self) -> list[str]:
        return sorted(t for t in self.topics if not self.children.get(t) and t != POOL_ID)

    def subtree_papers(self) -> dict[str, set[str]]:
        papers = {t: set(self.members.get(t, {})) for t in self.topics}
        for t in sorted(self.topics.values(), key=lambda t: -t.level):  # leaves up
            if t.parent in papers:
                papers[t.parent] |= papers[t.id]
        return papers


@dataclass
class PlaceReport:
    placed: dict[str, int] = field(default_factory=dict)  # topic id → new papers now in it
    pooled: int = 0
    new_topics: list[Topic] = field(default_factory=list)
    grown: list[tuple[Topic, int, int]] = field(default_factory=list)  # topic, before, after
    splits: int = 0
    resumed: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # every topic id → label, for reports


BuilderFactory = Callable[[Settings], Any]  # settings → the build's tree builder
LabelerFactory = Callable[[Settings], Any]  # settings → the build's labeling stage


def local_builder(
    settings: Settings, max_depth: int, make_tree_builder: BuilderFactory
) -> TreeBuilder:
    """The build's tree builder, limited to the levels left below the re-clustered topic."""
    builder = make_tree_builder(settings)
    if not isinstance(builder, TreeBuilder):
        # A fixed shape's level sizes are sized for the whole corpus, not one topic.
        builder = make_tree_builder(settings.model_copy(update={"tree_mode": "density"}))
    builder.max_depth = max(1, max_depth)
    builder.min_depth = 0  # split only what is too large
    return builder


class Placer:
    """`run(store)` places every embedded paper that sits in no topic yet."""

    def __init__(
        self,
        settings: Settings,
        make_tree_builder: BuilderFactory,
        make_labeler: LabelerFactory,
        show_progress: bool = True,
    ) -> None:
        """The factories are the build's (jobs.components), so a placed paper is clustered and
        named the way a build would."""
        self.settings = settings
        self.make_tree_builder = make_tree_builder
        self.make_labeler = make_labeler
        self.show_progress = show_progress
        self._labeler: Any = None  # the build's labeling stage: keyword or LLM

    # --- the run ---
    def run(self, store: GraphStore) -> PlaceReport:
        report = PlaceReport()
        self._store = store  # the labeler is fitted on its papers when first needed
        self._labeler = None
        self._vectors: dict = {}
        state = PlaceState.load(store)
        if state.edit is not None:
            self._commit(store, state, state.edit)
            report.resumed = True
        before = TreeView.of(store)
        if before.root_id is None:
            return report
        vectors = self._vectors = store.get_embeddings()
        assigned = before.assigned()
        todo = sorted(
            p.id
            for p in store.iter_papers()
            if p.id not in assigned and not p.withdrawn and p.id in vectors
        )
        if todo:
            edit = self.plan_placement(before, vectors, todo)
            grown = {a.topic_id for a in edit.assign} - {POOL_ID}
            state.pending = sorted(set(state.pending) | grown)
            self._commit(store, state, edit)
        self._split_pending(store, state, vectors, report)
        self._cluster_pool(store, state, vectors, report)
        after = self._fix_sizes(store)
        self._summarize(report, before, after, todo)
        return report

    def _commit(self, store: GraphStore, state: PlaceState, edit: TreeEdit | None) -> None:
        """Journal `edit`, apply it, clear the journal."""
        state.edit = edit
        state.save(store)
        if edit is not None:
            edit.apply(store)
        state.edit = None
        state.save(store)

    def _split_pending(
        self, store: GraphStore, state: PlaceState, vectors: dict, report: PlaceReport
    ) -> None:
        with Progress(
            disable=not self.show_progress or not state.pending, transient=True
        ) as progress:
            task = progress.add_task("re-clustering grown topics", total=len(state.pending))
            view = TreeView.of(store)
            while state.pending:
                leaf = state.pending[0]
                edit = self.plan_split(view, leaf, vectors)
                state.pending = state.pending[1:]
                progress.advance(task)
                if edit is None:
                    # Nothing written: a crash before the next save only re-checks this leaf.
                    continue
                self._commit(store, state, edit)
                view = TreeView.of(store)
                report.splits += 1
            state.save(store)

    def _cluster_pool(
        self, store: GraphStore, state: PlaceState, vectors: dict, report: PlaceReport
    ) -> None:
        view = TreeView.of(store)
        if len(view.members.get(POOL_ID, {})) > self.settings.unplaced_pool_size:
            self._commit(store, state, self.plan_pool(view, vectors))

    def _fix_sizes(self, store: GraphStore) -> TreeView:
        """Sizes from the assignments (distinct papers per subtree): derived, so always right
        after a rerun, whatever step a crash interrupted."""
        view = TreeView.of(store)
        papers = view.subtree_papers()
        changed = [
            t.model_copy(update={"size": len(papers[t.id])})
            for t in sorted(view.topics.values(), key=lambda t: (t.level, t.id))
            if t.size != len(papers[t.id])
        ]
        if changed:
            store.upsert_topics(changed)
            for t in changed:
                view.topics[t.id] = t
        return view

    def _summarize(
        self, report: PlaceReport, before: TreeView, after: TreeView, todo: list[str]
    ) -> None:
        fresh = set(todo)
        for topic_id, papers in after.members.items():
            n = len(fresh & set(papers))
            if n:
                report.placed[topic_id] = n
        report.pooled = len(fresh & set(after.members.get(POOL_ID, {})))
        report.new_topics = sorted(
            (t for i, t in after.topics.items() if i not in before.topics and i != POOL_ID),
            key=lambda t: (t.level, -t.size, t.id),
        )
        old_sizes = {i: len(p) for i, p in before.subtree_papers().items()}
        grown = [
            (t, old_sizes[i], t.size)
            for i, t in after.topics.items()
            if i in old_sizes and t.parent is not None and i != POOL_ID and t.size > old_sizes[i]
        ]
        grown.sort(key=lambda g: (-(g[2] - g[1]) / max(g[1], 1), -g[2], g[0].id))
        report.grown = grown
        report.labels = {i: t.label for i, t in after.topics.items()}

    # --- planning: pure functions of the tree and the vectors ---
    def plan_placement(self, view: TreeView, vectors: dict, todo: list[str]) -> TreeEdit:
        leaves = [t for t in view.leaves() if any(p in vectors for p in view.members.get(t, {}))]
        at = utc_now()
        X = unit_rows(np.stack([vectors[p] for p in todo]).astype(np.float32))
        if leaves:
            centroids = unit_rows(
                np.stack(
                    [
                        np.mean([vectors[p] for p in view.members[t] if p in vectors], axis=0)
                        for t in leaves
                    ]
                ).astype(np.float32)
            )
            sims = X @ centroids.T
            best = sims.argmax(axis=1)
            scores = np.clip(sims[np.arange(len(todo)), best], 0.0, 1.0)
        else:
            best = np.zeros(len(todo), dtype=int)
            scores = np.zeros(len(todo))
        edit = TreeEdit(kind="place")
        for paper_id, leaf, score in zip(todo, best, scores, strict=True):
            far = not leaves or score < self.settings.place_min_score
            edit.assign.append(
                Assignment(
                    paper_id=paper_id,
                    topic_id=POOL_ID if far else leaves[leaf],
                    score=round(float(score), 6),
                    at=at,
                )
            )
        if any(a.topic_id == POOL_ID for a in edit.assign) and POOL_ID not in view.topics:
            edit.upsert_topics.append(self._pool_topic(view))
        return edit

    def _pool_topic(self, view: TreeView) -> Topic:
        return Topic(
            id=POOL_ID,
            label="Unplaced",
            parent=view.root_id,
            level=1,
            summary="New papers far from every topic; they become new topics once more than "
            f"{self.settings.unplaced_pool_size} gather here.",
        )

    def plan_split(self, view: TreeView, leaf_id: str, vectors: dict) -> TreeEdit | None:
        topic = view.topics.get(leaf_id)
        current = view.members.get(leaf_id, {})
        if (
            topic is None
            or leaf_id == POOL_ID
            or view.children.get(leaf_id)
            or topic.level >= self.settings.max_depth
            or len(current) <= self.settings.max_leaf_size
        ):
            return None
        members = sorted(p for p in current if p in vectors)
        tree = local_builder(
            self.settings, self.settings.max_depth - topic.level, self.make_tree_builder
        )
        root = tree.fit(np.stack([vectors[p] for p in members])).root_
        if not root.children:
            return None
        edit = TreeEdit(kind="split", target=leaf_id)
        self._add_subtree(edit, root, members, leaf_id, topic.level, current)
        edit.unassign = [(p, leaf_id) for p in sorted(current)]
        return edit

    def plan_pool(self, view: TreeView, vectors: dict) -> TreeEdit:
        current = view.members[POOL_ID]
        members = sorted(p for p in current if p in vectors)
        tree = local_builder(self.settings, self.settings.max_depth - 1, self.make_tree_builder)
        root = tree.fit(np.stack([vectors[p] for p in members])).root_
        # The pool's clusters become new top-level topics, siblings of the existing ones.
        top = root if root.children else Node(members=root.members, children=[root])
        edit = TreeEdit(kind="pool", target=POOL_ID)
        self._add_subtree(edit, top, members, view.root_id or "", 0, current, view)
        edit.unassign = [(p, POOL_ID) for p in sorted(current)]
        edit.delete_topics = [POOL_ID]
        return edit

    def _add_subtree(
        self,
        edit: TreeEdit,
        root: Node,
        members: list[str],
        parent_id: str,
        level: int,
        current: dict[str, Assignment],
        view: TreeView | None = None,
    ) -> None:
        """Topics and assignments for every node below `root` (which is `parent_id`). With
        `view`, the new topics are labeled as siblings of the existing top-level ones."""
        labels = self._labels(root, members, view)
        at = utc_now()
        ids: dict[int, str] = {id(root): parent_id}
        for node, parent, depth in root.walk():
            if parent is None:
                continue
            topic_id = content_id([members[m] for m in node.members])
            ids[id(node)] = topic_id
            label = labels[id(node)]
            edit.upsert_topics.append(
                Topic(
                    id=topic_id,
                    label=label.label,
                    parent=ids[id(parent)],
                    level=level + depth,
                    summary=label.summary,
                    keywords=label.keywords,
                    size=len(node.members),
                    built_at=at,
                )
            )
            for m, score in sorted(node.scores.items()):
                old = current.get(members[m])
                # A human's or the corrector's placement keeps its origin and score.
                keep = old is not None and old.origin != "cluster"
                edit.assign.append(
                    Assignment(
                        paper_id=members[m],
                        topic_id=topic_id,
                        score=old.score if keep else round(score, 6),
                        origin=old.origin if keep else "cluster",
                        at=at,
                    )
                )

    def _labels(
        self,
        root: Node,
        members: list[str],
        view: TreeView | None,
    ) -> dict:
        """Labels by id(node) of `root`'s tree, computed on a copy whose members index the
        labeler's corpus (all papers)."""
        labeler, rows = self._fit_labeler()
        copies: dict[int, Node] = {}

        def copy(node: Node) -> Node:
            twin = Node(
                members=[rows[members[m]] for m in node.members],
                children=[copy(c) for c in node.children],
            )
            copies[id(twin)] = node
            return twin

        top = copy(root)
        if view is not None:
            siblings = view.subtree_papers()
            others = [
                Node(members=[rows[p] for p in sorted(siblings[t]) if p in rows])
                for t in sorted(view.children.get(view.root_id or "", []))
                if t != POOL_ID and siblings.get(t)
            ]
            top = Node(members=top.members, children=others + top.children)
        labels = labeler.label_tree(top)
        return {id(copies[k]): v for k, v in labels.items() if k in copies}

    def _fit_labeler(self) -> tuple[Any, dict[str, int]]:
        """The build's labeler (keywords, or an LLM when configured) fitted on every embedded
        paper, since keyword idf needs the whole collection; once per run, and only when a
        topic needs a name."""
        if self._labeler is None:
            vectors = self._vectors
            # Streamed from the store by the labeler's one pass; only the ids are held here.
            papers = StoredPapers(self._store, [i for i in self._store.paper_ids() if i in vectors])
            self._rows = {pid: i for i, pid in enumerate(papers.ids)}
            matrix = np.stack([vectors[pid] for pid in papers.ids])
            self._labeler = self.make_labeler(self.settings).fit(papers, matrix)
        return self._labeler, self._rows
