"""Tree-building levers against the gold sets, in one process on cached embeddings: for each
named configuration (settings overrides), the tree's best-level AMI, its AMI at the level whose
topic count is nearest the gold count, and k-means / Ward at the gold count as reference.

    python bench/quality_levers.py [--sets an-dev,reward-hacking,arxiv-2000] [--only NAME,...]
        [--model MODEL] [--text default|title2|lead3]

Appends every row to bench/out/quality-levers.jsonl (one line per configuration and set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_methods import hierograph_tree, kmeans, score, ward  # noqa: E402
from quality_sets import OUT_DIR, gold_sets, prepared  # noqa: E402

# name -> settings overrides; "default" is the shipped configuration.
# (The noise-assignment and keep-the-clusters levers of docs/benchmarks.md were measured
# with code that was not kept.)
CONFIGS: dict[str, dict] = {
    "default": {},
    "density": {"tree_mode": "density"},
    "density-corpus-umap": {"tree_mode": "density", "umap_scope": "corpus"},
    "density-mcs10": {"tree_mode": "density", "min_cluster_size": 10},
    "density-top23": {"tree_mode": "density", "umap_scope": "corpus", "top_topics": 23},
    "map-depth5": {"max_depth": 5},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", default=",".join(gold_sets()))
    ap.add_argument("--only", default="", help="configuration names, comma-separated")
    ap.add_argument("--model", default=None)
    ap.add_argument("--text", default="default")
    ap.add_argument("--config", default="", help="extra configuration as NAME=JSON")
    args = ap.parse_args()
    configs = dict(CONFIGS)
    if args.config:
        name, _, body = args.config.partition("=")
        configs = {name: json.loads(body)}
    elif args.only:
        configs = {n: configs[n] for n in args.only.split(",")}
    os.environ.setdefault("HIEROGRAPH_HOME", str(OUT_DIR / "quality" / "scratch"))
    log = OUT_DIR / "quality-levers.jsonl"
    for set_name in args.sets.split(","):
        data = prepared(set_name, args.model, args.text)
        X, truth = data["vectors"], data["truth"]
        k = len({t for t in truth if t is not None})
        ref = {"kmeans": score(truth, kmeans(X, k))["ami"], "ward": score(truth, ward(X, k))["ami"]}
        print(f"{set_name}: {len(X)} papers, {k} gold categories; k-means {ref['kmeans']:.3f}, "
              f"Ward {ref['ward']:.3f}", flush=True)  # fmt: skip
        for name, overrides in configs.items():
            start = time.perf_counter()
            _, levels = hierograph_tree(X, **overrides)
            wall = time.perf_counter() - start
            scored = [score(truth, lab) for lab in levels]
            best = max(scored, key=lambda s: s["ami"])
            near = min(scored, key=lambda s: abs(s["topics"] - k))
            shape = "/".join(str(s["topics"]) for s in scored)
            margin = best["ami"] - max(ref.values())
            print(
                f"  {name:<28} best {best['ami']:.3f} ({best['topics']} topics)  nearest "
                f"{near['ami']:.3f} ({near['topics']})  margin {margin:+.3f}"
                f"  levels {shape}  {wall:.1f}s  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            row = {
                "set": set_name, "config": name, "overrides": overrides, "model": args.model,
                "text": args.text, "levels": scored, "ref": ref, "wall_s": wall,
                "load": os.getloadavg()[0],
            }  # fmt: skip
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
