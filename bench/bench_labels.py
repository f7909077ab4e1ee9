"""Benchmark topic names without an LLM: phrase labels (the default) against the old keyword
labels, on the same embeddings and the same tree. Per corpus: labeling time (fit + label the
tree), label fit and AMI against the gold sets in ../shared/gold, sibling label similarity,
and the names of the top levels. Writes bench/out/labels.json and bench/out/labels.html.

    python bench/bench_labels.py [--sets demo an-dev reward-hacking arxiv-2000]

The embedding cache is kept under bench/out/ (the first run embeds, later runs read it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "bench" / "out"
CACHE = OUT / "embeddings-cache.sqlite"
# name -> (papers file, gold file or None, gold depth); arxiv-2000 is a seeded sample.
SETS: dict[str, tuple[Path, Path | None, int]] = {
    "demo": (REPO / "data" / "hf-papers-alignment.txt", None, 1),
    "an-dev": (SHARED / "gold" / "an-dev.papers.jsonl", SHARED / "gold" / "an-dev.gold.jsonl", 1),
    "reward-hacking": (
        SHARED / "gold" / "reward-hacking.papers.jsonl",
        SHARED / "gold" / "reward-hacking.gold.jsonl",
        1,
    ),
    "arxiv-2000": (SHARED / "corpus" / "arxiv-ai-2025.jsonl", None, 1),
}


class _Fixed:
    """Labels computed (and timed) beforehand, behind the labeler protocol `to_hierarchy` uses."""

    def __init__(self, labels: dict[int, Any]) -> None:
        self.labels = labels

    def label_tree(self, root: Any) -> dict[int, Any]:
        return self.labels


def _sample(path: Path, n: int, home: Path) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    picked = random.Random(0).sample(lines, n)
    out = home / f"sample-{n}.jsonl"
    out.write_text("\n".join(picked) + "\n", encoding="utf-8")
    return out


def run_set(name: str) -> dict[str, Any]:
    import numpy as np

    from hierograph.graph.factory import open_store
    from hierograph.hierarchy.evaluate import evaluate, intrinsic_scores, label_fit, load_gold
    from hierograph.hierarchy.label import KeywordLabeler
    from hierograph.hierarchy.phrase_label import PhraseLabeler
    from hierograph.ingest.pipeline import ingest_paths
    from hierograph.jobs.build import to_hierarchy, with_sizes
    from hierograph.jobs.components import make_embedder, make_tree_builder
    from hierograph.settings import Settings

    source, gold_path, depth = SETS[name]
    home = OUT / "labels-homes" / name
    home.mkdir(parents=True, exist_ok=True)
    (home / "hierograph.sqlite").unlink(missing_ok=True)
    settings = Settings(home=home)
    if name == "arxiv-2000":
        source = _sample(source, 2000, home)
    result: dict[str, Any] = {"set": name}
    with open_store(settings) as store:
        ingest_paths(store, [source], settings.rejects_path())
        papers = list(store.iter_papers())
        embedder = make_embedder(settings, show_progress=False)
        embedder.cache_path = CACHE
        vectors = np.asarray(embedder.encode([p.text() for p in papers]))
        ids = [p.id for p in papers]
        store.set_embeddings(dict(zip(ids, vectors, strict=True)))
        start = time.perf_counter()
        root = _tree(home / "tree.pkl", ids, lambda: make_tree_builder(settings).fit(vectors).root_)
        result["papers"] = len(papers)
        result["cluster_s"] = round(time.perf_counter() - start, 2)
        gold = load_gold(gold_path) if gold_path else None
        # Phrases are embedded without the cache, so the time is a first build's; the model
        # is loaded beforehand, as the build's embedder already is when labeling starts.
        phrase_embedder = make_embedder(settings, show_progress=False)
        phrase_embedder.cache_path = None
        phrase_embedder.encode(["warm-up"])
        for kind in ("keyword", "phrase"):
            start = time.perf_counter()
            if kind == "keyword":
                labeler: Any = KeywordLabeler(n_keywords=settings.label_keywords)
                labeler.fit([p.text() for p in papers])
            else:
                labeler = PhraseLabeler(phrase_embedder.encode, n_keywords=settings.label_keywords)
                labeler.fit(papers, vectors)
            fit_s = time.perf_counter() - start
            labels = labeler.label_tree(root)
            label_s = time.perf_counter() - start - fit_s
            store.replace_hierarchy(with_sizes(to_hierarchy(root, ids, _Fixed(labels))))
            sibling, coherence = intrinsic_scores(store, embedder.encode)
            row: dict[str, Any] = {
                "fit_s": round(fit_s, 2),
                "label_s": round(label_s, 2),
                "sibling_similarity": round(sibling, 4),
                "coherence": round(coherence, 4),
                "names": _names(store, 2),
            }
            if gold:
                report = evaluate(store, gold, depth)
                fit = label_fit(store, gold, embedder.encode, depth)
                row["ami_best"] = round(max(s.ami for s in report.levels), 4)
                row["best_level"] = report.best_level
                row["label_fit"] = fit.score
                row["categories"] = [vars(c) for c in fit.categories]
                if kind == "phrase":
                    row["ceiling"] = _ceiling(store, fit, labeler, ids, embedder.encode)
            result[kind] = row
    return result


def _ceiling(
    store: Any, fit: Any, labeler: Any, ids: list[str], embed: Any, picks: list | None = None
) -> float:
    """The best label fit any extractive labeler could reach on this tree: per gold category,
    the highest cosine between the category's name and a nameable phrase that at least two of
    its best-matching topic's papers use (the most used 400 per topic). Only a benchmark may
    look at the gold names; it says how far the phrase labels are from what their candidates
    allow, and whether a goal is within reach of names drawn from the papers at all."""
    import numpy as np

    from hierograph.hierarchy.evaluate import _primary_leaf, category_name

    row_of = {pid: i for i, pid in enumerate(ids)}
    by_id = {t.id: t for t in store.topics()}
    below: dict[str, list[int]] = {}
    for pid, leaf in _primary_leaf(store).items():
        topic = by_id.get(leaf)
        while topic is not None and topic.parent:
            below.setdefault(topic.id, []).append(row_of[pid])
            topic = by_id.get(topic.parent)
    best, weights = [], []
    for c in fit.categories:
        rows = below.get(c.topic_id, [])
        used = np.asarray(((labeler.text_[rows] + labeler.title_[rows]) > 0).sum(axis=0)).ravel()
        used = used * labeler.eligible_ * (used >= 2)
        keys = [int(k) for k in np.argsort(-used, kind="stable")[:400] if used[k] > 0]
        if not keys:
            continue
        vecs = np.asarray(embed([labeler.counts_.display[k] for k in keys]))
        name = np.asarray(embed([category_name(c.category)]))[0]
        sims = vecs @ name
        best.append(float(sims.max()))
        if picks is not None:
            picks.append(
                (c.category, c.topic_label, labeler.counts_.display[keys[int(sims.argmax())]])
            )
        weights.append(c.papers)
    return round(float(np.average(best, weights=weights)), 4) if best else 0.0


def _tree(path: Path, ids: list[str], grow: Any) -> Any:
    """The tree grown once per set and kept beside its home: relabeling runs skip UMAP."""
    import pickle

    if path.exists():
        saved_ids, root = pickle.loads(path.read_bytes())
        if saved_ids == ids:
            return root
    root = grow()
    path.write_bytes(pickle.dumps((ids, root)))
    return root


def _names(store: Any, depth: int) -> list[str]:
    """The tree's names to `depth`, indented, largest first."""
    topics = store.topics()
    children: dict[str | None, list[Any]] = {}
    for t in topics:
        children.setdefault(t.parent, []).append(t)
    lines: list[str] = []

    def walk(parent: str, level: int) -> None:
        for t in sorted(children.get(parent, []), key=lambda t: -t.size):
            lines.append("  " * (level - 1) + f"{t.label} ({t.size})")
            if level < depth:
                walk(t.id, level + 1)

    walk("root", 1)
    return lines


def _plot(results: list[dict[str, Any]], path: Path) -> str:
    """Label fit per gold set, keyword vs phrase labels, as plotly HTML (opens offline)."""
    import plotly.graph_objects as go

    scored = [r for r in results if "label_fit" in r["phrase"]]
    fig = go.Figure(
        [
            go.Bar(
                name=kind, x=[r["set"] for r in scored], y=[r[kind]["label_fit"] for r in scored]
            )
            for kind in ("keyword", "phrase")
        ]
    )
    fig.add_hline(y=0.55, line_dash="dash", annotation_text="goal 0.55")
    fig.update_layout(barmode="group", yaxis_title="label fit", title="Topic names vs gold names")
    fig.write_html(path)
    return f"plot: {path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = [run_set(name) for name in args.sets]
    load = os.getloadavg()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Topic names without an LLM (load average {load[0]:.1f})")
    for column in ("set", "papers", "labeler", "fit s", "label s", "label fit", "AMI", "sibling"):
        table.add_column(column, justify="left" if column in ("set", "labeler") else "right")
    for r in results:
        for kind in ("keyword", "phrase"):
            row = r[kind]
            table.add_row(
                r["set"],
                str(r["papers"]),
                kind,
                f"{row['fit_s']:.2f}",
                f"{row['label_s']:.2f}",
                f"{row['label_fit']:.3f}" if "label_fit" in row else "-",
                f"{row['ami_best']:.3f}" if "ami_best" in row else "-",
                f"{row['sibling_similarity']:.3f}",
            )
    console = Console()
    console.print(table)
    for r in results:
        console.print(
            f"[bold]{r['set']}[/bold] phrase names:", ", ".join(r["phrase"]["names"][:12])
        )
    out = OUT / "labels.json"
    out.write_text(json.dumps({"load_average": load, "results": results}, indent=1))
    console.print(f"wrote {out}; " + _plot(results, OUT / "labels.html"))


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
