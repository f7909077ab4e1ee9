"""Hierograph vs BERTopic on the same precomputed embeddings, same machine, one run: fit time,
peak RSS, and agreement (NMI, ARI, AMI) with each paper's arXiv primary category.

    make bench-bertopic                      # installs .[bench], then runs this on all papers
    python bench/bench_bertopic.py [--limit N] [--corpus FILE] [--seed 42]

Steps, each in a fresh spawned process (own peak RSS, cold imports, timed apart):
1. ingest the corpus into a SQLite home and embed it with Hierograph's Embedder; the vectors
   come from, and go back to, the shared cache bench/out/embeddings-cache.sqlite, so only the
   first run embeds (minutes on CPU). Both systems get exactly these vectors.
2. BERTopic with default settings (UMAP 5 components on cosine, HDBSCAN min_cluster_size 10)
   and UMAP's random_state fixed: `fit_transform(docs, embeddings)` + `hierarchical_topics(docs)`
   timed. The merge tree is cut at k topics by replaying its merges in order of distance until
   k clusters are left. Noise (topic -1) is scored two ways: kept as a cluster of its own
   (what fit_transform returns), and reassigned by `reduce_outliers(strategy="embeddings")`.
3. `hierograph build` (build_hierarchy, keyword labels) into a fresh home with the embedding
   cache warm, density mode (UMAP + HDBSCAN, recursive), then fixed-shape mode (k-means per
   level, Science Hierarchography's 1250/276/40/6 per 10k papers scaled to N). Every paper is
   in a leaf; its highest-scoring leaf is the one scored (hierarchy/evaluate.py).
The figures compared are at the level (Hierograph) or cut (BERTopic) whose topic count is
closest to the number of primary categories; every level and cut is in the JSON and the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench_build import _peak_mib, machine, run_stage
from corpus_util import (
    CACHE,
    CORPUS,
    OUT_DIR,
    Result,
    bertopic_model,
    build_stage,
    in_child,
    save_cache,
    scaled_level_sizes,
    seed_cache,
    write_corpus,
)

SYSTEMS = {
    "bertopic": "BERTopic (noise = own cluster)",
    "bertopic_reduced": "BERTopic + reduce_outliers",
    "density": "Hierograph density",
    "fixed": "Hierograph fixed-shape",
}


def cut_merge_tree(hier: object, topics: list[int], k: int) -> list[int]:
    """Each document's cluster when BERTopic's merge tree is cut at k clusters: merges are
    replayed in order of distance (each joins two clusters) until k are left. Topic -1 stays
    -1; the leaf topics are 0..n-1, as in hierarchical_topics' `Topics` column."""
    parent = {t: t for t in set(topics) if t != -1}

    def find(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    clusters = len(parent)
    for row in hier.sort_values("Distance").itertuples():  # type: ignore[attr-defined]
        if clusters <= k:
            break
        roots = {find(int(t)) for t in row.Topics}
        first = min(roots)
        for r in roots - {first}:
            parent[r] = first
        clusters -= len(roots) - 1
    return [-1 if t == -1 else find(t) for t in topics]


def merge_tree_depth(hier: object) -> int:
    """Merges on the longest path from the root of BERTopic's binary merge tree to a topic."""
    kids = {
        int(r.Parent_ID): (int(r.Child_Left_ID), int(r.Child_Right_ID))
        for r in hier.itertuples()  # type: ignore[attr-defined]
    }
    depth: dict[int, int] = {}
    for node in sorted(kids):  # a parent's id is larger than its children's
        depth[node] = 1 + max(depth.get(c, 0) for c in kids[node])
    return depth[max(kids)] if kids else 0


def bertopic_stage(home: str, seed: int) -> Result:
    """BERTopic fitted on the vectors the prepare step stored; scored at many cuts."""
    out: Result = {"rss_at_start_mib": _peak_mib()}
    # bertopic imports litellm, which would fetch a price list from the network on import;
    # hierarchical_topics draws a tqdm bar per merge.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TQDM_DISABLE", "1")
    start = time.perf_counter()
    import numpy as np
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        normalized_mutual_info_score,
    )

    from hierograph.graph.sqlite_store import SqliteStore

    out["imports_s"] = time.perf_counter() - start
    with SqliteStore(Path(home) / "hierograph.sqlite") as store:
        papers = list(store.iter_papers())
        stored = store.get_embeddings()
    vectors = np.stack([stored[p.id] for p in papers]).astype(np.float32)
    docs = [p.text() for p in papers]
    truth = [p.categories[0] if p.categories else "" for p in papers]
    # BERTopic's own default UMAP, with random_state added (which also makes it single-threaded,
    # as Hierograph's UMAP is); the default HDBSCAN (min_cluster_size=10, eom).
    model = bertopic_model(seed)
    start = time.perf_counter()
    topics, _ = model.fit_transform(docs, vectors)
    out["fit_s"] = time.perf_counter() - start
    start = time.perf_counter()
    hier = model.hierarchical_topics(docs)
    out["hierarchy_s"] = time.perf_counter() - start
    out["wall_s"] = out["fit_s"] + out["hierarchy_s"]
    out["peak_rss_mib"] = _peak_mib()
    start = time.perf_counter()
    reduced = model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=vectors)
    out["reduce_outliers_s"] = time.perf_counter() - start
    topics = [int(t) for t in topics]
    reduced = [int(t) for t in reduced]
    n_topics = len(set(topics) - {-1})
    out.update(papers=len(papers), topics=n_topics, depth=merge_tree_depth(hier))
    out["noise_share"] = topics.count(-1) / len(topics)
    n_categories = out["categories"] = len(set(truth))
    # Cuts: every power-of-two-ish count up to all topics, plus the category count itself.
    ks = {n_categories, n_topics}
    k = 2
    while k < n_topics:
        ks.add(k)
        k = max(k + 1, round(k * 1.5))
    out["levels"], out["levels_reduced"] = [], []
    for k in sorted(x for x in ks if 1 < x <= n_topics):
        for key, labels in (("levels", topics), ("levels_reduced", reduced)):
            pred = cut_merge_tree(hier, labels, k)
            out[key].append(
                {
                    "topics": k,
                    "nmi": float(normalized_mutual_info_score(truth, pred)),
                    "ari": float(adjusted_rand_score(truth, pred)),
                    "ami": float(adjusted_mutual_info_score(truth, pred)),
                }
            )
    return out


def closest(levels: list[Result], k: int) -> Result:
    """The level with the topic count nearest k (the shallower one on a tie)."""
    return min(levels, key=lambda lv: abs(lv["topics"] - k))


def plot(systems: dict[str, Result], n_categories: int, path: Path, title: str) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("NMI vs topic count", "ARI vs topic count", "fit time (s)"),
    )
    for name, levels in systems.items():
        levels = sorted(levels["levels"], key=lambda lv: lv["topics"])
        for col, metric in ((1, "nmi"), (2, "ari")):
            fig.add_trace(
                go.Scatter(
                    x=[lv["topics"] for lv in levels],
                    y=[lv[metric] for lv in levels],
                    name=SYSTEMS[name],
                    legendgroup=name,
                    showlegend=col == 1,
                    mode="lines+markers",
                ),
                row=1,
                col=col,
            )
    for col in (1, 2):
        fig.add_vline(x=n_categories, line_dash="dot", row=1, col=col)
        fig.update_xaxes(type="log", title_text="topics at the level or cut", row=1, col=col)
    names = [n for n in systems if n != "bertopic_reduced"]
    fig.add_trace(
        go.Bar(
            x=[SYSTEMS[n] for n in names],
            y=[systems[n]["wall_s"] for n in names],
            showlegend=False,
        ),
        row=1,
        col=3,
    )
    fig.update_layout(title=title)
    fig.write_html(path)  # plotly.js inlined: the file opens offline


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, help="only the first N papers (default: all)")
    ap.add_argument("--seed", type=int, default=42, help="UMAP random_state, both systems")
    ap.add_argument("--cache", type=Path, default=CACHE, help="shared embedding cache file")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "bertopic.json")
    ap.add_argument("--keep", action="store_true", help="keep the homes (printed)")
    args = ap.parse_args()
    if not args.corpus.is_file():
        ap.error(f"no corpus at {args.corpus}: pass --corpus FILE.jsonl")
    work = Path(tempfile.mkdtemp(prefix="hierograph-vs-bertopic-"))
    prep = work / "prepared"
    corpus = work / "corpus.jsonl"
    write_corpus(args.corpus, corpus, n=args.limit)
    seed_cache(prep, args.cache)
    t0 = time.perf_counter()
    # The parent stays light (no numpy, no rich until the children are done): see bench_build.
    ingest = in_child(run_stage, "ingest", str(prep), str(corpus))
    embed = in_child(run_stage, "embed", str(prep), str(corpus))
    print(
        f"prepared {ingest['papers']} papers: ingest {ingest['wall_s']:.1f} s, embedding "
        f"{embed['wall_s']:.1f} s ({embed['embedded']} embedded, {embed['cached']} cached)",
        flush=True,
    )
    if embed["embedded"]:
        save_cache(prep, args.cache)
    systems: Result = {}
    systems["bertopic"] = in_child(bertopic_stage, str(prep), args.seed)
    bt = systems["bertopic"]
    print(f"BERTopic: {bt['wall_s']:.1f} s, {bt['topics']} topics", flush=True)
    systems["bertopic_reduced"] = {
        **bt,
        "levels": bt["levels_reduced"],
        "noise_share": 0.0,
        "wall_s": bt["wall_s"] + bt["reduce_outliers_s"],
    }
    for mode in ("density", "fixed"):
        home = work / mode
        shutil.copytree(prep, home)  # papers and warm cache; no tree yet
        overrides: Result = {"tree_mode": mode, "seed": args.seed}
        if mode == "fixed":
            overrides["level_sizes"] = scaled_level_sizes(ingest["papers"])
        systems[mode] = in_child(build_stage, str(home), overrides, True)
        s = systems[mode]
        print(f"Hierograph {mode}: {s['wall_s']:.1f} s, {s['topics']} topics", flush=True)
    total_s = time.perf_counter() - t0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    n_cat = systems["bertopic"]["categories"]
    title = (
        f"Hierograph vs BERTopic — {ingest['papers']} papers, same embeddings "
        f"({embed['torch']['device']}), {n_cat} arXiv primary categories"
    )
    table = Table(title=title)
    table.add_column("")
    for name in systems:
        table.add_column(SYSTEMS[name], justify="right")
    picked = {n: closest(s["levels"], n_cat) for n, s in systems.items()}
    best = {n: max(s["levels"], key=lambda lv: lv["ami"]) for n, s in systems.items()}

    def row(label: str, fmt) -> None:  # noqa: ANN001 - a formatter per system
        table.add_row(label, *[fmt(n, s) for n, s in systems.items()])

    hg = ("density", "fixed")
    row("fit time s", lambda n, s: f"{s['wall_s']:.1f}")
    row(
        "  of which",
        lambda n, s: (
            f"tree {s['tree_s']:.1f}"
            if n in hg
            else f"fit_transform {s['fit_s']:.1f}, hier. {s['hierarchy_s']:.1f}"
            + (f", reduce {s['reduce_outliers_s']:.1f}" if n == "bertopic_reduced" else "")
        ),
    )
    row("imports s (apart)", lambda n, s: f"{s['imports_s']:.1f}")
    row("peak RSS MiB", lambda n, s: f"{s['peak_rss_mib']:.0f}")
    row(
        "topics",
        lambda n, s: f"{s['topics']} ({s['leaves']} leaves)" if n in hg else str(s["topics"]),
    )
    row(
        "depth",
        lambda n, s: f"{s['depth']} levels" if n in hg else f"{s['depth']} merges (binary)",
    )
    row("noise / outliers %", lambda n, s: f"{100 * s['noise_share']:.1f}")
    row(
        "compared at",
        lambda n, s: (
            f"level {picked[n]['level']}: {picked[n]['topics']} topics"
            if n in hg
            else f"cut at {picked[n]['topics']} topics"
        ),
    )
    for metric in ("nmi", "ari", "ami"):
        row(f"  {metric.upper()}", lambda n, s, m=metric: f"{picked[n][m]:.3f}")
    row(
        "best AMI over levels/cuts",
        lambda n, s: f"{best[n]['ami']:.3f} at {best[n]['topics']} topics",
    )
    console.print(table)
    console.print(
        "fit time: BERTopic = fit_transform + hierarchical_topics on given embeddings; "
        "Hierograph = the whole `hierograph build` (tree, keyword labels, facets, multi-label, "
        "store writes) with a warm embedding cache (it embedded "
        f"{', '.join(str(systems[m]['embedded']) for m in hg)} papers)."
    )
    mach = {**machine(), "torch": embed["torch"], "load_avg_end": os.getloadavg()}
    console.print(f"machine: {mach}; whole run {total_s:.0f} s")
    report = {
        "corpus": str(args.corpus),
        "limit": args.limit,
        "papers": ingest["papers"],
        "categories": n_cat,
        "machine": mach,
        "prepare": {"ingest": ingest, "embed": embed},
        "systems": systems,
        "compared": picked,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    html = args.out.with_suffix(".html")
    plot(systems, n_cat, html, title)
    console.print(f"wrote {args.out} and {html}")
    if args.keep:
        console.print(f"homes kept under {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
