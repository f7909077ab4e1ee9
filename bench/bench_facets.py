"""Benchmark the zero-shot facets against labels a person would agree with: modality on 500
papers of the shared arXiv corpus labelled from their arXiv categories (the mapping is in
bench/data/README.md), contribution type on the 100 hand-labelled papers of
bench/data/contribution-100.jsonl; and modality again on the same 500 with their category labels
checked by a person (bench/data/modality-hand-100.jsonl, and modality-hand-400.jsonl checked
without seeing the classifier's answers: arXiv files many papers about vision-language models
under cs.CV alone, and ASR papers under cs.CL). A paper whose facet is
below its confidence threshold gets no value ("unknown"): the table gives coverage, accuracy on
the papers that got a value, and accuracy counting unknown as wrong. The 500 are also scored in
two halves (even and odd positions of the sample; the contribution file's lines likewise): rules
were tuned looking at the first half's errors only, so the second is held out. Writes
bench/out/facets.json and bench/out/facets.html; `--errors` also prints every modality paper
whose answer differs from its category label, grouped by (label, answer), with its categories.

    python bench/bench_facets.py [--errors]
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "arxiv-ai-2025.jsonl"
CONTRIBUTION = REPO / "bench" / "data" / "contribution-100.jsonl"
MODALITY_HAND = REPO / "bench" / "data" / "modality-hand-100.jsonl"
MODALITY_HAND_REST = REPO / "bench" / "data" / "modality-hand-400.jsonl"
OUT = REPO / "bench" / "out"
CACHE = OUT / "embeddings-cache.sqlite"
MODALITY_SAMPLE = 500
OTHER_PREFIXES = ("q-bio.", "physics.", "cond-mat.", "astro-ph", "eess.SP")


def modality_from_categories(categories: list[str]) -> str | None:
    """The arXiv categories' modality (bench/data/README.md), or None when they do not say."""
    cats = set(categories)
    if cats & {"cs.SD", "eess.AS"}:
        return "speech"
    vision = bool(cats & {"cs.CV", "eess.IV"})
    if vision and "cs.CL" in cats:
        return "vision-language"
    if vision:
        return "vision"
    if "cs.CL" in cats:
        return "text"
    if "cs.RO" in cats or any(c.startswith(OTHER_PREFIXES) for c in cats):
        return "other"
    return None


def score(truth: dict[str, str], predicted: dict[str, str], same: Any = None) -> dict[str, Any]:
    """`same(a, b)`: whether a prediction counts as the truth (default: equal)."""
    same = same or (lambda a, b: a == b)
    answered = [p for p in truth if p in predicted]
    right = sum(same(predicted[p], truth[p]) for p in answered)
    confusion = Counter(f"{truth[p]} -> {predicted.get(p, 'unknown')}" for p in truth)
    return {
        "papers": len(truth),
        "coverage": round(len(answered) / len(truth), 4),
        "accuracy_answered": round(right / max(len(answered), 1), 4),
        "accuracy_all": round(right / len(truth), 4),
        "truth": dict(Counter(truth.values())),
        "confusion": dict(confusion.most_common()),
    }


def _visual_same(predicted: str, truth: str) -> bool:
    visual = {"vision", "vision-language"}
    return predicted == truth or (truth == "vision" and predicted in visual)


def main() -> None:
    import numpy as np

    from hierograph.graph.models import Paper
    from hierograph.hierarchy.facets import EmbeddingFacetClassifier
    from hierograph.jobs.components import make_embedder
    from hierograph.settings import Settings

    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    labelled = [(r, m) for r in rows if (m := modality_from_categories(r["categories"]))]
    sample = random.Random(0).sample(labelled, MODALITY_SAMPLE)
    modality_truth = {r["arxiv_id"]: m for r, m in sample}
    hand = [json.loads(line) for line in CONTRIBUTION.read_text(encoding="utf-8").splitlines()]
    contribution_truth = {h["arxiv_id"]: h["contribution"] for h in hand}
    checked = [json.loads(line) for line in MODALITY_HAND.read_text(encoding="utf-8").splitlines()]
    modality_checked = {h["arxiv_id"]: h["modality"] for h in checked}
    assert set(modality_checked) <= set(modality_truth), "the checked papers are in the sample"
    rest = [
        json.loads(line) for line in MODALITY_HAND_REST.read_text(encoding="utf-8").splitlines()
    ]
    modality_rest = {h["arxiv_id"]: h["modality"] for h in rest}
    assert set(modality_rest) | set(modality_checked) == set(modality_truth), "the other 400"
    by_id = {r["arxiv_id"]: r for r in rows}
    ids = sorted(set(modality_truth) | set(contribution_truth))
    papers = [
        Paper(id=i, arxiv_id=i, title=by_id[i]["title"], abstract=by_id[i]["abstract"]) for i in ids
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder(Settings(home=OUT / "facets-home"), show_progress=False)
    embedder.cache_path = CACHE
    vectors = np.asarray(embedder.encode([p.text() for p in papers]))
    facets = EmbeddingFacetClassifier(embedder.encode).fit().predict(papers, vectors)
    got: dict[str, dict[str, str]] = {"modality": {}, "contribution": {}}
    for f in facets:
        got[f.dimension][f.paper_id] = f.value
    order = [r["arxiv_id"] for r, _ in sample]
    contribution_order = [h["arxiv_id"] for h in hand]
    results = {
        "modality": score(modality_truth, got["modality"]),
        "modality, tuning half": score(_half(modality_truth, order, 0), got["modality"]),
        "modality, held-out half": score(_half(modality_truth, order, 1), got["modality"]),
        # arXiv files many VLM papers under cs.CV alone: categories cannot tell vision from
        # vision-language there, so this row counts either as right for a visual paper.
        "modality (visual merged)": score(modality_truth, got["modality"], _visual_same),
        "modality (hand-checked 100)": score(modality_checked, got["modality"]),
        "modality (the other 400, checked blind)": score(modality_rest, got["modality"]),
        "modality (all 500 checked by hand)": score(
            {**modality_checked, **modality_rest}, got["modality"]
        ),
        "contribution": score(contribution_truth, got["contribution"]),
        "contribution, first half": score(
            _half(contribution_truth, contribution_order, 0), got["contribution"]
        ),
        "contribution, second half": score(
            _half(contribution_truth, contribution_order, 1), got["contribution"]
        ),
    }
    load = os.getloadavg()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Facet accuracy (load average {load[0]:.1f})")
    for column in ("facet", "papers", "coverage", "accuracy (answered)", "accuracy (all)"):
        table.add_column(column, justify="left" if column == "facet" else "right", no_wrap=True)
    for name, r in results.items():
        table.add_row(
            name,
            str(r["papers"]),
            f"{r['coverage']:.3f}",
            f"{r['accuracy_answered']:.3f}",
            f"{r['accuracy_all']:.3f}",
        )
    console = Console(width=110)
    console.print(table)
    for name, r in results.items():
        console.print(f"{name} errors:", {k: v for k, v in r["confusion"].items() if "->" in k})
    if "--errors" in sys.argv:
        _print_errors(console, sample, got["modality"])
    out = OUT / "facets.json"
    out.write_text(json.dumps({"load_average": load, "results": results}, indent=1))
    console.print(f"wrote {out}; " + _plot(results, OUT / "facets.html"))


def _half(truth: dict[str, str], order: list[str], parity: int) -> dict[str, str]:
    """The labels of the papers at even (0) or odd (1) positions of `order`."""
    return {p: truth[p] for p in order[parity::2]}


def _print_errors(console: Any, sample: list[tuple[dict, str]], got: dict[str, str]) -> None:
    """Every paper whose modality answer is not its category label, grouped by pair."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r, label in sample:
        answer = got.get(r["arxiv_id"], "unknown")
        if answer != label:
            groups.setdefault((label, answer), []).append(r)
    for (label, answer), papers in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        console.print(f"[bold]{label} -> {answer}[/bold]: {len(papers)}")
        for r in papers:
            cats = ",".join(r["categories"])
            console.print(f"  {r['arxiv_id']} {r['title'][:100]} ({cats})", highlight=False)


def _plot(results: dict[str, dict[str, Any]], path: Path) -> str:
    """Accuracy per facet, on answered papers and counting unknown as wrong (plotly HTML)."""
    import plotly.graph_objects as go

    names = list(results)
    fig = go.Figure(
        [
            go.Bar(name=label, x=names, y=[results[n][key] for n in names])
            for key, label in (
                ("accuracy_answered", "answered"),
                ("accuracy_all", "all (unknown = wrong)"),
                ("coverage", "coverage"),
            )
        ]
    )
    fig.update_layout(barmode="group", yaxis_title="share", title="Facet accuracy")
    fig.write_html(path)
    return f"plot: {path}"


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
