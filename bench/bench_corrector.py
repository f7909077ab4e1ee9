"""Corrector benchmark: assignment F1 before and after a simulated reviewer and the corrector,
on the development gold sets, at several shares of papers reviewed, in two reviewing orders
(random; the review queue's least likely rightly placed first).

Each set needs a home where its papers are ingested and built:

    for s in an-dev reward-hacking; do
      HIEROGRAPH_HOME=/tmp/bench-$s hierograph ingest ../shared/gold/$s.papers.jsonl
      HIEROGRAPH_HOME=/tmp/bench-$s hierograph build --quiet
    done
    python bench/bench_corrector.py --set an-dev=/tmp/bench-an-dev \\
        --set reward-hacking=/tmp/bench-reward-hacking

Writes bench/out/corrector.json, prints a table, and plots F1 gain against reviewed papers
(bench/out/corrector.png, when matplotlib is installed). The store of each home is left as it is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hierograph.curation.evaluate import evaluate_corrector
from hierograph.graph.factory import open_store
from hierograph.settings import load_settings

GOLD = Path(__file__).resolve().parents[1].parent / "shared" / "gold"
OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--set", action="append", required=True, help="NAME=HOME (gold: NAME.gold.jsonl)"
    )
    ap.add_argument("--gold-dir", type=Path, default=GOLD)
    ap.add_argument("--share", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--order", nargs="+", default=["random", "queue"])
    ap.add_argument("--k", type=int, nargs="+", default=[10], help="corrector_k values")
    ap.add_argument(
        "--seed", type=int, nargs="+", default=[0, 1, 2], help="random orders (queue: first only)"
    )
    args = ap.parse_args()

    results = []
    for spec in args.set:
        name, home = spec.split("=", 1)
        for k in args.k:
            for n, seed in enumerate(args.seed):
                orders = args.order if n == 0 else [o for o in args.order if o == "random"]
                if not orders:
                    continue
                settings = load_settings(home=Path(home), corrector_k=k, seed=seed)
                start = time.perf_counter()
                with open_store(settings) as store:
                    gold = args.gold_dir / f"{name}.gold.jsonl"
                    report = evaluate_corrector(store, settings, gold, args.share, orders)
                results.append(
                    {
                        "set": name,
                        "k": k,
                        "seed": seed,
                        "seconds": round(time.perf_counter() - start, 1),
                        "load_average": os.getloadavg()[0],
                        **report.model_dump(),
                    }
                )
                print(f"{name} k={k} seed={seed}: {results[-1]['seconds']} s", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "corrector.json").write_text(json.dumps(results, indent=1))
    show(results)
    summary(results)
    plot(results)


def summary(results: list[dict]) -> None:
    """Mean ± sd over seeds of each (set, order, share): F1 gain on all and unreviewed papers."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        for run in r["runs"]:
            groups.setdefault((r["set"], r["k"], run["order"], run["share"]), []).append(run)
    table = Table(title="mean ± sd over seeds")
    for col in ("set", "order", "share", "seeds", "F1 all before", "gain all", "gain unrev."):
        table.add_column(col)
    for (name, _, order, share), runs in groups.items():
        table.add_row(
            name,
            order,
            f"{share:.0%}",
            str(len(runs)),
            f"{statistics.mean(r['before_all']['f1'] for r in runs):.3f}",
            _mean_sd([r["gain_all"] for r in runs]),
            _mean_sd([r["gain_unreviewed"] for r in runs]),
        )
    Console(width=220).print(table)


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.3f} ± {sd:.3f}"


def show(results: list[dict]) -> None:
    table = Table(title="corrector eval (F1 over unreviewed papers | over all papers)")
    for col in (
        "set",
        "seed",
        "order",
        "share",
        "reviewed",
        "moved+made",
        "F1 unrev.",
        "gain",
        "F1 all",
        "gain",
        "per 50",
        "corr. moves",
        "ECE",
        "removed",
        "ECE",
    ):
        table.add_column(col)
    for r in results:
        for run in r["runs"]:
            table.add_row(
                r["set"],
                str(r["seed"]),
                run["order"],
                f"{run['share']:.0%}",
                str(run["reviewed"]),
                f"{run['review']['moved']}+{run['review'].get('made_topics', 0)}",
                f"{run['before_unreviewed']['f1']:.3f}→{run['after_unreviewed']['f1']:.3f}",
                f"{run['gain_unreviewed']:+.3f}",
                f"{run['before_all']['f1']:.3f}→{run['after_all']['f1']:.3f}",
                f"{run['gain_all']:+.3f}",
                f"{run['gain_per_50_reviewed']:+.3f}",
                str(run["apply"]["moved"]),
                str(run["proposal_calibration"]["ece"]),
                str(run["apply"]["removed"]),
                str(run["removal_calibration"]["ece"]),
            )
    Console(width=220).print(table)


def plot(results: list[dict]) -> None:
    if not importlib.util.find_spec("matplotlib"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({r["set"] for r in results})
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        for r in (r for r in results if r["set"] == name):
            for order in sorted({run["order"] for run in r["runs"]}):
                runs = [run for run in r["runs"] if run["order"] == order]
                ax.plot(
                    [run["reviewed"] for run in runs],
                    [run["gain_unreviewed"] for run in runs],
                    marker="o",
                    label=f"k={r['k']}, {order}",
                )
        ax.axhline(0.05, color="grey", linestyle=":", label="goal at 10%")
        ax.set(title=name, xlabel="papers reviewed", ylabel="F1 gain on unreviewed papers")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "corrector.png", dpi=120)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
