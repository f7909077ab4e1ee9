"""Embedding throughput: Hierograph's pipeline (hashing, cache lookups and writes, length
sorting, chunking, the on-disk matrix included) against a bare `SentenceTransformer.encode` on
the same texts, model and device, in one run. The bare call is the limit; the ratio is the
figure. Prints a table, saves the figures and the settings used as JSON and a bar plot as HTML.

    python bench/bench_embed.py [--corpus FILE.jsonl[.gz]] [--limit N] [--model NAME_OR_PATH]
        [--rounds R] [--chunk-size N] [--processes N] [--precision auto|fp32|fp16|bf16]

Runs alternate bare, pipeline, bare, ... (R pipeline runs, R + 1 bare runs), each pipeline run
with a fresh temporary cache so it really embeds; the best of each side is kept, so load from
other processes on a shared machine (the clock, the allocator) favours neither side.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hierograph.hierarchy.embed import pick_device, resolve_model, resolve_precision
from hierograph.ingest.records import paper_from_fields
from hierograph.jobs.components import make_embedder
from hierograph.settings import load_settings

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "arxiv-ai-2025.jsonl"


def load_texts(path: Path, limit: int | None) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    texts = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            texts.append(paper_from_fields(json.loads(line), "bench").text())
            if limit and len(texts) >= limit:
                break
    return texts


def save_plot(runs: list[dict], title: str, path: Path) -> None:
    import plotly.graph_objects as go

    colours = {"bare": "#888888", "pipeline": "#1f77b4"}
    fig = go.Figure(
        go.Bar(
            x=[f"{r['run']} {r['round']}" for r in runs],
            y=[r["papers_per_s"] for r in runs],
            marker_color=[colours[r["run"]] for r in runs],
            text=[f"{r['papers_per_s']:.1f}" for r in runs],
        )
    )
    fig.update_layout(title=title, yaxis_title="papers / s", xaxis_title="run, in order")
    fig.write_html(path)  # plotly.js inlined: the file opens offline


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default=None, help="default: the embedding_model setting")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--processes", type=int, default=None, help="1 = off, 0 = auto")
    parser.add_argument("--precision", default=None, choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument(
        "--memmap-min-rows",
        type=int,
        default=0,
        help="0 (default here): the pipeline always streams to the on-disk matrix",
    )
    parser.add_argument("--rounds", type=int, default=1, help="pipeline runs (bare: one more)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/embed.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            home=Path(tmp) / "settings-only",
            embedding_model=args.model,
            embedding_batch_size=args.batch_size,
            embedding_chunk_size=args.chunk_size,
            embedding_processes=args.processes,
            embedding_precision=args.precision,
            embedding_memmap_min_rows=args.memmap_min_rows,
        )
    texts = load_texts(args.corpus, args.limit)
    device = pick_device(settings.device)
    load_before = os.getloadavg()

    # The bare side is what a user would write: the model as loaded, one encode call.
    bare_model = SentenceTransformer(resolve_model(settings.embedding_model), device=device)
    bare_model.encode(texts[:64], batch_size=settings.embedding_batch_size)  # warm-up

    pipeline_model = None
    runs: list[dict] = []
    pipeline_info: dict = {}

    def bare_run(round_no: int) -> None:
        cpu, start = time.process_time(), time.perf_counter()
        bare_model.encode(
            texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True
        )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        runs.append({"run": "bare", "round": round_no, "seconds": seconds, "cpu_s": cpu})

    def pipeline_run(round_no: int) -> None:
        nonlocal pipeline_model
        with tempfile.TemporaryDirectory() as home:
            embedder = make_embedder(settings, show_progress=False)
            embedder.cache_path = Path(home) / "embeddings.sqlite"  # cold: really embeds
            if pipeline_model is None:
                pipeline_model = embedder._load()
                pipeline_model.encode(texts[:64], batch_size=settings.embedding_batch_size)
            # Same loaded model across rounds: only the pipeline's own work is timed.
            embedder._model = pipeline_model
            cpu, start = time.process_time(), time.perf_counter()
            vectors = embedder.encode(texts)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert embedder.embedded_count_ == len(set(texts)), "the cold run must embed"
            start = time.perf_counter()
            embedder.encode(texts)
            warm = time.perf_counter() - start
            assert embedder.embedded_count_ == 0, "the warm run must embed nothing"
            pipeline_info.update(
                on_disk=embedder.memmap_path_ is not None,
                shape=list(vectors.shape),
                batch_size_used=embedder.batch_size_,
                processes_used=embedder.processes_used_,
            )
            del vectors
        runs.append(
            {"run": "pipeline", "round": round_no, "seconds": seconds, "cpu_s": cpu, "warm_s": warm}
        )

    for round_no in range(1, args.rounds + 1):
        bare_run(round_no)
        pipeline_run(round_no)
    bare_run(args.rounds + 1)
    load_after = os.getloadavg()

    for r in runs:
        r["papers_per_s"] = len(texts) / r["seconds"]
    bare = min(r["seconds"] for r in runs if r["run"] == "bare")
    pipeline = min(r["seconds"] for r in runs if r["run"] == "pipeline")
    warm = min(r["warm_s"] for r in runs if r["run"] == "pipeline")
    # CPU seconds of this process (all its threads): on a machine shared with other jobs they
    # move far less with the load than wall time does. Worker processes are not counted.
    bare_cpu = min(r["cpu_s"] for r in runs if r["run"] == "bare")
    pipeline_cpu = min(r["cpu_s"] for r in runs if r["run"] == "pipeline")
    result = {
        "texts": len(texts),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg_before": load_before,
        "load_avg_after": load_after,
        "settings": {
            "embedding_model": settings.embedding_model,
            "embedding_batch_size": settings.embedding_batch_size,
            "embedding_precision": settings.embedding_precision,
            "precision_used": resolve_precision(settings.embedding_precision, device),
            "embedding_auto_batch": settings.embedding_auto_batch,
            "embedding_max_batch_size": settings.embedding_max_batch_size,
            "embedding_processes": settings.embedding_processes,
            "embedding_chunk_size": settings.embedding_chunk_size,
            "embedding_memmap_min_rows": settings.embedding_memmap_min_rows,
            "rounds": args.rounds,
            **pipeline_info,
        },
        "bare_papers_per_s": len(texts) / bare,
        "pipeline_papers_per_s": len(texts) / pipeline,
        "ratio": bare / pipeline,
        # Worker processes' CPU time is not this process's: no CPU figure for a pool.
        "cpu_time_ratio": bare_cpu / pipeline_cpu if pipeline_info["processes_used"] == 1 else None,
        "cached_rerun_s": warm,
        "runs": runs,
    }
    title = f"Embedding {len(texts)} abstracts on {device}"
    table = Table(title=title)
    for column in ("run", "seconds", "CPU seconds", "papers/s"):
        table.add_column(column, justify="right")
    for r in runs:
        label = "bare SentenceTransformer.encode" if r["run"] == "bare" else "Hierograph pipeline"
        table.add_row(
            f"{label} #{r['round']}",
            f"{r['seconds']:.2f}",
            f"{r['cpu_s']:.2f}",
            f"{r['papers_per_s']:.1f}",
        )
    table.add_row("Hierograph pipeline (warm cache)", f"{warm:.2f}", "-", "-")
    console = Console()
    console.print(table)
    console.print(
        f"pipeline / bare throughput (best of each): {result['ratio']:.1%} wall, "
        + (f"{result['cpu_time_ratio']:.1%}" if result["cpu_time_ratio"] else "n/a")
        + f" CPU time; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; settings "
        + json.dumps(result["settings"])
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot = args.out.with_suffix(".html")
    save_plot(runs, f"{title}: pipeline / bare = {result['ratio']:.1%}", plot)
    console.print(f"saved {args.out} and {plot}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
