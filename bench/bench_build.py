"""Benchmark `hierograph build` stage by stage: ingest, embed (cold), cluster, label+write, and a
warm rebuild. Each stage runs in its own spawned process, so its ru_maxrss is its own peak; stages
hand data on through the store and home directory. Results: a table and bench/out/build.json.

    python bench/bench_build.py [--corpus FILE] [--limit N] [--home DIR] [--cache F --keep-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

CORPUS = Path("/work/shared/corpus/arxiv-ai-2025.jsonl")
OUT = Path(__file__).resolve().parent / "out" / "build.json"
TREE_FILE = "bench-tree.pkl"
Result = dict[str, Any]


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _timed(obj: Any, attr: str, acc: dict[str, list[float]]) -> None:
    """Wrap obj.attr so its total time and call count accumulate in acc[attr]."""
    fn: Callable[..., Any] = getattr(obj, attr)
    acc[attr] = [0.0, 0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[attr][0] += time.perf_counter() - start
            acc[attr][1] += 1

    setattr(obj, attr, wrapper)


def run_stage(stage: str, home: str, corpus: str) -> Result:
    """Runs in a fresh spawned child; returns the stage's figures."""
    rss_at_start = _peak_mib()
    import pickle

    import numpy as np

    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy.build import (
        build_hierarchy,
        make_embedder,
        make_tree_builder,
        to_hierarchy,
    )
    from hierograph.hierarchy.label import KeywordLabeler
    from hierograph.ingest.pipeline import ingest_paths
    from hierograph.settings import load_settings

    settings = load_settings(home=Path(home))
    store = SqliteStore(settings.db_path())
    out: Result = {"stage": stage}
    if stage == "ingest":
        start = time.perf_counter()
        report = ingest_paths(store, [Path(corpus)], settings.rejects_path())
        out["wall_s"] = time.perf_counter() - start
        out.update(papers=store.paper_count(), ingested=report.ingested, merged=report.merged)
        out["rejected"] = report.rejected
    elif stage == "embed":
        import torch

        from hierograph.hierarchy.embed import pick_device

        papers = list(store.iter_papers())
        embedder = make_embedder(settings, show_progress=False)
        start = time.perf_counter()
        vectors = embedder.encode([p.text() for p in papers])  # includes the model load
        out["wall_s"] = time.perf_counter() - start
        start = time.perf_counter()
        store.set_embeddings(dict(zip([p.id for p in papers], vectors, strict=True)))
        out["store_write_s"] = time.perf_counter() - start
        out.update(papers=len(papers), embedded=embedder.embedded_count_)
        out.update(cached=embedder.cached_count_, papers_per_s=len(papers) / out["wall_s"])
        out["torch"] = {"version": torch.__version__, "device": pick_device(settings.device)}
        out["torch"]["threads"] = torch.get_num_threads()
    elif stage == "cluster":
        stored = store.get_embeddings()  # ordered by id, like iter_papers
        vectors = np.stack(list(stored.values()))
        start = time.perf_counter()
        import umap  # noqa: F401 - its import (numba) is timed apart from the fit

        out["umap_import_s"] = time.perf_counter() - start
        builder = make_tree_builder(settings)
        parts: dict[str, list[float]] = {}
        _timed(builder.reducer, "fit_transform", parts)
        _timed(builder.clusterer, "fit_predict", parts)
        kparts: dict[str, list[float]] = {}
        _timed(builder.fallback, "fit_predict", kparts)
        start = time.perf_counter()
        root = builder.fit(vectors).root_
        out["wall_s"] = time.perf_counter() - start
        walk = root.walk()
        out.update(papers=len(vectors), topics=len(walk), leaves=len(root.leaves()))
        out["depth"] = max(level for _, _, level in walk)
        out["umap_s"], out["umap_calls"] = parts["fit_transform"]
        out["hdbscan_s"], out["hdbscan_calls"] = parts["fit_predict"]
        out["kmeans_fallback_s"], out["kmeans_fallback_calls"] = kparts["fit_predict"]
        Path(home, TREE_FILE).write_bytes(pickle.dumps(root))
    elif stage == "label":
        papers = list(store.iter_papers())
        root = pickle.loads(Path(home, TREE_FILE).read_bytes())
        start = time.perf_counter()
        labeler = KeywordLabeler(n_keywords=settings.label_keywords).fit([p.text() for p in papers])
        out["fit_s"] = time.perf_counter() - start
        hierarchy = to_hierarchy(root, [p.id for p in papers], labeler)
        out["label_s"] = time.perf_counter() - start - out["fit_s"]
        mid = time.perf_counter()
        store.replace_hierarchy(hierarchy)
        store.set_meta("last_build", hierarchy.topics[0].built_at)
        out["write_s"] = time.perf_counter() - mid
        out["wall_s"] = time.perf_counter() - start
        out.update(papers=len(papers), topics=len(hierarchy.topics))
        out["assignments"] = len(hierarchy.assignments)
    elif stage == "rebuild":
        before = {t.id for t in store.topics()}
        start = time.perf_counter()
        report = build_hierarchy(store, settings, show_progress=False)
        out["wall_s"] = time.perf_counter() - start
        out.update(vars(report))
        out["same_topic_ids"] = before == {t.id for t in store.topics()}
    store.close()
    out["peak_rss_mib"] = _peak_mib()
    out["rss_at_start_mib"] = rss_at_start
    out["pid"] = os.getpid()
    return out


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    total_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "ram_gib": round(total_kib / 2**20, 1),
        "python": platform.python_version(),
        "nice": os.nice(0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, help="only the first N records")
    ap.add_argument("--home", type=Path, help="HIEROGRAPH home (must hold no store); default tmp")
    ap.add_argument("--cache", type=Path, help="embedding cache file to save to (and reuse)")
    ap.add_argument("--keep-cache", action="store_true", help="seed the home from --cache")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="hierograph-bench-"))
    if (home / "hierograph.sqlite").exists():
        ap.error(f"{home} already holds a store; give a fresh --home")
    home.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus
    if args.limit:
        corpus = home / f"corpus-{args.limit}.jsonl"
        with args.corpus.open(encoding="utf-8") as src:
            lines = [ln for ln in src if ln.strip()][: args.limit]
        corpus.write_text("".join(lines), encoding="utf-8")
    cache_file = home / "embeddings.sqlite"  # Settings.embedding_cache_path()
    if args.keep_cache and args.cache and args.cache.is_file():
        shutil.copyfile(args.cache, cache_file)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    results: list[Result] = []
    ctx = get_context("spawn")
    for stage in ("ingest", "embed", "cluster", "label", "rebuild"):
        console.print(f"[bold]{stage}[/bold] …", end=" ")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            res = pool.submit(run_stage, stage, str(home), str(corpus)).result()
        results.append(res)
        console.print(f"{res['wall_s']:.2f} s, peak {res['peak_rss_mib']} MiB")
        if stage == "embed" and args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache_file, args.cache)
    by = {r["stage"]: r for r in results}
    if by["rebuild"]["embedded"] != 0:
        console.print(f"[red]warm rebuild embedded {by['rebuild']['embedded']} papers[/red]")

    table = Table(title=f"hierograph build — {by['ingest']['papers']} papers from {corpus.name}")
    for col in ("stage", "wall s", "peak RSS MiB", "papers/s", "details"):
        table.add_column(col, justify="left" if col in ("stage", "details") else "right")
    details = {
        "ingest": "{ingested} ingested, {merged} merged, {rejected} rejected",
        "embed": "{embedded} embedded, {cached} cached; store write {store_write_s:.2f} s",
        "cluster": "{topics} topics, {leaves} leaves, depth {depth}; umap {umap_s:.1f} s/"
        "{umap_calls}, hdbscan {hdbscan_s:.1f} s/{hdbscan_calls}, kmeans "
        "{kmeans_fallback_s:.1f} s/{kmeans_fallback_calls}; umap import {umap_import_s:.1f} s",
        "label": "fit {fit_s:.2f} s, label {label_s:.2f} s, write {write_s:.2f} s",
        "rebuild": "{embedded} embedded, {cached} cached, {topics} topics; "
        "same topic ids: {same_topic_ids}",
    }
    for r in results:
        r["papers_per_s"] = r.get("papers_per_s", r["papers"] / r["wall_s"])
        table.add_row(
            r["stage"],
            f"{r['wall_s']:.2f}",
            f"{r['peak_rss_mib']:.0f}",
            f"{r['papers_per_s']:.1f}",
            details[r["stage"]].format(**r),
        )
    console.print(table)

    from hierograph.graph.sqlite_store import SqliteStore

    with SqliteStore(home / "hierograph.sqlite") as store:
        topics = store.topics()
    parents = {t.parent for t in topics}
    leaf_sizes = sorted(t.size for t in topics if t.id not in parents)
    per_level = {
        lvl: sum(t.level == lvl for t in topics) for lvl in sorted({t.level for t in topics})
    }
    top = sorted((t for t in topics if t.level == 1), key=lambda t: -t.size)
    shape = {
        "topics_per_level": per_level,
        "leaf_size_min": leaf_sizes[0],
        "leaf_size_median": leaf_sizes[len(leaf_sizes) // 2],
        "leaf_size_max": leaf_sizes[-1],
        "top_level": [{"label": t.label, "size": t.size} for t in top],
    }
    tops = Table(
        title=f"top-level topics ({len(top)}); topics per level {per_level}; leaf size "
        f"min/median/max {leaf_sizes[0]}/{shape['leaf_size_median']}/{leaf_sizes[-1]}"
    )
    tops.add_column("size", justify="right")
    tops.add_column("label")
    for t in top:
        tops.add_row(str(t.size), t.label)
    console.print(tops)

    from hierograph.settings import load_settings

    settings = load_settings(home=home).model_dump(mode="json", exclude={"neo4j_password"})
    mach = {**machine(), "torch": by["embed"]["torch"]}
    console.print(f"machine: {mach}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "corpus": str(args.corpus),
                "limit": args.limit,
                "home": str(home),
                "machine": mach,
                "settings": settings,
                "stages": results,
                "tree": shape,
            },
            indent=2,
        )
    )
    console.print(f"wrote {args.out}")
    if args.home is None:
        shutil.rmtree(home)


if __name__ == "__main__":
    main()
