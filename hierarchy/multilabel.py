"""Second topics for papers that sit between two leaves."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from hierograph.graph.models import Assignment, Hierarchy
from hierograph.hierarchy.cluster import unit_rows


class SecondLeafAssigner:
    """A paper also joins the next-closest leaf when that leaf's centroid is at least as close
    to it, plus `margin`, as its own leaf's centroid computed without the paper itself (its
    own vector would otherwise pull that centroid toward it, most of all in small leaves), and
    at least `min_similarity` in cosine."""

    def __init__(self, margin: float = 0.0, min_similarity: float = 0.5) -> None:
        self.margin = margin
        self.min_similarity = min_similarity

    def extend(self, hierarchy: Hierarchy, vectors: dict[str, np.ndarray]) -> tuple[Hierarchy, int]:
        """The hierarchy with second-leaf assignments added, and how many papers got one."""
        members: dict[str, list[str]] = defaultdict(list)
        for a in hierarchy.assignments:
            members[a.topic_id].append(a.paper_id)
        leaves = sorted(members)
        if len(leaves) < 2:
            return hierarchy, 0
        unit = {p: v / max(float(np.linalg.norm(v)), 1e-12) for p, v in vectors.items()}
        sums = np.stack([np.sum([unit[p] for p in members[leaf]], axis=0) for leaf in leaves])
        centroids = unit_rows(sums)
        extra: list[Assignment] = []
        for a in hierarchy.assignments:
            x = unit[a.paper_id]
            mine = leaves.index(a.topic_id)
            if len(members[a.topic_id]) < 2:
                continue
            own = float(unit_rows((sums[mine] - x)[None, :])[0] @ x)
            sims = centroids @ x
            sims[mine] = -np.inf
            best = int(np.argmax(sims))
            if sims[best] >= max(own + self.margin, self.min_similarity):
                extra.append(
                    a.model_copy(
                        update={"topic_id": leaves[best], "score": round(float(sims[best]), 6)}
                    )
                )
        return hierarchy.model_copy(update={"assignments": hierarchy.assignments + extra}), len(
            extra
        )
