"""Incremental placement at scale: 1,000 new papers into a large built tree (a home that
bench_scale.py --keep left, e.g. 100k papers), timed against that home's full build.

    python bench/bench_refresh_scale.py --home /tmp/speed-100k/n100945 \
        --build-json bench/out/scale-100k.json [--new 1000] [--noise 0.01]

The new papers are the home's first corpus records under fresh arXiv ids (copy number past the
corpus's own copies); their vectors are their originals' plus N(0, noise) (embedding them is
bench_embed.py's figure, and a refresh embeds only its new papers). Timed as `hierograph
refresh` does after fetching and embedding: the papers and vectors written to the store, the
placer (hierarchy/place.py: nearest leaf, splits of leaves that grew, the unplaced pool,
relabels), and the paper map's placement (hierarchy/layout.py). Writes a rich table, JSON and
a bar plot (HTML) under bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from corpus_util import OUT_DIR, copy_id


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--home", type=Path, required=True, help="a built home (bench_scale --keep)")
    ap.add_argument("--build-json", type=Path, help="bench_scale's JSON for that home's build")
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--copy", type=int, default=99, help="copy number of the new papers' ids")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "refresh-scale.json")
    args = ap.parse_args()

    import numpy as np

    from hierograph.hierarchy.layout import update_layout
    from hierograph.hierarchy.place import POOL_ID
    from hierograph.ingest.tabular import parse_jsonl
    from hierograph.jobs.components import make_map_layout, make_placer

    result: dict = {"load_avg_before": os.getloadavg(), "home": str(args.home)}
    from hierograph.graph.ids import paper_id
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.settings import load_settings

    settings = load_settings(home=args.home, llm="none")
    # Only records the store holds with a vector: copies that fell to ingest's duplicate
    # check (bench_scale's copy ids) have none to perturb.
    with SqliteStore(settings.db_path()) as store:
        embedded = set(store.get_embeddings())
    records = []
    with (args.home / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if len(records) == args.new:
                break
            record = json.loads(line)
            if paper_id(record["arxiv_id"], record["title"]) in embedded:
                records.append(record)
    del embedded
    originals = [paper_id(r["arxiv_id"], r["title"]) for r in records]
    new_file = Path(tempfile.mkdtemp(prefix="hg-refresh-scale-")) / "new.jsonl"
    with new_file.open("w", encoding="utf-8") as out:
        for r in records:
            new_id = copy_id(r["arxiv_id"], args.copy)
            r = dict(r, title=f"{r['title']} (copy {args.copy})", arxiv_id=new_id)
            r["abs_url"] = f"https://arxiv.org/abs/{new_id}"
            r["pdf_url"] = f"https://arxiv.org/pdf/{new_id}"
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    papers = [p for _, p in parse_jsonl(new_file).papers]
    rng = np.random.default_rng(1)
    with SqliteStore(settings.db_path()) as store:
        result["papers_before"] = store.paper_count()
        base = store.get_embeddings(originals)
        start = time.perf_counter()
        store.upsert_papers(papers)
        vectors = {}
        for paper, original in zip(papers, originals, strict=True):
            v = base[original] + rng.normal(0, args.noise, len(base[original]))
            vectors[paper.id] = (v / np.linalg.norm(v)).astype(np.float32)
        store.set_embeddings(vectors)
        result["write_s"] = time.perf_counter() - start
        start = time.perf_counter()
        report = make_placer(settings, show_progress=False).run(store)
        result["place_s"] = time.perf_counter() - start
        start = time.perf_counter()
        result["mapped"] = update_layout(store, make_map_layout(settings), refit=False).placed
        result["map_s"] = time.perf_counter() - start
        result.update(
            placed=sum(n for t, n in report.placed.items() if t != POOL_ID),
            unplaced=report.pooled,
            leaves_split=report.splits,
            new_topics=len(report.new_topics),
        )
    result["total_s"] = result["write_s"] + result["place_s"] + result["map_s"]
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["load_avg_after"] = os.getloadavg()
    if args.build_json and args.build_json.is_file():
        build = json.loads(args.build_json.read_text())["rows"][-1]["build"]
        result["full_build_s"] = build["wall_s"]
        result["share_of_build"] = result["total_s"] / build["wall_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))

    import plotly.graph_objects as go
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(papers)} new papers into {result['papers_before']:,}")
    for col in ("write s", "place s", "map s", "total s", "full build s", "share", "peak MiB"):
        table.add_column(col, justify="right")
    share = result.get("share_of_build")
    table.add_row(
        f"{result['write_s']:.1f}",
        f"{result['place_s']:.1f}",
        f"{result['map_s']:.1f}",
        f"{result['total_s']:.1f}",
        f"{result.get('full_build_s', float('nan')):.0f}",
        "-" if share is None else f"{share:.2%}",
        str(result["peak_rss_mib"]),
    )
    console = Console(width=140)
    console.print(table)
    console.print(
        f"placed {result['placed']}, unplaced {result['unplaced']}, leaves split "
        f"{result['leaves_split']}, new topics {result['new_topics']}; load "
        f"{result['load_avg_before']} → {result['load_avg_after']}"
    )
    fig = go.Figure(
        go.Bar(
            x=["write", "place", "map", "full build"],
            y=[
                result["write_s"],
                result["place_s"],
                result["map_s"],
                result.get("full_build_s", 0),
            ],
        )
    )
    fig.update_layout(title=table.title, yaxis_title="wall seconds", yaxis_type="log")
    fig.write_html(args.out.with_suffix(".html"))
    console.print(f"wrote {args.out} and {args.out.with_suffix('.html')}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
