"""How much of the tree's agreement with experts is the seed, and does a consensus of seeds
beat one tree? For each gold set, on cached embeddings (`quality_sets.prepared`):

- the default tree fitted with `--seeds` different seeds: best-level AMI of each (the spread
  says how far one run's figure can be trusted);
- a consensus of those trees: the share of trees in which two papers fall in the same leaf
  (co-association; also the share over every level of every tree), then average-linkage
  clustering of 1 - share, cut at each level count of the first tree; its best-level AMI.

    python bench/quality_consensus.py [--sets an-dev,reward-hacking,arxiv-2000] [--seeds 5]

Appends one JSON line per set to bench/out/quality-consensus.jsonl and prints a table.
Nothing here reads gold labels except the scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_methods import hierograph_tree, kmeans, score  # noqa: E402
from quality_sets import OUT_DIR, gold_sets, prepared  # noqa: E402


def co_association(leaf_labelings: list[np.ndarray]) -> np.ndarray:
    """Share of labelings in which each pair of papers has the same label."""
    n = len(leaf_labelings[0])
    together = np.zeros((n, n), dtype=np.float32)
    for labels in leaf_labelings:
        together += labels[:, None] == labels[None, :]
    return together / len(leaf_labelings)


def consensus_cuts(share: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    """Average linkage on 1 - share, cut at each count."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - share
    np.fill_diagonal(dist, 0.0)
    merges = linkage(squareform(dist, checks=False), method="average")
    return [fcluster(merges, t=c, criterion="maxclust") for c in counts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", default=",".join(gold_sets()))
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("HIEROGRAPH_HOME", str(OUT_DIR / "quality" / "scratch"))
    for set_name in args.sets.split(","):
        data = prepared(set_name)
        X, truth = data["vectors"], data["truth"]
        k = len({t for t in truth if t is not None})
        start = time.perf_counter()
        runs = [hierograph_tree(X, seed=42 + i)[1] for i in range(args.seeds)]
        best = [max(score(truth, lab)["ami"] for lab in levels) for levels in runs]
        counts = [len(np.unique(lab)) for lab in runs[0]]
        cons = {
            "leaves": co_association([levels[-1] for levels in runs]),
            "all levels": co_association([lab for levels in runs for lab in levels]),
        }
        cons_ami = {
            name: max(score(truth, lab)["ami"] for lab in consensus_cuts(share, counts))
            for name, share in cons.items()
        }
        km = [score(truth, kmeans(X, k, seed=42 + i))["ami"] for i in range(args.seeds)]
        row = {
            "set": set_name, "seeds": args.seeds, "tree_best_ami": best,
            "consensus_best_ami": cons_ami, "level_counts": counts, "kmeans_ami": km,
            "wall_s": time.perf_counter() - start, "load": os.getloadavg()[0],
        }  # fmt: skip
        print(
            f"{set_name}: tree best AMI over {args.seeds} seeds {min(best):.3f}–{max(best):.3f} "
            f"(mean {np.mean(best):.3f}); consensus of leaves {cons_ami['leaves']:.3f}, of all "
            f"levels {cons_ami['all levels']:.3f}; k-means "
            f"(k = {k}) over seeds {min(km):.3f}–{max(km):.3f}; load {row['load']:.1f}",
            flush=True,
        )
        with (OUT_DIR / "quality-consensus.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
