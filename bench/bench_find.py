"""Find-rate benchmark: how often the tree finder and flat search put a described paper at
rank 1 and in the top 5, and how many ranking steps they take.

Reads (description, target paper id) pairs, one JSON object a line with keys `description` and
`paper_id` (bench/make_find_set.py writes them), and runs each through the store of the
configured home (HIEROGRAPH_HOME / --home), which must hold a built tree with those papers.

    HIEROGRAPH_HOME=/tmp/bench-home python bench/bench_find.py --pairs find-dev.jsonl --beam 1 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from hierograph.api import queries
from hierograph.api.context import api_context
from hierograph.settings import load_settings


def run(finder: queries.Finder, pairs: list[dict], k: int, label: str) -> dict:
    top1 = top5 = 0
    steps, seconds = [], []
    for pair in track(pairs, description=label, transient=True):
        start = time.perf_counter()
        result = finder.find(pair["description"], k)
        seconds.append(time.perf_counter() - start)
        ids = [pid for pid, _ in result.hits]
        top1 += bool(ids) and ids[0] == pair["paper_id"]
        top5 += pair["paper_id"] in ids[:5]
        steps.append(result.steps)
    n = len(pairs)
    return {
        "finder": label,
        "pairs": n,
        "top1": top1 / n,
        "top5": top5 / n,
        "mean_steps": statistics.mean(steps),
        "ms_per_query": 1000 * statistics.mean(seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--beam", type=int, nargs="+", default=None, help="beams to compare")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args()

    pairs = [json.loads(line) for line in args.pairs.open(encoding="utf-8") if line.strip()]
    settings = load_settings(home=args.home)
    rows = []
    with api_context(settings) as ctx:
        known = [p for p in pairs if ctx.store.get_paper(p["paper_id"]) is not None]
        if len(known) < len(pairs):
            print(f"{len(pairs) - len(known)} pairs name papers not in the store; skipped")
        ctx.tree_index()  # built once, outside the timings
        for beam in args.beam or [settings.finder_beam]:
            ctx.settings = settings.model_copy(update={"finder_beam": beam})
            finder = queries.make_finder(ctx, "tree")
            rows.append(run(finder, known, args.k, f"tree (beam {beam})"))
        rows.append(run(queries.make_finder(ctx, "flat"), known, args.k, "flat hybrid search"))
        papers, leaves = (
            ctx.store.paper_count(),
            sum(1 for t in ctx.tree_index().children.values() if not t),
        )
    table = Table(
        title=f"Find rate on {args.pairs.name}: {len(known)} pairs, "
        f"{papers} papers, {leaves} leaves"
    )
    for col in ("finder", "top-1", "top-5", "mean steps", "ms/query"):
        table.add_column(col, justify="left" if col == "finder" else "right")
    for r in rows:
        table.add_row(
            r["finder"],
            f"{r['top1']:.1%}",
            f"{r['top5']:.1%}",
            f"{r['mean_steps']:.2f}",
            f"{r['ms_per_query']:.0f}",
        )
    Console().print(table)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
