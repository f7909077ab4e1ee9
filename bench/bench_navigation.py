"""Navigation score (Science Hierarchography's): a navigator given a paper's title and the first
300 characters of its abstract picks one child per level from the root, with no backtracking;
it is right when it ends in a leaf the paper sits in. Routers compared:

- centroid: the tree finder's embedding ranker (topic centroid of paper embeddings + label);
- exemplar: each child scored by its best-matching papers (ExemplarRanker), leave-one-out: the
  routed paper is not an exemplar, else it would point to its own leaf;
- exemplar (paper included): the same with the paper in, as the tree finder meets a paper that
  is in the corpus (an upper bound, not a fair navigation score).

- llm: with `--llm-n N` and an LLM configured (HIEROGRAPH_LLM, HIEROGRAPH_LLM_API_BASE, e.g.
  the local server of `make bench-llm`), the tree finder's LLM ranker (exemplar routing,
  leave-one-out, as its fallback) on the sample's first N papers, beside exemplar routing
  alone on the same N.

Writes bench/out/navigation.json and bench/out/navigation.html and prints a rich table.

    HIEROGRAPH_HOME=/tmp/bench-home python bench/bench_navigation.py --n 500
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from hierograph.api.context import api_context
from hierograph.api.finder import (
    ChildRanker,
    EmbeddingRanker,
    ExemplarRanker,
    LlmRanker,
    TreeFinder,
)
from hierograph.settings import load_settings

OUT = Path(__file__).parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--n", type=int, default=500, help="papers routed (a fixed-seed sample)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--exemplars", type=int, nargs="+", default=[5], help="top papers per child")
    ap.add_argument("--llm-n", type=int, default=0, help="papers routed by the configured LLM")
    args = ap.parse_args()
    settings = load_settings(home=args.home)
    load_before = os.getloadavg()
    rows = []
    with api_context(settings) as ctx:
        index = ctx.tree_index()
        ids = sorted(p for p in index.paper_topics if p in index.paper_vec)
        sample = random.Random(args.seed).sample(ids, min(args.n, len(ids)))
        queries = {}
        for pid in sample:
            paper = ctx.store.get_paper(pid)
            assert paper is not None
            queries[pid] = f"{paper.title}. {paper.abstract[:300]}"
        depth = max(len(index.path(t)) for t in index.topics) - 1
        centroid = EmbeddingRanker(settings.finder_centroid_weight)
        routers: list[tuple[str, ChildRanker, bool]] = [("centroid", centroid, False)]
        for m in args.exemplars:
            routers.append((f"exemplar top-{m} (leave-one-out)", ExemplarRanker(m), True))
            routers.append((f"exemplar top-{m} (paper included)", ExemplarRanker(m), False))
        runs: list[tuple[str, ChildRanker, bool, list[str]]] = [(*r, sample) for r in routers]
        if args.llm_n:
            if ctx.llm is None:
                raise SystemExit("--llm-n needs an LLM: set HIEROGRAPH_LLM (and _API_BASE)")
            few = sample[: args.llm_n]
            runs.append(("exemplar top-5 (leave-one-out)", ExemplarRanker(5), True, few))
            llm = LlmRanker(ctx.llm, ExemplarRanker(5))
            runs.append((f"LLM {settings.llm} (exemplar fallback)", llm, True, few))
        for label, ranker, leave_out, papers in runs:
            finder = TreeFinder(ctx.tree_index, ctx.embed, ranker, beam=1)
            right, start = 0, time.perf_counter()
            for pid in track(papers, description=label, transient=True):
                exemplar = ranker.fallback if isinstance(ranker, LlmRanker) else ranker
                if isinstance(exemplar, ExemplarRanker):
                    exemplar.exclude = {pid} if leave_out else set()
                result = finder.find(queries[pid], 1)
                right += bool(result.path) and result.path[-1].id in index.paper_topics[pid]
            seconds = time.perf_counter() - start
            row = {
                "router": label,
                "papers": len(papers),
                "score": right / len(papers),
                "ms_per_paper": 1000 * seconds / len(papers),
            }
            if isinstance(ranker, LlmRanker):
                row["fallbacks"] = ranker.fallbacks_
            rows.append(row)
        leaves = sum(1 for t in index.children.values() if not t)
    load = os.getloadavg()
    table = Table(
        title=f"Navigation score: {len(sample)} papers, {leaves} leaves, depth {depth} "
        f"(load average {load_before[0]:.1f} before, {load[0]:.1f} after)"
    )
    for col in ("router", "papers", "score", "ms/paper"):
        table.add_column(col, justify="left" if col == "router" else "right")
    for r in rows:
        table.add_row(
            r["router"], str(r["papers"]), f"{r['score']:.1%}", f"{r['ms_per_paper']:.0f}"
        )
    Console().print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "navigation.json").write_text(
        json.dumps(
            {
                "load_average_before": load_before,
                "load_average_after": load,
                "leaves": leaves,
                "depth": depth,
                "rows": rows,
            },
            indent=1,
        )
    )
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=[r["router"] for r in rows], y=[r["score"] for r in rows])])
    fig.update_layout(yaxis_title="share ending in the paper's own leaf", title="Navigation score")
    fig.write_html(OUT / "navigation.html")
    print(f"wrote {OUT / 'navigation.json'} and {OUT / 'navigation.html'}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
