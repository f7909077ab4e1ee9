"""The development gold sets of bench_quality.py, ingested and embedded once.

Each set is a SQLite home under bench/out/quality/<set>/ (papers ingested with Hierograph's own
ingest, so the texts are exactly what `hierograph build` embeds) plus an .npz per embedding
model with the paper ids, the embeddings and each gold paper's category. Embeddings come from,
and go back to, the shared cache bench/out/embeddings-cache.sqlite: only the first run embeds.

Not a benchmark itself; `python bench/quality_sets.py` prepares every set (progress printed).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
OUT_DIR = BENCH / "out"
CACHE = OUT_DIR / "embeddings-cache.sqlite"
SHARED = BENCH.parents[1] / "shared"
GOLD_DIR = SHARED / "gold"
CORPUS = SHARED / "corpus" / "arxiv-ai-2025.jsonl"
ARXIV_SAMPLE = 2000


@dataclass(frozen=True)
class GoldSet:
    """A corpus to ingest and a gold file scored at `depth` path elements."""

    name: str
    papers: Path
    gold: Path
    depth: int


def gold_sets() -> dict[str, GoldSet]:
    """The three development sets; the arXiv sample is written by make_gold.py's code."""
    sample = OUT_DIR / f"corpus-{ARXIV_SAMPLE}.jsonl"
    return {
        "an-dev": GoldSet(
            "an-dev", GOLD_DIR / "an-dev.papers.jsonl", GOLD_DIR / "an-dev.gold.jsonl", 1
        ),
        "reward-hacking": GoldSet(
            "reward-hacking",
            GOLD_DIR / "reward-hacking.papers.jsonl",
            GOLD_DIR / "reward-hacking.gold.jsonl",
            1,
        ),
        # ["cs", "cs.CL"]: depth 2 is the primary category.
        f"arxiv-{ARXIV_SAMPLE}": GoldSet(
            f"arxiv-{ARXIV_SAMPLE}", sample, OUT_DIR / f"gold-{ARXIV_SAMPLE}.jsonl", 2
        ),
    }


def write_arxiv_sample(n: int = ARXIV_SAMPLE) -> None:
    """The first n categorized papers of the (shuffled) shared corpus and their gold lines."""
    from make_gold import gold_line

    corpus, gold = OUT_DIR / f"corpus-{n}.jsonl", OUT_DIR / f"gold-{n}.jsonl"
    if corpus.is_file() and gold.is_file():
        return
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    written = 0
    with (
        CORPUS.open(encoding="utf-8") as src,
        corpus.open("w", encoding="utf-8") as c,
        gold.open("w", encoding="utf-8") as g,
    ):
        for line in src:
            if written >= n:
                break
            record = json.loads(line)
            label = gold_line(record)
            if label is None:
                continue
            c.write(json.dumps(record, ensure_ascii=False) + "\n")
            g.write(json.dumps(label, ensure_ascii=False) + "\n")
            written += 1


def home_of(name: str) -> Path:
    return OUT_DIR / "quality" / name


def model_slug(model: str) -> str:
    return model.replace("/", "_")


def ingest_set(gs: GoldSet) -> Path:
    """The set's papers in a SQLite home (once); returns the home."""
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.ingest.pipeline import ingest_paths
    from hierograph.settings import load_settings

    home = home_of(gs.name)
    settings = load_settings(home=home)
    if settings.db_path().is_file():
        return home
    home.mkdir(parents=True, exist_ok=True)
    with SqliteStore(settings.db_path()) as store:
        ingest_paths(store, [gs.papers], settings.rejects_path())
    return home


def prepared(name: str, model: str | None = None, text: str = "default") -> dict[str, Any]:
    """{ids, vectors, truth (gold category or None per paper), texts, embed figures} of a set,
    from the .npz when it exists. `text` chooses what is embedded (see `paper_texts`)."""
    from hierograph.settings import load_settings

    gs = gold_sets()[name]
    if name.startswith("arxiv-"):
        write_arxiv_sample()
    home = ingest_set(gs)
    settings = load_settings(home=home, **({"embedding_model": model} if model else {}))
    slug = model_slug(settings.embedding_model) + ("" if text == "default" else f"-{text}")
    npz = home / f"vectors-{slug}.npz"
    papers, truth = _papers_and_truth(gs, home)
    texts = paper_texts(papers, text)
    if npz.is_file():
        data = np.load(npz, allow_pickle=False)
        if list(data["ids"]) == [p.id for p in papers]:
            meta = json.loads(str(data["meta"]))
            return {
                "ids": [p.id for p in papers],
                "vectors": data["vectors"],
                "truth": truth,
                "texts": texts,
                "papers": papers,
                "embed": meta,
            }
    vectors, meta = _embed(texts, settings)
    np.savez(npz, ids=np.array([p.id for p in papers]), vectors=vectors, meta=json.dumps(meta))
    return {
        "ids": [p.id for p in papers],
        "vectors": vectors,
        "truth": truth,
        "texts": texts,
        "papers": papers,
        "embed": meta,
    }


def paper_texts(papers: list[Any], text: str) -> list[str]:
    """What is embedded: `default` is Paper.text() (title. abstract); `title2` repeats the
    title; `lead3` is the title and the first three sentences of the abstract."""
    if text == "default":
        return [p.text() for p in papers]
    if text == "title2":
        return [f"{p.title}. {p.title}. {p.abstract}" for p in papers]
    if text == "lead3":
        import re

        return [
            f"{p.title}. " + " ".join(re.split(r"(?<=[.!?])\s+", p.abstract)[:3]) for p in papers
        ]
    raise ValueError(f"unknown text choice {text!r}")


def _papers_and_truth(gs: GoldSet, home: Path) -> tuple[list[Any], list[str | None]]:
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy.evaluate import load_gold, match_gold
    from hierograph.settings import load_settings

    settings = load_settings(home=home)
    with SqliteStore(settings.db_path()) as store:
        papers = list(store.iter_papers())
        matched = match_gold(store, load_gold(gs.gold))
    truth = [" / ".join(matched[p.id][: gs.depth]) if p.id in matched else None for p in papers]
    return papers, truth


def _embed(texts: list[str], settings: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Embeds through Hierograph's Embedder with the shared cache file (copied in and out)."""
    import shutil
    import tempfile

    from hierograph.jobs.components import make_embedder

    with tempfile.TemporaryDirectory(prefix="hg-quality-embed-") as tmp:
        cached = Path(tmp) / "embeddings.sqlite"
        if CACHE.is_file():
            shutil.copyfile(CACHE, cached)
        settings = settings.model_copy(update={"home": Path(tmp)})
        embedder = make_embedder(settings, show_progress=sys.stderr.isatty())
        start = time.perf_counter()
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        wall = time.perf_counter() - start
        meta = {
            "model": settings.embedding_model,
            "embedded": embedder.embedded_count_,
            "cached": embedder.cached_count_,
            "wall_s": wall,
        }
        if embedder.embedded_count_:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, CACHE)
    return vectors, meta


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    model = sys.argv[1] if len(sys.argv) > 1 else None
    for set_name in gold_sets():
        data = prepared(set_name, model)
        n_gold = sum(t is not None for t in data["truth"])
        print(
            set_name, len(data["ids"]), "papers,", n_gold, "with gold,", data["embed"], flush=True
        )
