"""Sweep the phrase labeler's knobs on the trees `bench_labels.py` grew (run it first): label
fit per gold set for each configuration, one line of JSON each, appended to
bench/out/label-levers.jsonl. Only a benchmark reads the gold names.

    python bench/label_levers.py --configs '{"shortlist": 16}' '{"similarity_weight": 2}'

`--seeds 1 2 3` also grows a tree per seed (kept beside the set's home) and labels each: one
tree's label fit moves by +-0.03 with the tree, so a knob is worth keeping only if it gains on
most trees of every set; the summary table gives each configuration's mean and spread.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, NamedTuple

from bench_labels import CACHE, OUT, SETS, _ceiling, _Fixed, _tree


def run(name: str, configs: list[dict[str, Any]], seeds: list[int | None]) -> list[dict[str, Any]]:
    """Label fit of every configuration on every tree of the set (None: bench_labels.py's)."""
    import numpy as np

    from hierograph.graph.factory import open_store
    from hierograph.hierarchy.evaluate import load_gold
    from hierograph.jobs.components import make_embedder, make_tree_builder
    from hierograph.settings import Settings

    _, gold_path, _ = SETS[name]
    home = OUT / "labels-homes" / name
    settings = Settings(home=home)
    rows: list[dict[str, Any]] = []
    with open_store(settings) as store:
        papers = list(store.iter_papers())
        embedder = make_embedder(settings, show_progress=False)
        embedder.cache_path = CACHE
        vectors = np.asarray(embedder.encode([p.text() for p in papers]))
        ids = [p.id for p in papers]
        gold = load_gold(gold_path)
        for seed in seeds:
            if seed is None:
                root = _tree(home / "tree.pkl", ids, None)
            else:
                grower = make_tree_builder(settings.model_copy(update={"seed": seed}))
                path = home / f"tree-seed{seed}.pkl"
                root = _tree(path, ids, lambda g=grower: g.fit(vectors).root_)
            tree = Tree(store, root, ids, papers, vectors, embedder, gold)
            rows += [_label(tree, config, name, seed) for config in configs]
    return rows


class Tree(NamedTuple):
    """One grown tree of a set, with what labeling and scoring it need."""

    store: Any
    root: Any
    ids: list[str]
    papers: list[Any]
    vectors: Any
    embedder: Any
    gold: Any


def _label(tree: Tree, config: dict[str, Any], name: str, seed: int | None) -> dict[str, Any]:
    """Label the tree with one configuration and score it: one row."""
    from hierograph.hierarchy.evaluate import label_fit
    from hierograph.hierarchy.phrase_label import PhraseLabeler
    from hierograph.jobs.build import to_hierarchy, with_sizes

    labeler = PhraseLabeler(tree.embedder.encode, **config).fit(tree.papers, tree.vectors)
    labels = labeler.label_tree(tree.root)
    tree.store.replace_hierarchy(with_sizes(to_hierarchy(tree.root, tree.ids, _Fixed(labels))))
    fit = label_fit(tree.store, tree.gold, tree.embedder.encode, SETS[name][2])
    picks: list = []
    row = {
        "set": name,
        "seed": seed,
        "config": config,
        "label_fit": fit.score,
        "ceiling": _ceiling(tree.store, fit, labeler, tree.ids, tree.embedder.encode, picks),
        "picks": picks,
        "load": os.getloadavg()[0],
        "top": [c.topic_label for c in fit.categories][:12],
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["an-dev", "reward-hacking"])
    parser.add_argument("--configs", nargs="+", default=["{}"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="more trees, seeded")
    args = parser.parse_args()
    configs = [json.loads(c) for c in args.configs]
    rows = []
    with (OUT / "label-levers.jsonl").open("a") as out:
        for name in args.sets:
            for row in run(name, configs, [None, *args.seeds]):
                out.write(json.dumps(row) + "\n")
                rows.append(row)
    summary(rows, configs)


def summary(rows: list[dict[str, Any]], configs: list[dict[str, Any]]) -> None:
    """Per set and configuration: label fit over the trees, mean and range, and its gain over
    the first configuration on the same tree (how many trees it gained on)."""
    import statistics

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"label fit over trees (load {os.getloadavg()[0]:.1f})")
    for col in ("set", "config", "trees", "mean", "min-max", "gain vs first", "trees gained"):
        table.add_column(col)
    base = {(r["set"], r["seed"]): r["label_fit"] for r in rows if r["config"] == configs[0]}
    for name in dict.fromkeys(r["set"] for r in rows):
        for config in configs:
            mine = [r for r in rows if r["set"] == name and r["config"] == config]
            fits = [r["label_fit"] for r in mine]
            gains = [r["label_fit"] - base[(name, r["seed"])] for r in mine]
            table.add_row(
                name,
                json.dumps(config),
                str(len(fits)),
                f"{statistics.mean(fits):.3f}",
                f"{min(fits):.3f}-{max(fits):.3f}",
                f"{statistics.mean(gains):+.3f}",
                f"{sum(g > 0 for g in gains)}/{len(gains)}",
            )
    Console(width=160).print(table)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
