"""The paper map at corpus scale: how long the build's layout (UMAP to 2-D) takes, how long a
refresh takes to place new papers beside their neighbours, and what drawing the map costs
(reading it, the plotly figure, the offline HTML of `hierograph plot`, its size).

    python bench/bench_paper_map.py --home HOME [--held-out 100] [--out bench/out/paper_map.json]

HOME needs ingested papers. With a built tree and embeddings it is measured as it is. Where
embedding the corpus is too slow for the machine (the MiniLM model on a busy 2-core CPU),
`--stand-in` first gives the papers stand-in vectors (TF-IDF + truncated SVD to 96 dimensions,
seconds) and a stand-in two-level tree (level 1: primary arXiv category, the 8 largest and
"other"; level 2: k-means within each), so the layout and drawing costs are measured on the
real number of papers and labels. Stand-in vectors are not the model's: the map's shape differs,
its costs do not depend on where the vectors came from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hierograph.graph.models import Assignment, Hierarchy, Topic  # noqa: E402
from hierograph.graph.sqlite_store import SqliteStore  # noqa: E402
from hierograph.hierarchy.layout import MapLayout, update_layout  # noqa: E402
from hierograph.ui.paper_map import load_paper_map, paper_map_figure, write_map_html  # noqa: E402

OUT = REPO / "bench" / "out" / "paper_map.json"


def stand_in(store: SqliteStore, seed: int = 42) -> None:
    """Stand-in vectors and a two-level tree (see the module's docstring)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    papers = list(store.iter_papers())
    tfidf = TfidfVectorizer(max_features=30_000, stop_words="english", sublinear_tf=True)
    vectors = TruncatedSVD(96, random_state=seed).fit_transform(
        tfidf.fit_transform([p.text() for p in papers])
    )
    store.set_embeddings({p.id: v.astype(np.float32) for p, v in zip(papers, vectors, strict=True)})
    primary = [p.primary_category or (p.categories[0] if p.categories else "other") for p in papers]
    top = {c for c, _ in Counter(primary).most_common(8)}
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(primary):
        groups.setdefault(c if c in top else "other", []).append(i)
    topics = [Topic(id="root", label="All papers", size=len(papers))]
    assignments = []
    for cat, rows in sorted(groups.items()):
        tid = f"c-{cat}"
        topics.append(Topic(id=tid, label=cat, parent="root", level=1, size=len(rows)))
        k = max(1, min(6, len(rows) // 40))
        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(vectors[rows])
        for j in range(k):
            members = [rows[m] for m in np.flatnonzero(labels == j)]
            sub = f"{tid}-{j}"
            topics.append(
                Topic(id=sub, label=f"{cat} group {j + 1}", parent=tid, level=2, size=len(members))
            )
            assignments += [
                Assignment(paper_id=papers[m].id, topic_id=sub, score=1.0) for m in members
            ]
    store.replace_hierarchy(Hierarchy(topics=topics, assignments=assignments))
    store.set_meta("bench_stand_in", "tfidf-svd96 vectors; category + k-means tree")


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--stand-in", action="store_true", help="Stand-in vectors and tree.")
    parser.add_argument("--held-out", type=int, default=100, help="Papers a refresh places.")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result: dict[str, object] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with SqliteStore(args.home / "hierograph.sqlite") as store:
        if args.stand_in:
            _, result["stand_in_s"] = timed(lambda: stand_in(store))
        result["stand_in"] = store.get_meta("bench_stand_in")
        vectors = store.get_embeddings()
        result["papers"] = len(vectors)
        layout = MapLayout()
        held = sorted(vectors)[:: max(1, len(vectors) // args.held_out)][: args.held_out]
        fit_ids = [i for i in vectors if i not in set(held)]
        xy, result["layout_fit_s"] = timed(
            lambda: layout.fit(np.stack([vectors[i] for i in fit_ids]))
        )
        store.set_layout({i: (float(a), float(b)) for i, (a, b) in zip(fit_ids, xy, strict=True)},
                         replace=True)  # fmt: skip
        report, result["refresh_place_s"] = timed(lambda: update_layout(store, layout, False))
        result["refresh_placed"] = report.placed
        paper_map, result["read_map_s"] = timed(lambda: load_paper_map(store))
        fig, result["figure_s"] = timed(lambda: paper_map_figure(paper_map))
        html = args.out.with_name("paper_map.html")
        html.parent.mkdir(parents=True, exist_ok=True)
        _, result["write_html_s"] = timed(lambda: write_map_html(fig, str(html)))
        result["html_mb"] = round(html.stat().st_size / 1e6, 2)
        result["labels"] = sum(len(t.text) for t in fig.data if t.mode == "text")
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"paper map, {result['papers']:,} papers")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for key in ("layout_fit_s", "refresh_place_s", "read_map_s", "figure_s", "write_html_s"):
        table.add_row(key.removesuffix("_s"), f"{result[key]:.3f}")
    Console().print(table)
    print(json.dumps(result, indent=2))
    import plotly.graph_objects as go

    steps = ["layout_fit_s", "refresh_place_s", "read_map_s", "figure_s", "write_html_s"]
    bars = go.Figure(go.Bar(x=[s.removesuffix("_s") for s in steps], y=[result[s] for s in steps]))
    bars.update_layout(title=f"paper map steps, {result['papers']:,} papers", yaxis_title="s")
    bars.write_html(args.out.with_name("paper_map_steps.html"), include_plotlyjs=True)


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
