"""What the REST app and the MCP server hold for their lifetime: one store, one embedder, the
query encoder, the tree index and full-text index the finder reads, and a lock.

The lock serializes store access (the SQLite store shares one connection, and FastAPI runs sync
routes on a thread pool). Everything else a request does runs outside it, so concurrent
requests use every core: query embeddings go through the query encoder (api/query_encoder.py,
thread-safe, batched), and the indexes are immutable snapshots swapped whole when the store
changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from hierograph.api.query_encoder import QueryEncoder
from hierograph.api.text_index import TextIndex
from hierograph.api.tree_index import TreeIndex, tree_signature
from hierograph.graph.factory import open_store
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.embed import Embedder, physical_cores
from hierograph.jobs.components import client_from_settings, make_embedder
from hierograph.llm.client import LlmClient
from hierograph.settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    store: GraphStore
    embedder: Embedder
    llm: LlmClient | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _index: TreeIndex | None = None
    _text: TextIndex | None = None
    _text_papers: int = -1  # the paper count `_text` was built at
    _token: object | None = None  # the store's change token `_index` was checked at
    _queries: QueryEncoder | None = None

    def embed(self, text: str) -> np.ndarray:
        """The query's unit embedding (no store lock: the query encoder is thread-safe)."""
        if self._queries is None:
            with self.lock:
                if self._queries is None:
                    s = self.settings
                    self._queries = QueryEncoder(
                        self.embedder.encode_uncached,
                        workers=s.api_query_workers or physical_cores(),
                        max_batch=s.api_query_batch,
                        cache_size=s.api_query_cache,
                        gather_s=s.api_query_gather_ms / 1000,
                    )
        return self._queries(text)

    def tree_index(self) -> TreeIndex:
        """The finder's view of the tree, rebuilt when the tree changed (a build, a refresh or a
        correction, from this process or another). The tree is re-read only when the store's
        change token moved (a backend without one is re-read on every call)."""
        with self.lock:
            token = self.store.change_token()
            if self._index is not None and token is not None and token == self._token:
                return self._index
            signature = tree_signature(self.store)
            if self._index is None or self._index.signature != signature:
                self._index = TreeIndex.from_store(self.store, self.embedder.encode, signature)
                papers = self.store.paper_count()
                # Corrections move papers between topics, not their words: keep the text index.
                if self._text is None or papers != self._text_papers:
                    self._text = TextIndex.from_papers(
                        self.store.iter_papers(), self.settings.api_title_weight
                    )
                    self._text_papers = papers
            self._token = token
            return self._index

    def text_index(self) -> TextIndex:
        """BM25 over every paper's title and abstract, rebuilt when the paper count changes."""
        with self.lock:
            self.tree_index()
            assert self._text is not None
            return self._text

    def close(self) -> None:
        with self.lock:
            if self._queries is not None:
                self._queries.close()
            self.store.close()
            if self.llm is not None:
                self.llm.close()


def llm_client(settings: Settings) -> LlmClient | None:
    if settings.llm == "none":
        return None
    return client_from_settings(settings)


def one_thread_per_request() -> None:
    """For a server process: its parallelism is its concurrent requests, so BLAS and OpenMP
    run each request's arithmetic on one thread. Their own pools would spin against the
    other requests' threads (8 clients on 2 cores: twice the throughput, half the CPU per
    request). Not for a process that also builds: UMAP and clustering want every core."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def open_context(settings: Settings, warm: bool = True) -> ApiContext:
    """Open the configured store and embedder; `warm` loads the model now, so the first
    request is not the one that waits for it."""
    store = open_store(settings)
    ctx = ApiContext(
        settings=settings,
        store=store,
        embedder=make_embedder(settings, show_progress=False),
        llm=llm_client(settings),
    )
    if warm:
        ctx.embed("warm-up")
        ctx.tree_index()  # and the indexes: the first request should not wait for them
    return ctx


@contextmanager
def api_context(settings: Settings, warm: bool = True) -> Iterator[ApiContext]:
    ctx = open_context(settings, warm)
    try:
        yield ctx
    finally:
        ctx.close()
