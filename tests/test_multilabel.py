"""Second topics: a paper between two leaves joins the other one too, a paper inside its own
leaf does not; papers are compared with every leaf in blocks, and the block size changes
nothing."""

from __future__ import annotations

import numpy as np

from hierograph.graph.models import Assignment, Hierarchy, Topic
from hierograph.hierarchy import multilabel
from hierograph.hierarchy.multilabel import SecondLeafAssigner


def _two_leaves() -> tuple[Hierarchy, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    a, b = np.eye(16)[0], np.eye(16)[1]
    vectors = {f"a{i}": a + 0.1 * rng.normal(size=16) for i in range(6)}
    vectors |= {f"b{i}": b + 0.1 * rng.normal(size=16) for i in range(6)}
    vectors["between"] = a + 1.1 * b  # filed under leaf A, a little closer to B
    topics = [Topic(id="root", label="All", level=0)]
    topics += [Topic(id=t, label=t, level=1, parent="root") for t in ("A", "B")]
    assignments = [
        Assignment(paper_id=p, topic_id="A" if p[0] in "at" else "B", score=1.0)
        for p in vectors
        if p != "between"
    ] + [Assignment(paper_id="between", topic_id="A", score=0.7)]
    return Hierarchy(topics=topics, assignments=assignments), vectors


def test_a_paper_between_two_leaves_gets_the_other_as_second_topic(monkeypatch):
    hierarchy, vectors = _two_leaves()
    out, n = SecondLeafAssigner(0.02, 0.5).extend(hierarchy, vectors)
    extra = out.assignments[len(hierarchy.assignments) :]
    assert n == len(extra) == 1
    assert (extra[0].paper_id, extra[0].topic_id) == ("between", "B")
    monkeypatch.setattr(multilabel, "BLOCK", 1)  # one paper at a time: the same result
    assert SecondLeafAssigner(0.02, 0.5).extend(hierarchy, vectors) == (out, n)
