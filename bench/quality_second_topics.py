"""Are second topics right? For each gold set, on cached embeddings (`quality_sets.prepared`),
the default tree's leaves are the primary topics; `SecondLeafAssigner` then adds second topics
under each rule, and each second topic is scored against the gold:

- right: the paper's gold category is the commonest gold category among the leaf's primary
  members (the leaf "is" that category);
- precision of second topics, their count, and for comparison the same precision of the
  primary topics (how often a paper's own leaf is its category's leaf).

Rules: today's (closer than its own leaf without it, by `multi_label_margin`, and at least
`multi_label_min_similarity`), larger margins, and higher floors. On 2026-12-01 (float32
vectors, load 0.6) higher floors raised the precision on every set (an-dev 0.407 on 162 second
topics today, 0.506 on 81 at floor 0.65, 0.533 on 45 at 0.7, against 0.596 for primary topics;
arxiv-2000 0.717 -> 0.757; reward-hacking 0.60 on 5 -> 0.67 on 3), and larger margins did not;
a bf16 run the same day had found floors flat (0.42-0.49). Today's rule stays: gold with one
category per paper scores every right second topic of a two-topic paper as wrong, so this
precision cannot show what fewer second topics cost, and half the cross-listings would go.

    python bench/quality_second_topics.py [--sets an-dev,reward-hacking,arxiv-2000]

Appends one JSON line per set and rule to bench/out/quality-second-topics.jsonl and prints a
table. Nothing here reads gold labels except the scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_methods import hierograph_tree  # noqa: E402
from quality_sets import OUT_DIR, gold_sets, prepared  # noqa: E402

# name: (margin, least similarity); None: the setting's
RULES: dict[str, tuple[float | None, float | None]] = {
    "today": (None, None),
    "margin 0.04": (0.04, None),
    "margin 0.06": (0.06, None),
    "margin 0.10": (0.10, None),
    "floor 0.6": (None, 0.6),
    "floor 0.65": (None, 0.65),
    "floor 0.7": (None, 0.7),
}


def leaf_category(leaf_of: np.ndarray, truth: list[str | None]) -> dict[int, str]:
    """Each leaf's commonest gold category among its primary members."""
    by_leaf: dict[int, Counter] = {}
    for leaf, t in zip(leaf_of.tolist(), truth, strict=True):
        if t is not None:
            by_leaf.setdefault(leaf, Counter())[t] += 1
    return {leaf: c.most_common(1)[0][0] for leaf, c in by_leaf.items()}


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from hierograph.graph.models import Assignment, Hierarchy
    from hierograph.hierarchy.multilabel import SecondLeafAssigner
    from hierograph.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", default=",".join(gold_sets()))
    args = ap.parse_args()
    os.environ.setdefault("HIEROGRAPH_HOME", str(OUT_DIR / "quality" / "scratch"))
    settings = load_settings(home=os.environ["HIEROGRAPH_HOME"])
    table = Table(title="Second topics against expert categories")
    for col in ("set", "rule", "second topics", "precision", "primary precision", "load"):
        table.add_column(col, justify="left" if col in ("set", "rule") else "right")
    for set_name in args.sets.split(","):
        data = prepared(set_name)
        X, truth, ids = data["vectors"], data["truth"], data["ids"]
        leaf_of = hierograph_tree(X)[1][-1]
        category = leaf_category(leaf_of, truth)
        primary = [
            t == category.get(leaf) for leaf, t in zip(leaf_of, truth, strict=True) if t is not None
        ]
        hierarchy = Hierarchy(
            topics=[],
            assignments=[
                Assignment(paper_id=p, topic_id=f"t{leaf}", score=1.0)
                for p, leaf in zip(ids, leaf_of.tolist(), strict=True)
            ],
        )
        vectors = dict(zip(ids, X, strict=True))
        truth_of = dict(zip(ids, truth, strict=True))
        for rule, (margin, floor) in RULES.items():
            assigner = SecondLeafAssigner(
                settings.multi_label_margin if margin is None else margin,
                settings.multi_label_min_similarity if floor is None else floor,
            )
            out, n = assigner.extend(hierarchy, vectors)
            extra = out.assignments[len(hierarchy.assignments) :]
            scored = [
                truth_of[a.paper_id] == category.get(int(a.topic_id[1:]))
                for a in extra
                if truth_of[a.paper_id] is not None
            ]
            row = {
                "set": set_name, "rule": rule, "margin": margin, "floor": floor, "second_topics": n,
                "scored": len(scored), "precision": float(np.mean(scored)) if scored else None,
                "primary_precision": float(np.mean(primary)), "load": os.getloadavg()[0],
            }  # fmt: skip
            with (OUT_DIR / "quality-second-topics.jsonl").open("a") as f:
                f.write(json.dumps(row) + "\n")
            table.add_row(
                set_name,
                rule,
                str(n),
                "-" if row["precision"] is None else f"{row['precision']:.3f}",
                f"{row['primary_precision']:.3f}",
                f"{row['load']:.1f}",
            )
    Console().print(table)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
