"""How well does the tree agree with experts? Hierograph's default build against BERTopic,
k-means and Ward on the development gold sets, all on the same embeddings.

    make bench-quality                       # installs .[bench] (BERTopic), then runs this
    python bench/bench_quality.py [--sets an-dev,reward-hacking,arxiv-2000] [--seed 42]

Sets (bench/quality_sets.py): ../shared/gold/an-dev (1,080 Alignment Newsletter entries, 47
expert categories), ../shared/gold/reward-hacking (93 papers, 7 top-level survey sections,
scored at depth 1), and the first 2,000 categorized papers of the shared arXiv corpus with
their primary category. Each set is ingested and embedded once (the embedding model of the
default settings, through Hierograph's Embedder and the shared cache under bench/out/); every
method gets exactly those vectors.

Methods, each in a fresh spawned process (its peak RSS is its own):
- Hierograph: `hierograph build` with default settings (keyword labels) in a fresh home with a
  warm embedding cache, scored by `hierograph eval --gold`'s code at every tree level;
- BERTopic with its defaults (UMAP's random_state fixed), its noise topic kept as a cluster of
  its own and after `reduce_outliers(strategy="embeddings")`, cut at every merge of
  `hierarchical_topics`;
- k-means with k = the number of gold categories, and agglomerative Ward cut at that k.
Reported per method: AMI, ARI and V-measure at the level/cut whose topic count is nearest the
gold count, the best AMI over levels/cuts, fit time and peak RSS. Writes bench/out/quality.json
and bench/out/quality.html (AMI against topic count per set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import _peak_mib  # noqa: E402
from corpus_util import in_child  # noqa: E402
from quality_sets import OUT_DIR, gold_sets  # noqa: E402

Result = dict[str, Any]
METHODS = {
    "hierograph": "Hierograph (default build)",
    "bertopic": "BERTopic (noise = own topic)",
    "bertopic_reduced": "BERTopic + reduce_outliers",
    "kmeans": "k-means (k = gold)",
    "ward": "Ward (k = gold)",
}


def prepare_stage(set_name: str) -> Result:
    """Ingest and embed the set (cached); the figures of that step."""
    from quality_sets import prepared

    data = prepared(set_name)
    truth = [t for t in data["truth"] if t is not None]
    return {
        "papers": len(data["ids"]),
        "gold_papers": len(truth),
        "categories": len(set(truth)),
        "embed": data["embed"],
    }


def hierograph_stage(set_name: str, overrides: Result) -> Result:
    """A full `hierograph build` with default settings (plus overrides) in a fresh home holding
    the set's papers and a warm embedding cache, then `hierograph eval --gold`'s scores."""
    import shutil
    import tempfile
    from dataclasses import asdict

    import umap  # noqa: F401 - numba compiles on import: not part of the fit
    from quality_sets import CACHE, home_of

    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy import tree
    from hierograph.hierarchy.evaluate import evaluate, load_gold
    from hierograph.jobs.build import build_hierarchy
    from hierograph.settings import load_settings

    out: Result = {"rss_at_start_mib": _peak_mib(), "tree_s": 0.0}
    fit = tree.TreeBuilder.fit

    def timed_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fit(self, *args, **kwargs)
        finally:
            out["tree_s"] += time.perf_counter() - start

    tree.TreeBuilder.fit = timed_fit  # type: ignore[method-assign]
    gs = gold_sets()[set_name]
    with tempfile.TemporaryDirectory(prefix="hg-quality-") as tmp:
        home = Path(tmp)
        settings = load_settings(home=home, llm="none", **overrides)
        shutil.copyfile(home_of(set_name) / "hierograph.sqlite", settings.db_path())
        shutil.copyfile(CACHE, settings.embedding_cache_path())
        with SqliteStore(settings.db_path()) as store:
            start = time.perf_counter()
            report = build_hierarchy(store, settings, show_progress=False)
            out["fit_s"] = time.perf_counter() - start
            out["peak_rss_mib"] = _peak_mib()
            scored = evaluate(store, load_gold(gs.gold), gs.depth)
    out.update(embedded=report.embedded, topics=report.topics, leaves=report.leaves)
    out["levels"] = [
        {"level": s.level, "topics": s.topics, "ami": s.ami, "ari": s.ari, "v": s.v_measure,
         "nmi": s.nmi}
        for s in scored.levels
    ]  # fmt: skip
    out["settings"] = {
        k: v for k, v in asdict(report).items() if k in ("papers", "topics", "leaves", "depth")
    }
    return out


def bertopic_stage(set_name: str, seed: int) -> Result:
    """BERTopic's defaults on the set's vectors, scored at every cut of its merge tree."""
    from quality_methods import bertopic_levels, score
    from quality_sets import prepared

    out: Result = {"rss_at_start_mib": _peak_mib()}
    data = prepared(set_name)
    cuts, reduced, figures = bertopic_levels(data["texts"], data["vectors"], seed)
    out["peak_rss_mib"] = _peak_mib()
    out.update(figures)
    out["fit_s"] = figures["fit_s"] + figures["hierarchy_s"]
    out["levels"] = [score(data["truth"], c) for c in cuts]
    out["levels_reduced"] = [score(data["truth"], c) for c in reduced]
    return out


def flat_stage(set_name: str, method: str, seed: int) -> Result:
    """k-means or Ward at k = the number of gold categories."""
    from quality_methods import kmeans, score, ward
    from quality_sets import prepared

    out: Result = {"rss_at_start_mib": _peak_mib()}
    data = prepared(set_name)
    k = len({t for t in data["truth"] if t is not None})
    start = time.perf_counter()
    labels = kmeans(data["vectors"], k, seed) if method == "kmeans" else ward(data["vectors"], k)
    out["fit_s"] = time.perf_counter() - start
    out["peak_rss_mib"] = _peak_mib()
    out["levels"] = [score(data["truth"], labels)]
    return out


def nearest(levels: list[Result], k: int) -> Result:
    """The level with the topic count nearest k (the coarser one on a tie)."""
    return min(levels, key=lambda lv: (abs(lv["topics"] - k), lv["topics"]))


def best(levels: list[Result]) -> Result:
    return max(levels, key=lambda lv: lv["ami"])


def run_set(set_name: str, seed: int, overrides: Result, reuse: Result | None) -> Result:
    """Every method on one set; with `reuse` (an earlier quality.json's entry for this set,
    same papers), the other methods' figures are taken from it and only Hierograph runs."""
    prep = in_child(prepare_stage, set_name)
    print(
        f"{set_name}: {prep['papers']} papers, {prep['gold_papers']} with gold, "
        f"{prep['categories']} categories (embedding {prep['embed']})",
        flush=True,
    )
    methods: Result = {}
    methods["hierograph"] = in_child(hierograph_stage, set_name, overrides)
    if reuse and reuse.get("papers") == prep["papers"]:
        methods.update({k: v for k, v in reuse["methods"].items() if k != "hierograph"})
        return finish(prep, methods)
    bt = in_child(bertopic_stage, set_name, seed)
    methods["bertopic"] = bt
    methods["bertopic_reduced"] = {
        **bt,
        "levels": bt["levels_reduced"],
        "fit_s": bt["fit_s"] + bt.get("reduce_outliers_s", 0.0),
    }
    for flat in ("kmeans", "ward"):
        methods[flat] = in_child(flat_stage, set_name, flat, seed)
    return finish(prep, methods)


def finish(prep: Result, methods: Result) -> Result:
    """The set's entry: each method's nearest and best level, and the goal margin."""
    for m in methods.values():
        m["nearest"] = nearest(m["levels"], prep["categories"])
        m["best"] = best(m["levels"])
    baseline = max(methods[m]["best"]["ami"] for m in ("bertopic", "bertopic_reduced", "kmeans"))
    return {
        **prep,
        "methods": methods,
        "goal_margin": methods["hierograph"]["best"]["ami"] - baseline,
        "load_avg": os.getloadavg(),
    }


def print_table(sets: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=180)
    table = Table(title="Agreement with expert categories (same embeddings for every method)")
    for column in ("set", "method", "best AMI (topics)", "nearest: topics", "AMI", "ARI", "V",
                   "fit s", "peak MiB"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("set", "method") else "right")
    for set_name, s in sets.items():
        for i, (name, m) in enumerate(s["methods"].items()):
            b, n = m["best"], m["nearest"]
            table.add_row(
                f"{set_name} ({s['categories']} cat.)" if i == 0 else "",
                METHODS[name],
                f"{b['ami']:.3f} ({b['topics']})",
                str(n["topics"]),
                f"{n['ami']:.3f}",
                f"{n['ari']:.3f}",
                f"{n['v']:.3f}",
                f"{m['fit_s']:.1f}",
                f"{m['peak_rss_mib']:.0f}",
                end_section=i == len(s["methods"]) - 1,
            )
    console.print(table)
    for set_name, s in sets.items():
        console.print(
            f"{set_name}: Hierograph best-level AMI - max(BERTopic, k-means) = "
            f"{s['goal_margin']:+.3f} (goal +0.10); load average {s['load_avg'][0]:.1f}"
        )
    console.print(
        "fit s: Hierograph = a whole `hierograph build` (tree, facets, keyword labels, "
        "method links, store writes; tree alone in the JSON), BERTopic = fit_transform + "
        "hierarchical_topics (+ reduce_outliers)."
    )


def plot(sets: Result, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(sets)
    fig = make_subplots(
        rows=1, cols=len(names), subplot_titles=[f"{n}: AMI vs topics" for n in names]
    )
    for col, set_name in enumerate(names, start=1):
        for name, m in sets[set_name]["methods"].items():
            levels = sorted(m["levels"], key=lambda lv: lv["topics"])
            fig.add_trace(
                go.Scatter(
                    x=[lv["topics"] for lv in levels],
                    y=[lv["ami"] for lv in levels],
                    name=METHODS[name],
                    legendgroup=name,
                    showlegend=col == 1,
                    mode="lines+markers",
                ),
                row=1,
                col=col,
            )
        fig.add_vline(x=sets[set_name]["categories"], line_dash="dot", row=1, col=col)
        fig.update_xaxes(type="log", title_text="topics at the level or cut", row=1, col=col)
    fig.update_layout(title="Hierograph vs BERTopic, k-means, Ward on expert categories")
    fig.write_html(path)  # plotly.js inlined: opens offline


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sets", default=",".join(gold_sets()), help="comma-separated set names")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=OUT_DIR / "quality.json")
    ap.add_argument(
        "--overrides",
        default="{}",
        help='Hierograph settings as JSON, e.g. \'{"tree_mode": "density"}\'',
    )
    ap.add_argument(
        "--reuse", type=Path, help="an earlier quality.json: take BERTopic, k-means, Ward from it"
    )
    args = ap.parse_args()
    overrides = json.loads(args.overrides)
    reuse = json.loads(args.reuse.read_text())["sets"] if args.reuse else {}
    unknown = set(args.sets.split(",")) - set(gold_sets())
    if unknown:
        ap.error(f"unknown sets {sorted(unknown)}; known: {', '.join(gold_sets())}")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    start = time.perf_counter()
    sets = {
        name: run_set(name, args.seed, overrides, reuse.get(name)) for name in args.sets.split(",")
    }
    print_table(sets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "seed": args.seed,
        "overrides": overrides,
        "sets": sets,
        "wall_s": time.perf_counter() - start,
        "load_avg_end": os.getloadavg(),
    }
    args.out.write_text(json.dumps(report, indent=2, default=str))
    html = args.out.with_suffix(".html")
    plot(sets, html)
    print(f"wrote {args.out} and {html}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
