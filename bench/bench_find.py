"""Find-rate benchmark: how often each finder strategy puts a described paper at rank 1 and in
the top 5, on every find set given (bench/data/find-keyword.jsonl: keyword descriptions from
bench/make_find_set.py; bench/data/find-realistic.jsonl: from-memory descriptions by a local
instruct model, bench/make_realistic_find_set.py).

Strategies: hybrid (the default: hybrid candidates re-ranked with the tree, settings' blend and
fusion; the other fusion, z-score or rank, is reported too),
tree (top-down route, beam from settings; centroid routing and exemplar routing) and flat.
The realistic set is split in two halves by a hash of the paper id: `--tune` grid-searches the
hybrid blend on the keyword set and the *tune* half only, and the table reports the other,
*held-out* half separately, so the tuned figure is not judged on the data that chose it.

Writes bench/out/find.json and bench/out/find.html (plotly) and prints a rich table.

    HIEROGRAPH_HOME=/tmp/bench-home python bench/bench_find.py \\
        --pairs bench/data/find-keyword.jsonl bench/data/find-realistic.jsonl [--tune]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from hierograph.api import queries
from hierograph.api.context import ApiContext, api_context
from hierograph.api.finder import EmbeddingRanker, ExemplarRanker, TreeFinder
from hierograph.api.hybrid import Blend, HybridFinder
from hierograph.settings import load_settings

OUT = Path(__file__).parent / "out"
GRID = {
    "cosine": [0.0, 1.0, 2.0, 4.0, 8.0],
    "topic": [0.0, 0.5, 1.0, 2.0, 4.0],
    "parent": [0.0, 0.5, 1.0, 2.0],
}


def held_out(paper_id: str) -> bool:
    """The half of a set kept out of tuning: a fixed hash of the paper id."""
    return hashlib.sha1(paper_id.encode()).digest()[0] % 2 == 1


def run(finder: queries.Finder, pairs: list[dict], k: int, label: str) -> list[dict]:
    """One record per pair: whether the target came first / in the top 5, steps, seconds."""
    out = []
    for pair in track(pairs, description=label, transient=True):
        start = time.perf_counter()
        result = finder.find(pair["description"], k)
        seconds = time.perf_counter() - start
        ids = [pid for pid, _ in result.hits]
        out.append(
            {
                "paper_id": pair["paper_id"],
                "top1": bool(ids) and ids[0] == pair["paper_id"],
                "top5": pair["paper_id"] in ids[:5],
                "steps": result.steps,
                "seconds": seconds,
            }
        )
    return out


def summary(label: str, records: list[dict]) -> dict:
    n = max(len(records), 1)
    return {
        "finder": label,
        "pairs": len(records),
        "top1": sum(r["top1"] for r in records) / n,
        "top5": sum(r["top5"] for r in records) / n,
        "mean_steps": statistics.mean(r["steps"] for r in records) if records else 0.0,
        "ms_per_query": 1000 * statistics.mean(r["seconds"] for r in records) if records else 0.0,
    }


def rates(found: list, pairs: list[dict], blend: Blend) -> tuple[float, float]:
    """(top-1, top-5) of precomputed candidates under a blend."""
    t1 = t5 = 0
    for cands, pair in zip(found, pairs, strict=True):
        ids = [pid for pid, _ in cands.rank(blend)[:5]]
        t1 += bool(ids) and ids[0] == pair["paper_id"]
        t5 += pair["paper_id"] in ids
    n = max(len(pairs), 1)
    return t1 / n, t5 / n


def tune(finder: HybridFinder, sets: dict[str, list[dict]]) -> tuple[Blend, list[dict]]:
    """Grid search of the blend; the objective is the mean of top-1 and top-5 averaged over
    the given sets (each set counts the same, whatever its size)."""
    found = {
        name: [finder.candidates_for(p["description"]) for p in track(pairs, description=name)]
        for name, pairs in sets.items()
    }
    trials = []
    for cos, top, par in itertools.product(GRID["cosine"], GRID["topic"], GRID["parent"]):
        blend = Blend(1.0, cos, top, par)
        per_set = {name: rates(found[name], pairs, blend) for name, pairs in sets.items()}
        objective = statistics.mean((a + b) / 2 for a, b in per_set.values())
        trials.append({"blend": blend.__dict__, "objective": objective, "sets": per_set})
    trials.sort(key=lambda t: -t["objective"])
    return Blend(**trials[0]["blend"]), trials


def strategies(ctx: ApiContext, blend: Blend | None) -> list[tuple[str, queries.Finder]]:
    s = ctx.settings
    hybrid = queries.make_finder(ctx, "hybrid")
    out: list[tuple[str, queries.Finder]] = [("hybrid (default)", hybrid)]
    if blend is not None and isinstance(hybrid, HybridFinder) and blend != hybrid.blend:
        tuned = HybridFinder(
            ctx.tree_index,
            ctx.embed,
            ctx.text_index,
            blend,
            candidates=hybrid.candidates,
            fusion=hybrid.fusion,
            zscore_dense_weight=hybrid.zscore_dense_weight,
            rrf_k=hybrid.rrf_k,
            dense_weight=hybrid.dense_weight,
            centroid_weight=hybrid.centroid_weight,
        )
        out.append((f"hybrid (tuned {blend.cosine}/{blend.topic}/{blend.parent})", tuned))
    if isinstance(hybrid, HybridFinder):  # the other fusion, side by side
        other = "rrf" if hybrid.fusion == "zscore" else "zscore"
        out.append((f"hybrid ({other} fusion)", dataclasses.replace(hybrid, fusion=other)))
    centroid = EmbeddingRanker(s.finder_centroid_weight)
    exemplar = ExemplarRanker(fallback=centroid)
    out.append(
        (
            f"tree centroid (beam {s.finder_beam})",
            TreeFinder(ctx.tree_index, ctx.embed, centroid, s.finder_beam),
        )
    )
    out.append(
        (
            f"tree exemplar (beam {s.finder_beam})",
            TreeFinder(ctx.tree_index, ctx.embed, exemplar, s.finder_beam),
        )
    )
    out.append(("flat", queries.make_finder(ctx, "flat")))
    return out


def plot(rows: list[dict], path: Path) -> None:
    """Top-1 and top-5 per strategy and set (plotly HTML)."""
    import plotly.graph_objects as go

    labels = [f"{r['set']}<br>{r['finder']}" for r in rows]
    fig = go.Figure(
        [
            go.Bar(name=m, x=labels, y=[r[m.replace("-", "")] for r in rows])
            for m in ("top-1", "top-5")
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="share of pairs", title="Find rate")
    fig.write_html(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pairs", type=Path, nargs="+", required=True)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--tune", action="store_true", help="grid-search the hybrid blend first")
    ap.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    ap.add_argument("--only", nargs="+", default=None, help="strategies whose label starts so")
    args = ap.parse_args()

    settings = load_settings(home=args.home)
    load_before = os.getloadavg()
    rows: list[dict] = []
    with api_context(settings) as ctx:
        sets: dict[str, list[dict]] = {}
        for path in args.pairs:
            pairs = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
            known = [p for p in pairs if ctx.store.get_paper(p["paper_id"]) is not None]
            known = known[: args.limit] if args.limit else known
            if len(known) < len(pairs):
                print(f"{path.name}: {len(pairs) - len(known)} pairs not in the store; skipped")
            sets[path.stem] = known
        ctx.tree_index()  # built once, outside the timings
        realistic = next((n for n in sets if "realistic" in n), None)
        report_sets = dict(sets)
        if realistic:
            report_sets[f"{realistic} (tune half)"] = [
                p for p in sets[realistic] if not held_out(p["paper_id"])
            ]
            report_sets[f"{realistic} (held-out half)"] = [
                p for p in sets[realistic] if held_out(p["paper_id"])
            ]
        blend, trials = None, []
        if args.tune:
            tune_sets = {n: ps for n, ps in sets.items() if n != realistic}
            if realistic:
                tune_sets["realistic tune half"] = report_sets[f"{realistic} (tune half)"]
            hybrid = queries.make_finder(ctx, "hybrid")
            assert isinstance(hybrid, HybridFinder)
            blend, trials = tune(hybrid, tune_sets)
            print("best blends:", json.dumps(trials[:5], indent=None))
        for label, finder in strategies(ctx, blend):
            if args.only and not any(label.startswith(o) for o in args.only):
                continue
            for name, pairs in sets.items():
                records = run(finder, pairs, args.k, f"{label} on {name}")
                rows.append({"set": name, **summary(label, records)})
                if name == realistic:  # the halves, from the same answers
                    for half in ("tune half", "held-out half"):
                        ids = {p["paper_id"] for p in report_sets[f"{name} ({half})"]}
                        part = [r for r in records if r["paper_id"] in ids]
                        rows.append({"set": f"{name} ({half})", **summary(label, part)})
        papers = ctx.store.paper_count()
        leaves = sum(1 for t in ctx.tree_index().children.values() if not t)
    load = os.getloadavg()
    table = Table(
        title=f"Find rate: {papers} papers, {leaves} leaves "
        f"(load average {load_before[0]:.1f} before, {load[0]:.1f} after)"
    )
    for col in ("set", "finder", "pairs", "top-1", "top-5", "steps", "ms/query"):
        table.add_column(col, justify="left" if col in ("set", "finder") else "right")
    for r in rows:
        table.add_row(
            r["set"],
            r["finder"],
            str(r["pairs"]),
            f"{r['top1']:.1%}",
            f"{r['top5']:.1%}",
            f"{r['mean_steps']:.2f}",
            f"{r['ms_per_query']:.0f}",
        )
    Console().print(table)
    OUT.mkdir(exist_ok=True)
    result = {
        "load_average_before": load_before,
        "load_average_after": load,
        "papers": papers,
        "leaves": leaves,
        "default_blend": queries.default_blend_of(settings).__dict__,
        "tuned_blend": blend.__dict__ if blend else None,
        "top_trials": trials[:20],
        "rows": rows,
    }
    (OUT / "find.json").write_text(json.dumps(result, indent=1))
    plot(rows, OUT / "find.html")
    print(f"wrote {OUT / 'find.json'} and {OUT / 'find.html'}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
