"""Query embeddings for a server under concurrent requests: micro-batched, one core per worker,
remembered for repeats.

A query is short (a search box, a two-sentence description), so three things dominate its cost
rather than the model's arithmetic, and each is avoided here:
- the build's `Embedder.encode` reads and writes the on-disk embedding cache and commits per
  call (200+ ms under load); queries are not worth keeping on disk, so the model is called
  directly and a small in-memory LRU answers a repeated query (an agent paging through results
  or retrying);
- a model call per query: requests that arrive while a worker is busy are embedded together in
  its next batch (one forward pass for up to `max_batch` queries). When another worker is
  already busy, a worker that has one query waits up to `gather_s` for `gather_batch` of them:
  a pass over 3 short queries costs about 3.8 ms each in bf16 on one core, one alone about
  5.4 ms (the default model), so under load gathering gives more queries per second,
  and with no other worker busy nothing waits (3 queries and 15 ms were the best of 2-4 and
  8-30 ms with 8 clients, bench/bench_find_latency.py);
- torch's intra-op threads fighting over two cores: each worker runs its forward pass on one
  thread (OpenMP's thread count is per calling thread), and there is a worker per core.
The vectors are the model's own, unit length: in float32 exactly as `Embedder.encode` gives
them; in bf16 on a CPU from a copy of the model with bf16 weights (`Embedder._query_model`),
within cosine 0.9999 of the build's autocast vectors.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from queue import Empty, SimpleQueue

import numpy as np

Encode = Callable[[Sequence[str]], np.ndarray]


class QueryEncoder:
    """Embeds one text per call; thread-safe; call `close()` to stop the workers."""

    def __init__(
        self,
        encode: Encode,
        workers: int = 2,
        max_batch: int = 16,
        cache_size: int = 1024,
        gather_s: float = 0.0,
        gather_batch: int = 3,
    ) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._busy = 0  # workers gathering or in a forward pass
        self._busy_lock = threading.Lock()
        self._gather_s = gather_s
        self._gather_batch = gather_batch
        self._queue: SimpleQueue[tuple[str, Future[np.ndarray]] | None] = SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"query-encoder-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for worker in self._workers:
            worker.start()
        self.batches_ = 0  # forward passes run, for benchmarks and tests

    def __call__(self, text: str) -> np.ndarray:
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        future: Future[np.ndarray] = Future()
        self._queue.put((text, future))
        vector = future.result()
        with self._cache_lock:
            self._cache[text] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def _work(self) -> None:
        import torch

        torch.set_num_threads(1)
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            with self._busy_lock:
                others = self._busy
                self._busy += 1
            deadline = time.monotonic() + self._gather_s
            while len(batch) < self._max_batch:
                try:
                    wait = deadline - time.monotonic()
                    # Wait for company only while another worker is busy: alone, a query
                    # starts at once; under load a batch of a few costs far less per query.
                    if others and len(batch) < self._gather_batch and wait > 0:
                        more = self._queue.get(timeout=wait)
                    else:
                        more = self._queue.get_nowait()
                except Empty:
                    break
                if more is None:  # close(): finish this batch, then stop
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                vectors = np.asarray(self._encode([text for text, _ in batch]), np.float32)
            except Exception as e:  # every waiting request must hear of the failure
                for _, future in batch:
                    future.set_exception(e)
                continue
            finally:
                with self._busy_lock:
                    self._busy -= 1
            self.batches_ += 1
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
