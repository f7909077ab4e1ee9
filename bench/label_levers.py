"""Sweep the phrase labeler's knobs on the trees `bench_labels.py` grew (run it first): label
fit per gold set for each configuration, one line of JSON each, appended to
bench/out/label-levers.jsonl. Only a benchmark reads the gold names.

    python bench/label_levers.py --configs '{"shortlist": 16}' '{"similarity_weight": 2}'
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from bench_labels import CACHE, OUT, SETS, _ceiling, _Fixed, _tree


def run(name: str, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import numpy as np

    from hierograph.graph.factory import open_store
    from hierograph.hierarchy.evaluate import label_fit, load_gold
    from hierograph.hierarchy.phrase_label import PhraseLabeler
    from hierograph.jobs.build import to_hierarchy, with_sizes
    from hierograph.jobs.components import make_embedder
    from hierograph.settings import Settings

    _, gold_path, depth = SETS[name]
    home = OUT / "labels-homes" / name
    settings = Settings(home=home)
    rows = []
    with open_store(settings) as store:
        papers = list(store.iter_papers())
        embedder = make_embedder(settings, show_progress=False)
        embedder.cache_path = CACHE
        vectors = np.asarray(embedder.encode([p.text() for p in papers]))
        ids = [p.id for p in papers]
        root = _tree(home / "tree.pkl", ids, None)
        gold = load_gold(gold_path)
        for config in configs:
            labeler = PhraseLabeler(embedder.encode, **config).fit(papers, vectors)
            store.replace_hierarchy(
                with_sizes(to_hierarchy(root, ids, _Fixed(labeler.label_tree(root))))
            )
            fit = label_fit(store, gold, embedder.encode, depth)
            row = {
                "set": name,
                "config": config,
                "label_fit": fit.score,
                "ceiling": _ceiling(store, fit, labeler, ids, embedder.encode, picks := []),
                "picks": picks,
                "load": os.getloadavg()[0],
                "top": [c.topic_label for c in fit.categories][:12],
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["an-dev", "reward-hacking"])
    parser.add_argument("--configs", nargs="+", default=["{}"])
    args = parser.parse_args()
    configs = [json.loads(c) for c in args.configs]
    with (OUT / "label-levers.jsonl").open("a") as out:
        for name in args.sets:
            for row in run(name, configs):
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
