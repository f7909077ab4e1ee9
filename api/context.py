"""What the REST app and the MCP server hold for their lifetime: one store, one embedder, the
tree index the finder reads, and a lock.

The lock serializes store and model access: the SQLite store shares one connection and the
sentence-transformers model is not documented as thread-safe, while FastAPI runs sync routes
on a thread pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from hierograph.api.tree_index import TreeIndex, tree_signature
from hierograph.graph.factory import open_store
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.embed import Embedder
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

    def embed(self, text: str) -> np.ndarray:
        with self.lock:
            return self.embedder.encode([text])[0]

    def tree_index(self) -> TreeIndex:
        """The finder's view of the tree, rebuilt when the tree changed (a build, a refresh or a
        correction, from this process or another)."""
        with self.lock:
            signature = tree_signature(self.store)
            if self._index is None or self._index.signature != signature:
                self._index = TreeIndex.from_store(self.store, self.embedder.encode, signature)
            return self._index

    def close(self) -> None:
        with self.lock:
            self.store.close()
            if self.llm is not None:
                self.llm.close()


def llm_client(settings: Settings) -> LlmClient | None:
    if settings.llm == "none":
        return None
    return client_from_settings(settings)


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
    return ctx


@contextmanager
def api_context(settings: Settings, warm: bool = True) -> Iterator[ApiContext]:
    ctx = open_context(settings, warm)
    try:
        yield ctx
    finally:
        ctx.close()
