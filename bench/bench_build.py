"""Benchmark `hierograph build` stage by stage: ingest, embed (cold cache), cluster, label+write,
and a warm-cache rebuild. Each stage runs in its own spawned process, so its ru_maxrss is its own
peak; stages hand data on through the store and home directory. Prints a table and writes JSON.

    python bench/bench_build.py [--corpus FILE] [--limit N] [--home DIR] [--cache F [--keep-cache]]
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
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

CORPUS = Path("/work/shared/corpus/arxiv-ai-2025.jsonl")
OUT = Path(__file__).resolve().parent / "out" / "build.json"
STAGES = ("ingest", "embed", "cluster", "label", "rebuild")
TREE_FILE = "bench-tree.pkl"
Result = dict[str, Any]
DETAILS = {
    "ingest": "{ingested} ingested, {merged} merged, {rejected} rejected",
    "embed": "{embedded} embedded, {cached} cached; model load {model_load_s:.1f} s, "
    "encode {encode_s:.1f} s, store write {store_write_s:.2f} s",
    "cluster": "{topics} topics, {leaves} leaves, depth {depth}; umap {umap_s:.1f} s/"
    "{umap_calls} calls, hdbscan {hdbscan_s:.1f} s/{hdbscan_calls}, kmeans fallback "
    "{kmeans_s:.1f} s/{kmeans_calls}; umap import {umap_import_s:.1f} s (not in wall)",
    "label": "fit {fit_s:.2f} s, label {label_s:.2f} s, write {write_s:.2f} s",
    "rebuild": "{embedded} papers embedded, {topics} topics, {leaves} leaves; "
    "same topic ids: {same_topic_ids}; encode calls [texts, embedded]: {encode_calls}",
}


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _timed(obj: Any, attr: str, acc: Result, key: str) -> None:
    """Wrap obj.attr: total seconds and call count accumulate in acc[key_s], acc[key_calls]."""
    fn: Callable[..., Any] = getattr(obj, attr)
    acc[f"{key}_s"], acc[f"{key}_calls"] = 0.0, 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[f"{key}_s"] += time.perf_counter() - start
            acc[f"{key}_calls"] += 1

    setattr(obj, attr, wrapper)


def run_stage(stage: str, home: str, corpus: str) -> Result:
    """Runs in a fresh spawned child; returns the stage's figures (plain types only: the parent
    must not import torch or numpy when it unpickles them, or later children inherit its peak)."""
    out: Result = {"stage": stage, "rss_at_start_mib": _peak_mib()}
    import pickle

    import numpy as np

    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy.label import KeywordLabeler
    from hierograph.ingest.pipeline import ingest_paths
    from hierograph.jobs.build import (
        build_hierarchy,
        make_embedder,
        make_tree_builder,
        to_hierarchy,
    )
    from hierograph.settings import load_settings

    settings = load_settings(home=Path(home))
    store = SqliteStore(settings.db_path())
    start = time.perf_counter()
    if stage == "ingest":
        report = ingest_paths(store, [Path(corpus)], settings.rejects_path())
        out["wall_s"] = time.perf_counter() - start
        out.update(asdict(report), papers=store.paper_count())
    elif stage == "embed":
        import torch

        from hierograph.hierarchy.embed import pick_device

        papers = list(store.iter_papers())
        start = time.perf_counter()
        embedder = make_embedder(settings, show_progress=False)
        embedder._load()  # what encode() does first on a cold cache; timed apart here
        out["model_load_s"] = time.perf_counter() - start
        vectors = embedder.encode([p.text() for p in papers])
        out["wall_s"] = time.perf_counter() - start
        out["encode_s"] = out["wall_s"] - out["model_load_s"]
        mid = time.perf_counter()
        store.set_embeddings(dict(zip([p.id for p in papers], vectors, strict=True)))
        out["store_write_s"] = time.perf_counter() - mid
        out.update(papers=len(papers), embedded=embedder.embedded_count_)
        out.update(cached=embedder.cached_count_, papers_per_s=len(papers) / out["wall_s"])
        out["torch"] = {"version": str(torch.__version__), "threads": torch.get_num_threads()}
        out["torch"]["device"] = pick_device(settings.device)
    elif stage == "cluster":
        vectors = np.stack(list(store.get_embeddings().values()))  # ordered by id, as iter_papers
        import umap  # noqa: F401 - the numba-heavy import is timed apart from the fit

        out["umap_import_s"] = time.perf_counter() - start
        builder: Any = make_tree_builder(settings)
        for part, attr, key in [("reducer", "fit_transform", "umap"),
                                ("clusterer", "fit_predict", "hdbscan"),
                                ("fallback", "fit_predict", "kmeans")]:  # fmt: skip
            if hasattr(builder, part):
                _timed(getattr(builder, part), attr, out, key)
        start = time.perf_counter()
        root = builder.fit(vectors).root_
        out["wall_s"] = time.perf_counter() - start
        walk = root.walk()
        out.update(papers=len(vectors), topics=len(walk), leaves=len(root.leaves()))
        out["depth"] = max(level for _, _, level in walk)
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
    elif stage == "rebuild":
        from hierograph.hierarchy.embed import Embedder

        calls: list[list[int]] = []  # per encode(): texts, embedded (papers first, then others)
        encode = Embedder.encode

        def counted(self: Embedder, texts: Any) -> Any:
            vectors = encode(self, texts)
            calls.append([len(texts), self.embedded_count_])
            return vectors

        Embedder.encode = counted  # type: ignore[method-assign]
        before = {t.id for t in store.topics()}
        start = time.perf_counter()
        report = build_hierarchy(store, settings, show_progress=False)
        out["wall_s"] = time.perf_counter() - start
        out.update({k: v if isinstance(v, int | float | str | None) else str(v)
                    for k, v in asdict(report).items()})  # fmt: skip
        out.update(embedded=calls[0][1], encode_calls=calls)
        out["same_topic_ids"] = before == {t.id for t in store.topics()}
    store.close()
    out["peak_rss_mib"] = _peak_mib()
    return out


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpus = [ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")]
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "cpu_model": cpus[0] if cpus else platform.processor(),
            "ram_gib": round(ram_kib / 2**20, 1), "python": platform.python_version(),
            "nice": os.nice(0)}  # fmt: skip


def tree_shape(home: Path) -> Result:
    from hierograph.graph.sqlite_store import SqliteStore

    with SqliteStore(home / "hierograph.sqlite") as store:
        topics = store.topics()
    parents = {t.parent for t in topics}
    leaves = sorted(t.size for t in topics if t.id not in parents)
    top = sorted((t for t in topics if t.level == 1), key=lambda t: -t.size)
    return {"topics_per_level": dict(sorted(Counter(t.level for t in topics).items())),
            "leaf_size_min_median_max": [leaves[0], leaves[len(leaves) // 2], leaves[-1]],
            "top_level": [{"label": t.label, "size": t.size} for t in top]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, help="only the first N records")
    ap.add_argument("--home", type=Path, help="fresh HIEROGRAPH home (kept); default: temp dir")
    ap.add_argument("--cache", type=Path, help="save the embedding cache to this file")
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

    results: list[Result] = []  # the parent stays light (no rich yet): children inherit its peak
    for stage in STAGES:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(run_stage, stage, str(home), str(corpus)).result())
        print(f"{stage}: {results[-1]['wall_s']:.2f} s, {results[-1]['peak_rss_mib']} MiB")
        if stage == "embed" and args.cache:
            shutil.copyfile(cache_file, args.cache)
    by = {r["stage"]: r for r in results}

    from rich.console import Console
    from rich.table import Table

    from hierograph.settings import load_settings

    console = Console(width=160)
    table = Table(title=f"hierograph build — {by['ingest']['papers']} papers from {corpus.name}")
    for col in ("stage", "wall s", "peak RSS MiB", "papers/s", "details"):
        table.add_column(col, justify="left" if col in ("stage", "details") else "right")
    for r in results:
        r.setdefault("papers_per_s", r["papers"] / r["wall_s"])
        r = {"umap_s": 0.0, "umap_calls": 0, "hdbscan_s": 0.0, "hdbscan_calls": 0,
             "kmeans_s": 0.0, "kmeans_calls": 0, **r}  # fmt: skip
        table.add_row(r["stage"], f"{r['wall_s']:.2f}", f"{r['peak_rss_mib']:.0f}",
                      f"{r['papers_per_s']:.1f}", DETAILS[r["stage"]].format(**r))  # fmt: skip
    console.print(table)
    if by["rebuild"]["embedded"] != 0:
        console.print(f"[red]warm rebuild embedded {by['rebuild']['embedded']} papers[/red]")
    shape = tree_shape(home)
    console.print(f"topics per level {shape['topics_per_level']}; leaf size min/median/max "
                  f"{shape['leaf_size_min_median_max']}")  # fmt: skip
    tops = Table(
        title="top-level topics (size counts second-leaf assignments where the build adds them)"
    )
    tops.add_column("size", justify="right")
    tops.add_column("label")
    for t in shape["top_level"]:
        tops.add_row(str(t["size"]), t["label"])
    console.print(tops)
    mach = {**machine(), "torch": by["embed"]["torch"]}
    console.print(f"machine: {mach}")
    settings = load_settings(home=home).model_dump(mode="json", exclude={"neo4j_password"})
    report = {"corpus": str(args.corpus), "limit": args.limit, "home": str(home), "machine": mach,
              "settings": settings, "stages": results, "tree": shape}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    console.print(f"wrote {args.out}")
    if args.home is None:
        shutil.rmtree(home)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
