"""The store handle and the cached reads behind every page.

One store connection per configuration (`st.cache_resource`), used under a lock because
Streamlit runs sessions in threads. Heavy reads are cached under a *version token* (last build,
corrections logged, papers stored): a correction made here or with `hierograph correct`, a
rebuild or a refresh changes the token, so the next page run reads afresh. Other writes (e.g.
`hierograph corrector apply`) show within `ui_cache_seconds`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import plotly.graph_objects as go
import streamlit as st

from hierograph.graph.method_models import CodeFor, Method
from hierograph.graph.models import Facet, Paper
from hierograph.graph.store import GraphStore
from hierograph.settings import Settings, load_settings
from hierograph.ui import charts, data

if TYPE_CHECKING:  # both import the model stack (seconds): only Search needs them
    from hierograph.api.context import ApiContext
    from hierograph.hierarchy.embed import Embedder

T = TypeVar("T")
_TTL = load_settings().ui_cache_seconds or None


@dataclass
class Handle:
    store: GraphStore
    lock: threading.RLock
    settings: Settings

    def read(self, fn: Callable[[GraphStore], T]) -> T:
        with self.lock:
            return fn(self.store)


def settings() -> Settings:
    return load_settings()


def _key(s: Settings) -> str:
    where = str(s.home.resolve()) if s.store == "sqlite" else f"{s.neo4j_uri}/{s.neo4j_database}"
    return f"{s.store}:{where}"


@st.cache_resource(show_spinner=False)
def _handle(key: str, _settings: Settings) -> Handle:
    from hierograph.graph.factory import open_store

    return Handle(open_store(_settings), threading.RLock(), _settings)


def handle() -> Handle:
    s = settings()
    return _handle(_key(s), s)


def version(h: Handle) -> str:
    def token(store: GraphStore) -> str:
        return f"{store.get_meta('last_build')}|{len(store.corrections())}|{store.paper_count()}"

    return h.read(token)


def _versioned(fn: Callable[..., T]) -> Callable[..., T]:
    """Call a cached reader with the current handle and version token."""

    def call(*args: Any) -> T:
        h = handle()
        return fn(_key(h.settings), version(h), h, *args)

    return call


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner="Reading the tree…")
def _tree(key: str, version: str, _h: Handle) -> data.TreeView:
    return _h.read(lambda s: data.load_tree(s, _h.settings.ui_recent_days))


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner=False)
def _map_figure(key: str, version: str, _h: Handle, kind: str) -> go.Figure:
    view = _tree(key, version, _h)
    s = _h.settings
    return charts.hierarchy_figure(
        data.map_frame(view), kind, s.ui_map_depth, data.corpus_growth(view), s.ui_recent_days
    )


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner="Drawing the paper map…")
def _paper_map(key: str, version: str, _h: Handle) -> tuple[go.Figure, int]:
    from hierograph.ui.paper_map import load_paper_map, paper_map_figure

    paper_map = _h.read(load_paper_map)
    return paper_map_figure(paper_map, link="id"), len(paper_map.points)


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner=False)
def _trend_figure(key: str, version: str, _h: Handle) -> go.Figure:
    return charts.trend_figure(data.trend_frame(_tree(key, version, _h)))


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner=False)
def _facets(key: str, version: str, _h: Handle) -> dict[str, list[Facet]]:
    return data.group_facets(_h.read(lambda s: s.facets()))


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner=False)
def _methods(key: str, version: str, _h: Handle) -> list[Method]:
    return _h.read(lambda s: s.methods())


@st.cache_resource(max_entries=2, ttl=_TTL, show_spinner=False)
def _method_counts(key: str, version: str, _h: Handle) -> dict[str, int]:
    return dict(Counter(link.method_id for link in _h.read(lambda s: s.method_links())))


@st.cache_data(max_entries=256, ttl=_TTL, show_spinner=False)
def _paper(key: str, version: str, _h: Handle, paper_id: str) -> Paper | None:
    return _h.read(lambda s: s.get_paper(paper_id))


@st.cache_data(max_entries=128, ttl=_TTL, show_spinner=False)
def _code_for(key: str, version: str, _h: Handle, concept: str) -> CodeFor:
    return _h.read(lambda s: s.code_for(concept))


@st.cache_data(max_entries=128, ttl=_TTL, show_spinner="Finding similar papers…")
def _similar(key: str, version: str, _h: Handle, paper_id: str, k: int) -> list[tuple[str, float]]:
    def run(store: GraphStore) -> list[tuple[str, float]]:
        vectors = store.get_embeddings([paper_id])
        if paper_id not in vectors:
            return []
        hits = store.semantic_search(vectors[paper_id], k=k + 1)
        return [(pid, score) for pid, score in hits if pid != paper_id][:k]

    return _h.read(run)


tree = _versioned(_tree)
map_figure = _versioned(_map_figure)
trend_figure = _versioned(_trend_figure)
paper_map = _versioned(_paper_map)
facets_by_paper = _versioned(_facets)
methods = _versioned(_methods)
method_paper_counts = _versioned(_method_counts)
paper = _versioned(_paper)
code_for = _versioned(_code_for)
similar = _versioned(_similar)


@st.cache_resource(show_spinner="Loading the embedding model…")
def _embedder(model: str, device: str, _settings: Settings) -> Embedder:
    from hierograph.jobs.components import make_embedder

    embedder = make_embedder(_settings, show_progress=False)
    # Queries are one-off texts: keep them out of the papers' embedding cache, so the browser
    # never writes to the home it reads.
    embedder.cache_path = None
    return embedder


def embedder() -> Embedder:
    s = settings()
    return _embedder(s.embedding_model, s.device, s)


def invalidate() -> None:
    """After a write: drop every cached read (the version token would miss them anyway; this
    frees their memory at once)."""
    readers = (_tree, _map_figure, _paper_map, _trend_figure, _facets, _methods, _method_counts)
    for fn in (*readers, _paper, _code_for, _similar):
        fn.clear()


@st.cache_resource(show_spinner=False)
def _api_context(key: str, _h: Handle, _embedder: Embedder) -> ApiContext:
    from hierograph.api.context import ApiContext

    return ApiContext(settings=_h.settings, store=_h.store, embedder=_embedder, lock=_h.lock)


def api_context() -> ApiContext:
    """The agent API's context over this browser's store, lock and embedder, so Search runs
    the API's own query code (api/queries.py) rather than a second copy of it. One per store,
    kept: its indexes follow the store's changes, and its query encoder's threads live once."""
    h = handle()
    return _api_context(_key(h.settings), h, embedder())
