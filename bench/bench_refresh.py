"""Incremental placement against a full rebuild: place the next 1,000 papers of the shared
corpus into a tree built from its first 8,000, and time that against rebuilding the tree over
all 9,000. Both sides use the same precomputed embeddings (one embedding pass, cached), so the
comparison is of tree work only: placement (nearest leaf, local re-clustering, relabeling,
writes) against clustering, labeling and writing everything.

    nice -n 10 python bench/bench_refresh.py [--corpus FILE] [--base 8000] [--new 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from hierograph.graph.sqlite_store import SqliteStore
from hierograph.hierarchy.place import POOL_ID
from hierograph.ingest.pipeline import merge_duplicates
from hierograph.ingest.tabular import parse_jsonl
from hierograph.jobs.build import build_hierarchy
from hierograph.jobs.components import make_embedder, make_placer
from hierograph.settings import load_settings

CORPUS = Path("/work/shared/corpus/arxiv-ai-2025.jsonl")
OUT = Path(__file__).resolve().parent / "out" / "refresh.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--base", type=int, default=8000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "hg-bench-emb.sqlite"
    )
    args = parser.parse_args()

    papers, _ = merge_duplicates([p for _, p in parse_jsonl(args.corpus).papers])
    papers = papers[: args.base + args.new]
    base, new = papers[: args.base], papers[args.base :]
    work = Path(tempfile.mkdtemp(prefix="hg-bench-refresh-"))
    result: dict[str, object] = {
        "corpus": str(args.corpus),
        "base_papers": len(base),
        "new_papers": len(new),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }

    # One embedding pass over all papers; both sides read it from the cache.
    settings = load_settings(home=work / "embed")
    settings.home.mkdir(parents=True)
    embedder = make_embedder(settings, show_progress=False)
    embedder.cache_path = args.cache  # kept across benchmark runs
    start = time.perf_counter()
    vectors = dict(
        zip([p.id for p in papers], embedder.encode([p.text() for p in papers]), strict=True)
    )
    result["embedding_pass_s"] = round(time.perf_counter() - start, 1)
    result["embedded_now"] = embedder.embedded_count_

    def home(name: str):  # noqa: ANN202
        s = load_settings(home=work / name)
        s.home.mkdir(parents=True)
        s.embedding_cache_path().write_bytes(args.cache.read_bytes())
        return s

    # The tree over the first 8,000 (setup, timed for reference).
    inc = home("incremental")
    with SqliteStore(inc.db_path()) as store:
        store.upsert_papers(base)
        store.set_embeddings({p.id: vectors[p.id] for p in base})
        start = time.perf_counter()
        build_hierarchy(store, inc, show_progress=False)
        result["build_base_s"] = round(time.perf_counter() - start, 1)
        old_ids = {t.id for t in store.topics()}
        result["base_topics"] = len(old_ids)

        # The measured step: the new papers arrive (embedded) and are placed.
        store.upsert_papers(new)
        store.set_embeddings({p.id: vectors[p.id] for p in new})
        start = time.perf_counter()
        report = make_placer(inc, show_progress=False).run(store)
        result["place_s"] = round(time.perf_counter() - start, 1)
        topics = {t.id for t in store.topics()}
        result.update(
            placed=sum(n for t, n in report.placed.items() if t != POOL_ID),
            unplaced=report.pooled,
            leaves_split=report.splits,
            new_topics=len(report.new_topics),
            kept_every_topic_id=old_ids <= topics,
        )

    # The alternative: rebuild everything over all 9,000.
    full = home("full")
    with SqliteStore(full.db_path()) as store:
        store.upsert_papers(papers)
        store.set_embeddings(vectors)
        start = time.perf_counter()
        build_hierarchy(store, full, show_progress=False)
        result["rebuild_all_s"] = round(time.perf_counter() - start, 1)
        result["rebuild_topics"] = len(store.topics())
    result["speedup"] = round(result["rebuild_all_s"] / max(result["place_s"], 0.1), 1)  # type: ignore[operator]

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(
        f"embeddings: one pass over {len(papers)} papers, {result['embedding_pass_s']} s "
        f"({result['embedded_now']} computed, the rest cached), shared by both sides\n"
        f"tree over the first {len(base)}: {result['base_topics']} topics "
        f"(built in {result['build_base_s']} s)\n"
        f"place {len(new)} new papers: {result['place_s']} s — {result['placed']} placed, "
        f"{result['unplaced']} unplaced, {result['leaves_split']} leaves re-clustered, "
        f"{result['new_topics']} new topics, every old topic id kept: "
        f"{result['kept_every_topic_id']}\n"
        f"full rebuild of all {len(papers)}: {result['rebuild_all_s']} s "
        f"({result['rebuild_topics']} topics)\n"
        f"placement is {result['speedup']}x faster than a rebuild; details in {OUT}"
    )


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
