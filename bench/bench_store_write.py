"""Benchmark bulk writes of the corpus (papers, embeddings, a tree) into SQLite and Neo4j, batched
through the store interface vs one statement (one transaction) per paper. Results: a table,
bench/out/store_write.json and, if matplotlib or plotly is installed, bench/out/store_write.png.

    python bench/bench_store_write.py [--corpus F] [--limit N] [--source-home DIR]
                                      [--per-statement-limit N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from hierograph.graph import neo4j_server
from hierograph.graph.factory import open_store
from hierograph.graph.ids import title_key
from hierograph.graph.models import Assignment, Hierarchy, Paper, Topic
from hierograph.graph.neo4j_store import Neo4jStore, _paper_props
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.store import GraphStore
from hierograph.ingest.tabular import parse_jsonl
from hierograph.settings import load_settings

CORPUS = Path("/work/shared/corpus/arxiv-ai-2025.jsonl")
OUT = Path(__file__).resolve().parent / "out"
PORT, PASSWORD, BATCH, DIM = 7690, "bench-store-write", 1000, 384
Vectors = dict[str, np.ndarray]
SQL_PAPER = "INSERT INTO papers(id, title_key, record, embedding) VALUES (?, ?, ?, ?)"
SQL_FTS = "INSERT INTO papers_fts(id, title, abstract) VALUES (?, ?, ?)"
SQL_TOPIC = "INSERT INTO topics(id, parent, level, record) VALUES (?, ?, ?, ?)"
SQL_EDGE = "INSERT INTO assignments(paper_id, topic_id, score, origin, at) VALUES (?, ?, ?, ?, ?)"
CY_PAPER = "MERGE (p:Paper {id: $id}) SET p += $props"
CY_VECTOR = " WITH p CALL db.create.setNodeVectorProperty(p, 'embedding', $v)"
CY_TOPIC = (
    "CREATE (t:Topic) SET t = $row WITH t OPTIONAL MATCH (p:Topic {id: $parent}) "
    "FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | CREATE (t)-[:SUBTOPIC_OF]->(p))"
)
CY_EDGE = (
    "MATCH (p:Paper {id: $paper_id}), (t:Topic {id: $topic_id}) "
    "CREATE (p)-[:IN_TOPIC {score: $score, origin: $origin, at: $at}]->(t)"
)
COLUMNS = "store,style,papers,papers s,embeddings s,tree s,total s,papers/s,check,note"
KEYS = "store,style,papers,papers_s,embeddings_s,tree_s,total_s,papers_per_s,check,note"
console = Console(width=150)


def corpus_papers(path: Path, limit: int | None) -> list[Paper]:
    by_id: dict[str, Paper] = {}  # duplicates merge as the store would merge them
    for _, p in parse_jsonl(path).papers:
        by_id[p.id] = by_id[p.id].merged_with(p) if p.id in by_id else p
    return list(by_id.values())[:limit]


def synthetic(papers: list[Paper], seed: int = 42) -> tuple[Vectors, Hierarchy]:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((len(papers), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    topics = [Topic(id="t", label="root", size=len(papers))]
    topics += [Topic(id=f"t{i}", label=f"mid {i}", parent="t", level=1) for i in range(20)]
    topics += [
        Topic(id=f"t{i // 10}.{i}", label=f"leaf {i}", parent=f"t{i // 10}", level=2)
        for i in range(200)
    ]
    leaves = [t.id for t in topics if t.level == 2]
    assignments = [
        Assignment(
            paper_id=p.id,
            topic_id=leaves[int(rng.integers(200))],
            score=float(rng.uniform(0.3, 1.0)),
        )
        for p in papers
    ]
    return dict(zip([p.id for p in papers], vecs, strict=True)), Hierarchy(
        topics=topics, assignments=assignments
    )


def from_home(home: Path, limit: int | None) -> tuple[list[Paper], Vectors, Hierarchy]:
    with SqliteStore(home / "hierograph.sqlite") as src:
        papers = list(src.iter_papers())[:limit]
        keep = {p.id for p in papers}
        vecs = src.get_embeddings([p.id for p in papers])
        assignments = [a for a in src.assignments() if a.paper_id in keep]
        return papers, vecs, Hierarchy(topics=src.topics(), assignments=assignments)


def batched(store: GraphStore, papers: list[Paper], vecs: Vectors, tree: Hierarchy) -> list[float]:
    times = [time.perf_counter()]
    for i in range(0, len(papers), BATCH):
        store.upsert_papers(papers[i : i + BATCH])
    times.append(time.perf_counter())
    ids = list(vecs)
    for i in range(0, len(ids), BATCH):
        store.set_embeddings({k: vecs[k] for k in ids[i : i + BATCH]})
    times.append(time.perf_counter())
    store.replace_hierarchy(tree)
    times.append(time.perf_counter())
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def per_stmt_sqlite(
    store: SqliteStore, papers: list[Paper], vecs: Vectors, tree: Hierarchy
) -> list[float]:
    db, t0 = store._db, time.perf_counter()  # autocommit connection: one transaction per paper
    for p in papers:
        db.execute("BEGIN")
        v = np.asarray(vecs[p.id], dtype=np.float32).tobytes() if p.id in vecs else None
        db.execute(SQL_PAPER, (p.id, title_key(p.title), p.model_dump_json(), v))
        db.execute(SQL_FTS, (p.id, p.title, p.abstract))
        db.execute("COMMIT")
    t1 = time.perf_counter()
    for t in tree.topics:
        db.execute(SQL_TOPIC, (t.id, t.parent, t.level, t.model_dump_json()))
    for a in tree.assignments:
        db.execute(SQL_EDGE, (a.paper_id, a.topic_id, a.score, a.origin, a.at))
    return [t1 - t0, 0.0, time.perf_counter() - t1]


def per_stmt_neo4j(
    store: Neo4jStore, papers: list[Paper], vecs: Vectors, tree: Hierarchy
) -> list[float]:
    with store._driver.session(database=store.database) as s:  # auto-commit: one tx a statement
        t0 = time.perf_counter()
        for p in papers:
            v = vecs.get(p.id)
            vec = None if v is None else np.asarray(v, float).tolist()
            cypher = CY_PAPER if v is None else CY_PAPER + CY_VECTOR
            s.run(cypher, id=p.id, props=_paper_props(p), v=vec).consume()
        t1 = time.perf_counter()
        for t in tree.topics:
            s.run(CY_TOPIC, row=t.model_dump(exclude={"parent"}), parent=t.parent).consume()
        for a in tree.assignments:
            s.run(CY_EDGE, **a.model_dump()).consume()
    return [t1 - t0, 0.0, time.perf_counter() - t1]


def clear_neo4j(store: Neo4jStore) -> None:
    with store._driver.session(database=store.database) as s:
        s.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


def check(store: GraphStore, papers: int, vecs: int, edges: int) -> str:
    got = (store.paper_count(), len(store.get_embeddings()), len(store.assignments()))
    return "ok" if got == (papers, vecs, edges) else f"MISMATCH got {got}"


def plot(rows: list[dict[str, Any]], path: Path) -> str:
    names = [f"{r['store']}\n{r['style']}" for r in rows]
    rates = [r["papers_per_s"] for r in rows]
    if importlib.util.find_spec("matplotlib"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar(names, rates)
        ax.set(ylabel="papers/s (papers + embeddings)", yscale="log", title="Store write")
        fig.tight_layout()
        fig.savefig(path)
        return f"plot: {path}"
    if importlib.util.find_spec("plotly"):
        import plotly.graph_objects as go

        go.Figure(go.Bar(x=names, y=rates)).update_yaxes(type="log").write_image(str(path))
        return f"plot: {path}"
    return "plot skipped: neither matplotlib nor plotly is installed in the venv"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, help="first N (unique) papers only")
    ap.add_argument("--source-home", type=Path, help="home with a built hierograph.sqlite")
    ap.add_argument("--per-statement-limit", type=int, help="Neo4j per-statement: first N papers")
    ap.add_argument("--out", type=Path, default=OUT / "store_write.json")
    args = ap.parse_args()
    if args.source_home:
        papers, vecs, tree = from_home(args.source_home, args.limit)
        source = f"copied from {args.source_home / 'hierograph.sqlite'}"
    else:
        papers = corpus_papers(args.corpus, args.limit)
        vecs, tree = synthetic(papers)
        source = f"{args.corpus} + seeded random unit vectors (dim {DIM}) + synthetic 3-level tree"
    console.print(
        f"data: {source}: {len(papers)} papers, {len(vecs)} embeddings, "
        f"{len(tree.topics)} topics, {len(tree.assignments)} assignments"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-store-write-"))
    rows: list[dict[str, Any]] = []

    def record(
        store_name: str,
        style: str,
        st: GraphStore,
        n: int,
        t: list[float],
        sub: Hierarchy,
        note: str = "",
    ) -> None:
        nv = sum(1 for p in papers[:n] if p.id in vecs)
        emb = t[1] if style == "batched" else None
        ok = check(st, n, nv, len(sub.assignments))
        vals = [store_name, style, n, t[0], emb, t[2], sum(t), n / (t[0] + t[1]), ok, note]
        rows.append(dict(zip(KEYS.split(","), vals, strict=True)))
        console.print(rows[-1])

    try:
        for style in ("batched", "per-statement"):
            settings = load_settings(home=work / f"sqlite-{style}", store="sqlite")
            with open_store(settings) as st:
                assert isinstance(st, SqliteStore)
                fn = batched if style == "batched" else per_stmt_sqlite
                record("sqlite", style, st, len(papers), fn(st, papers, vecs, tree), tree)
        neo_home = work / "neo4j-home"
        console.print(f"starting Neo4j on port {PORT} under {neo_home} …")
        neo4j_server.start(neo_home, password=PASSWORD, port=PORT)
        settings = load_settings(
            home=neo_home,
            store="neo4j",
            neo4j_password=PASSWORD,
            neo4j_uri=f"bolt://127.0.0.1:{PORT}",
        )
        with open_store(settings) as st:
            assert isinstance(st, Neo4jStore)
            record("neo4j", "batched", st, len(papers), batched(st, papers, vecs, tree), tree)
            clear_neo4j(st)  # the schema (and the vector index made by set_embeddings) stays
            n = min(len(papers), args.per_statement_limit or len(papers))
            keep = {p.id for p in papers[:n]}
            sub = Hierarchy(
                topics=tree.topics, assignments=[a for a in tree.assignments if a.paper_id in keep]
            )
            note = f"subset: first {n} of {len(papers)} papers" if n < len(papers) else ""
            times = per_stmt_neo4j(st, papers[:n], vecs, sub)
            record("neo4j", "per-statement", st, n, times, sub, note)
            clear_neo4j(st)
    finally:
        neo4j_server.stop(work / "neo4j-home")
        shutil.rmtree(work, ignore_errors=True)

    table = Table(title=f"Store write throughput ({source})")
    for col in COLUMNS.split(","):
        table.add_column(col, justify="left" if col in ("store", "style", "note") else "right")
    for r in rows:
        cells = [r[k] for k in KEYS.split(",")]
        cells[4] = "incl. in papers" if cells[4] is None else cells[4]
        table.add_row(*(f"{c:.2f}" if isinstance(c, float) else str(c) for c in cells))
    console.print(table)
    console.print("papers/s = papers / (papers s + embeddings s); tree s = topics + assignments")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    meta |= {"source": source, "batch": BATCH, "machine": platform.platform()}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    console.print(f"json: {args.out}\n{plot(rows, args.out.with_suffix('.png'))}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
