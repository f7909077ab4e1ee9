"""Build time and peak memory against corpus size: for each N, ingest the first N papers into a
fresh SQLite home, warm the embedding cache, then time `hierograph build` (keyword labels) with
nothing left to embed. Each stage runs in its own spawned process, so its ru_maxrss is its own.
Prints a table, writes JSON and a log-log plot (HTML) under bench/out/.

    python bench/bench_scale.py [--sizes 1000,2000,4000,all] [--repeat K] [--tree-mode fixed]

Embedding speed is bench_embed.py's figure, not this one's: the warm-up stage embeds what the
shared cache (bench/out/embeddings-cache.sqlite) lacks, and the timed build then embeds nothing.
`--repeat K` makes the corpus K times larger with perturbed copies (new arXiv ids, " (copy k)"
after the title: see corpus_util.write_corpus), for 100k and 1M papers on a GPU machine; the
copies' embeddings are computed in the warm-up stage, not read from the cache.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench_build import machine, run_stage
from corpus_util import (
    CACHE,
    CORPUS,
    OUT_DIR,
    Result,
    build_stage,
    cached_base,
    in_child,
    save_cache,
    scaled_level_sizes,
    seed_cache,
    synthesize_copies,
    write_corpus,
)


def count_records(path: Path) -> int:
    with path.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip())


def paper_count(home: str) -> Result:
    """The papers a kept home holds (in a child: the parent stays light)."""
    from hierograph.graph.sqlite_store import SqliteStore

    with SqliteStore(Path(home) / "hierograph.sqlite") as store:
        return {"papers": store.paper_count(), "peak_rss_mib": float("nan")}


def run_size(n: int, args: argparse.Namespace, work: Path) -> Result:
    home = work / f"n{n}"
    corpus = home / "corpus.jsonl"
    if args.reuse_homes and (home / "hierograph.sqlite").is_file():
        # A kept home from a run stopped after ingest: the figures of that ingest are lost.
        row: Result = {"n": n, "load_avg_before": os.getloadavg(), "reused_home": True}
        row["ingest"] = {**in_child(paper_count, str(home)), "wall_s": float("nan")}
    else:
        written = write_corpus(args.corpus, corpus, n=n, repeat=args.repeat)
        seed_cache(home, args.cache)
        row = {"n": written, "load_avg_before": os.getloadavg()}
        row["ingest"] = in_child(run_stage, "ingest", str(home), str(corpus))
    if args.synthetic_copies:
        row["synthetic"] = in_child(synthesize_copies, str(home), args.synthetic_copies)
    row["warm_up"] = in_child(run_stage, "embed", str(home), str(corpus))
    if row["warm_up"]["embedded"] and not args.synthetic_copies:  # keep copies out of the cache
        save_cache(home, args.cache)
    row["load_avg_build"] = os.getloadavg()
    overrides: Result = {"tree_mode": args.tree_mode}
    if args.tree_mode == "fixed":
        overrides["level_sizes"] = scaled_level_sizes(row["ingest"]["papers"])
    row["build"] = in_child(build_stage, str(home), overrides)
    if not args.keep:
        shutil.rmtree(home)
    return row


def breakdown_text(b: Result) -> str:
    """Where a build's wall time went (seconds/calls; the rest is store reads and writes,
    multi-label, stable ids, corrections)."""
    tree = (
        f"tree {b['tree_s']:.1f} (umap {b['umap_s']:.1f}/{b['umap_calls']}, "
        f"hdbscan {b['hdbscan_s']:.1f}/{b['hdbscan_calls']}, "
        f"kmeans {b['kmeans_s']:.1f}/{b['kmeans_calls']})"
    )
    parts = [tree, f"facets {b['facet_fit_s'] + b['facets_s']:.1f}"]
    parts.append(f"labels {b['label_fit_s'] + b['label_s']:.1f}")
    parts.append(f"methods {b['link_registry_s']:.1f}")
    named = b["tree_s"] + b["facet_fit_s"] + b["facets_s"] + b["label_fit_s"] + b["label_s"]
    named += b["link_registry_s"]
    for key, name in (
        ("layout_s", "map"),
        ("multilabel_s", "2nd leaf"),
        ("store_tree_s", "tree write"),
        ("store_vectors_s", "vector write"),
    ):
        if key in b:
            parts.append(f"{name} {b[key]:.1f}")
            named += b[key]
    parts.append(f"rest {b['wall_s'] - named:.1f}")
    return ", ".join(parts) + f"; imports {b['imports_s']:.1f} apart"


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares exponent b of y ≈ a·N^b: 1 is linear, 2 quadratic."""
    if len(xs) < 2:
        return None
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den if den else None


def plot(rows: list[Result], path: Path, title: str) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ns = [r["ingest"]["papers"] for r in rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("wall time (s)", "peak RSS (MiB)"))
    for stage, dash in (("build", "solid"), ("ingest", "dot"), ("warm_up", "dash")):
        name = {"warm_up": "embed warm-up"}.get(stage, stage)
        for col, key in ((1, "wall_s"), (2, "peak_rss_mib")):
            fig.add_trace(
                go.Scatter(
                    x=ns,
                    y=[r[stage][key] for r in rows],
                    name=name,
                    mode="lines+markers",
                    line={"dash": dash},
                    legendgroup=name,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(type="log", title_text="papers (N)")
    fig.update_yaxes(type="log")
    fig.update_layout(title=title)
    fig.write_html(path)  # plotly.js inlined: the file opens offline


def merge(paths: list[Path], out: Path) -> None:
    """One table of slopes and one log-log plot from the rows of several runs."""
    rows = sorted(
        (row for p in paths for row in json.loads(p.read_text())["rows"]),
        key=lambda r: r["ingest"]["papers"],
    )
    ns = [r["ingest"]["papers"] for r in rows]
    exponents = {
        "build_time": slope(ns, [r["build"]["wall_s"] for r in rows]),
        "build_peak_rss": slope(ns, [r["build"]["peak_rss_mib"] for r in rows]),
        "tree_time": slope(ns, [r["build"]["tree_s"] for r in rows]),
    }
    for r in rows:
        b = r["build"]
        print(
            f"N={r['ingest']['papers']}: build {b['wall_s']:.0f} s, {b['peak_rss_mib']:.0f} MiB, "
            f"load {r.get('load_avg_build', r['load_avg_before'])}; {breakdown_text(b)}"
        )
    print("log-log slopes (1 = linear in N):", {k: round(v, 2) for k, v in exponents.items() if v})
    out.write_text(json.dumps({"merged": [str(p) for p in paths], "exponents": exponents,
                               "rows": rows}, indent=2, default=str))  # fmt: skip
    plot(rows, out.with_suffix(".html"), "hierograph build vs N (map tree, merged runs)")
    print(f"wrote {out} and {out.with_suffix('.html')}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument(
        "--sizes",
        default="1000,2000,4000,all",
        help="comma-separated N; 'all' is the whole (repeated) corpus",
    )
    ap.add_argument("--repeat", type=int, default=1, help="corpus × K with perturbed copies")
    ap.add_argument(
        "--tree-mode",
        choices=("map", "density", "fixed"),
        default="map",
        help="map (the default build): one corpus UMAP, k-means leaves, Ward above; "
        "fixed: k-means per level, level sizes 1250/276/40/6 per 10k papers",
    )
    ap.add_argument(
        "--synthetic-copies",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="cache each copy's vector as its original's plus N(0, SIGMA) noise instead of "
        "embedding it (100k papers on a CPU); implies --cached-base",
    )
    ap.add_argument(
        "--cached-base",
        action="store_true",
        help="repeat only the corpus papers whose embedding the cache holds",
    )
    ap.add_argument("--cache", type=Path, default=CACHE, help="shared embedding cache file")
    ap.add_argument("--work-dir", type=Path, help="where the homes go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep each N's home")
    ap.add_argument(
        "--reuse-homes",
        action="store_true",
        help="a home already in --work-dir is not ingested again (a run stopped after ingest)",
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR / "scale.json")
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="no runs: merge the rows of earlier JSON files (e.g. a 100k run and a 1k-16k "
        "run), print the slopes and write --out and its plot",
    )
    args = ap.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hierograph-scale-"))
    if args.cached_base or args.synthetic_copies:
        work.mkdir(parents=True, exist_ok=True)
        base = work / "cached-base.jsonl"
        print(f"base: {cached_base(args.corpus, base, args.cache)} cached papers", flush=True)
        args.corpus = base
    available = count_records(args.corpus) * args.repeat
    sizes = sorted(
        {available if s == "all" else min(int(s), available) for s in args.sizes.split(",")}
    )
    rows: list[Result] = []  # the parent stays light (no numpy, no rich yet): see bench_build
    for n in sizes:
        start = time.perf_counter()
        rows.append(run_size(n, args, work))
        b = rows[-1]["build"]
        print(
            f"N={n}: build {b['wall_s']:.1f} s, {b['peak_rss_mib']} MiB "
            f"({time.perf_counter() - start:.0f} s with ingest and warm-up)",
            flush=True,
        )
    if args.work_dir is None and not args.keep:
        shutil.rmtree(work)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    mode = args.tree_mode + (
        f", corpus ×{args.repeat} (perturbed copies)" if args.repeat > 1 else ""
    )
    title = f"hierograph build vs N ({mode}; keyword labels; warm embedding cache)"
    table = Table(title=title)
    for col in (
        "N papers",
        "ingest s",
        "ingest MiB",
        "warm-up s",
        "embedded",
        "build s",
        "build MiB",
        "papers/s",
        "build breakdown",
        "topics",
        "leaves",
        "depth",
    ):
        table.add_column(col, justify="left" if col == "build breakdown" else "right")
    for r in rows:
        i, w, b = r["ingest"], r["warm_up"], r["build"]
        breakdown = breakdown_text(b)
        table.add_row(
            str(i["papers"]),
            f"{i['wall_s']:.1f}",
            f"{i['peak_rss_mib']:.0f}",
            f"{w['wall_s']:.1f}",
            str(w["embedded"]),
            f"{b['wall_s']:.1f}",
            f"{b['peak_rss_mib']:.0f}",
            f"{i['papers'] / b['wall_s']:.1f}",
            breakdown,
            str(b["topics"]),
            str(b["leaves"]),
            str(b["depth"]),
        )
    console.print(table)
    ns = [r["ingest"]["papers"] for r in rows]
    exponents = {
        "build_time": slope(ns, [r["build"]["wall_s"] for r in rows]),
        "build_peak_rss": slope(ns, [r["build"]["peak_rss_mib"] for r in rows]),
        "tree_time": slope(ns, [r["build"]["tree_s"] for r in rows]),
    }
    shown = {k: "-" if v is None else f"{v:.2f}" for k, v in exponents.items()}
    console.print(f"log-log slopes (1 = linear in N): {shown}")
    embedded = sum(r["build"]["embedded"] for r in rows)
    console.print(
        f"embedding: the timed builds embedded {embedded} papers (warm cache {args.cache}); "
        "embedding throughput is bench/bench_embed.py's figure"
    )
    mach = {**machine(), "torch": rows[-1]["warm_up"]["torch"], "load_avg_end": os.getloadavg()}
    console.print(f"machine: {mach}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "corpus": str(args.corpus),
        "repeat": args.repeat,
        "tree_mode": args.tree_mode,
        "machine": mach,
        "exponents": exponents,
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2, default=str))
    html = args.out.with_suffix(".html")
    plot(rows, html, title)
    console.print(f"wrote {args.out} and {html}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
