"""Keeping topic ids across rebuilds: new topics are matched to old ones by paper overlap
(Jaccard of their subtree paper sets, Hungarian matching, preferring the same level), so
corrections, bookmarks and external links that name a topic keep working."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment

from hierograph.graph.models import Hierarchy, Topic


@dataclass(frozen=True)
class IdMatch:
    kept: int  # new topics that took an old id
    relabeled: int  # of those, how many got a new label because their papers changed a lot
    new: int  # new topics with no old counterpart
    retired: int  # old topics with no new counterpart


def subtree_papers(hierarchy: Hierarchy) -> dict[str, set[str]]:
    """Topic id → every paper assigned to it or to a topic below it."""
    papers: dict[str, set[str]] = defaultdict(set)
    for a in hierarchy.assignments:
        papers[a.topic_id].add(a.paper_id)
    parent = {t.id: t.parent for t in hierarchy.topics}
    for t in sorted(hierarchy.topics, key=lambda t: -t.level):  # leaves up
        if t.parent:
            papers[t.parent] |= papers[t.id]
    return {t.id: papers[t.id] for t in hierarchy.topics if t.id in parent}


class StableIdMatcher:
    """`min_jaccard`: least overlap for a new topic to inherit an old id; `keep_label_jaccard`:
    least overlap for it to keep the old label too (a human-approved name outlives a rebuild
    unless the topic's papers changed a lot)."""

    def __init__(
        self, min_jaccard: float = 0.3, keep_label_jaccard: float = 0.6, level_penalty: float = 0.05
    ) -> None:
        self.min_jaccard = min_jaccard
        self.keep_label_jaccard = keep_label_jaccard
        self.level_penalty = level_penalty

    @staticmethod
    def _jaccard(
        new_papers: dict[str, set[str]],
        fresh: list[Topic],
        old_papers: dict[str, set[str]],
        known: list[Topic],
    ) -> np.ndarray:
        """Jaccard of every (new, old) topic pair, through sparse incidence matrices so that
        thousands of topics cost one sparse product, not millions of set operations."""
        index = {
            p: i
            for i, p in enumerate(sorted(set().union(*new_papers.values(), *old_papers.values())))
        }

        def incidence(topics: list[Topic], papers: dict[str, set[str]]) -> sparse.csr_matrix:
            rows = [r for r, t in enumerate(topics) for _ in papers[t.id]]
            cols = [index[p] for t in topics for p in papers[t.id]]
            return sparse.csr_matrix(
                (np.ones(len(rows)), (rows, cols)), shape=(len(topics), len(index))
            )

        a, b = incidence(fresh, new_papers), incidence(known, old_papers)
        inter = (a @ b.T).toarray()
        union = np.asarray(a.sum(axis=1)) + np.asarray(b.sum(axis=1)).T - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    def match(self, old: Hierarchy, new: Hierarchy) -> tuple[Hierarchy, IdMatch]:
        if not old.topics:
            return new, IdMatch(0, 0, len(new.topics), 0)
        fresh = [t for t in new.topics if t.parent is not None]
        known = [t for t in old.topics if t.parent is not None]
        renamed: dict[str, Topic] = {}  # new id → old topic it inherits from
        overlap: dict[str, float] = {}
        if fresh and known:
            sims = self._jaccard(subtree_papers(new), fresh, subtree_papers(old), known)
            # Matching runs over all levels at once: a topic that moved up or down a level
            # when its branch was re-split is still the same topic. Equal overlap prefers
            # the same level.
            levels = np.abs(
                np.array([t.level for t in fresh])[:, None] - np.array([t.level for t in known])
            )
            rows, cols = linear_sum_assignment(-(sims - self.level_penalty * levels))
            for r, c in zip(rows, cols, strict=True):
                if sims[r, c] >= self.min_jaccard:
                    renamed[fresh[r].id] = known[c]
                    overlap[fresh[r].id] = float(sims[r, c])
        ids = {t.id: (renamed[t.id].id if t.id in renamed else t.id) for t in new.topics}
        inherited = {old_t.id for old_t in renamed.values()}
        for t in new.topics:  # a fresh content id must not collide with an inherited one
            if t.id not in renamed and t.id in inherited:
                ids[t.id] = t.id + "-new"
        topics = []
        relabeled = 0
        for t in new.topics:
            update: dict[str, object] = {"id": ids[t.id], "parent": ids.get(t.parent or "")}
            if t.parent is None:
                update["parent"] = None
            if t.id in renamed:
                old_t = renamed[t.id]
                # An LLM name (it comes with structured summaries) replaces a keyword one even
                # when the papers stayed: switching an LLM on must change the names.
                upgraded = bool(t.problem) and not old_t.problem
                if overlap[t.id] >= self.keep_label_jaccard and not upgraded:
                    update |= {
                        "label": old_t.label,
                        "summary": old_t.summary,
                        "keywords": old_t.keywords,
                        "problem": old_t.problem,
                        "method": old_t.method,
                        "results": old_t.results,
                    }
                else:
                    relabeled += 1
            topics.append(t.model_copy(update=update))
        assignments = [a.model_copy(update={"topic_id": ids[a.topic_id]}) for a in new.assignments]
        retired = len({t.id for t in old.topics if t.parent} - set(ids.values()))
        stats = IdMatch(len(renamed), relabeled, len(new.topics) - 1 - len(renamed), retired)
        return Hierarchy(topics=topics, assignments=assignments), stats
