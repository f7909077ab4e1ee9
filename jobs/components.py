"""The one place that turns settings into components: the embedder, the tree builder, the
labeler, the facet extractor, the LLM client and the executor. Jobs, the API and the UI ask here;
nothing below this layer reads settings to choose a class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hierograph.graph.models import Paper
from hierograph.hierarchy.cluster import (
    HdbscanClusterer,
    KMeansSplitter,
    UmapReducer,
    resolve_backend,
)
from hierograph.hierarchy.embed import Embedder
from hierograph.hierarchy.executor import Executor, make_executor
from hierograph.hierarchy.facets import EmbeddingFacetClassifier
from hierograph.hierarchy.label import Label
from hierograph.hierarchy.layout import MapLayout
from hierograph.hierarchy.phrase_label import PhraseLabeler
from hierograph.hierarchy.phrases import PhraseExtractor
from hierograph.hierarchy.place import Placer
from hierograph.hierarchy.tree import FixedShapeBuilder, Node, TreeBuilder
from hierograph.llm.client import LlmClient
from hierograph.llm.facets import LlmFacetExtractor
from hierograph.llm.label import LlmLabeler
from hierograph.settings import Settings


def client_from_settings(settings: Settings) -> LlmClient:
    """The client that settings.llm names, with its cache under the home."""
    key = settings.llm_api_key
    return LlmClient(
        settings.llm,
        cache_path=settings.llm_cache_path(),
        concurrency=settings.llm_concurrency,
        timeout=settings.llm_timeout,
        api_base=settings.llm_api_base,
        api_key=key.get_secret_value() if key else None,
        json_mode=settings.llm_json_mode,
        max_tokens=settings.llm_max_tokens,
    )


def run_client(settings: Settings, given: LlmClient | None = None) -> LlmClient | None:
    """The one LLM client of a run: `given` (a caller's, e.g. a mocked one in tests) or the one
    settings.llm names; None without an LLM. Every LLM stage of the run shares it, so its
    usage account is the run's whole LLM cost."""
    if given is not None:
        return given
    if settings.llm == "none":
        return None
    return client_from_settings(settings)


def executor_from_settings(settings: Settings) -> Executor:
    """The executor (local threads or Ray) that settings.executor names."""
    return make_executor(settings.executor, settings.executor_workers, settings.ray_address)


def make_embedder(settings: Settings, show_progress: bool = True) -> Embedder:
    """The sentence-transformers embedder with its cache under the home."""
    return Embedder(
        model=settings.embedding_model,
        device=settings.device,
        batch_size=settings.embedding_batch_size,
        cache_path=settings.embedding_cache_path(),
        show_progress=show_progress,
        precision=settings.embedding_precision,
        auto_batch=settings.embedding_auto_batch,
        max_batch_size=settings.embedding_max_batch_size,
        processes=settings.embedding_processes,
        chunk_size=settings.embedding_chunk_size,
        memmap_min_rows=settings.embedding_memmap_min_rows,
    )


class _KeywordStage:
    """The labeler without an LLM (phrase labels) behind the same `fit(papers, vectors)` as the
    LLM labeler."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.labeler = phrase_labeler(settings, embedder)

    def fit(self, papers: Sequence[Paper], vectors: np.ndarray) -> _KeywordStage:
        self.labeler.fit(papers, vectors)
        return self

    def label_tree(self, root: Node) -> dict[int, Label]:
        return self.labeler.label_tree(root)

    def usage_summary(self) -> str | None:
        return None


def phrase_labeler(settings: Settings, embedder: Embedder | None = None) -> PhraseLabeler:
    """Phrase labels; candidate phrases are embedded with the build's model (`embedder`, or
    one made from settings, loaded only when first used)."""
    embedder = embedder or make_embedder(settings, show_progress=False)
    return PhraseLabeler(
        embedder.encode,
        n_keywords=settings.label_keywords,
        extractor=PhraseExtractor(tag_cache=settings.tag_cache_path()),
    )


def make_labeler(
    settings: Settings, client: LlmClient | None = None, embedder: Embedder | None = None
) -> _KeywordStage | LlmLabeler:
    """Phrase labels unless an LLM is configured (settings.llm) or a client is given; the LLM
    labeler falls back to phrase labels."""
    if client is None and settings.llm == "none":
        return _KeywordStage(settings, embedder)
    return LlmLabeler(
        client or client_from_settings(settings),
        phrase_labeler(settings, embedder),
        settings.llm_max_attempts,
    )


def make_facet_extractor(
    settings: Settings, embedder: Embedder, client: LlmClient | None
) -> EmbeddingFacetClassifier | LlmFacetExtractor:
    """LLM facets when settings.llm_facets is on and the run has a client (its own client is
    never made here: the build's one client carries all LLM usage); else zero-shot."""
    zero_shot = EmbeddingFacetClassifier(embedder.encode).fit()
    if not settings.llm_facets or client is None:
        return zero_shot
    return LlmFacetExtractor(client, zero_shot, settings.llm_max_attempts)


def make_tree_builder(settings: Settings) -> TreeBuilder | FixedShapeBuilder:
    """The density tree builder (UMAP + HDBSCAN, k-means fallback) or the fixed-shape one."""
    if settings.tree_mode == "fixed":
        return FixedShapeBuilder(settings.level_sizes, settings.seed)
    backend = resolve_backend(settings.cluster_backend)
    return TreeBuilder(
        reducer=UmapReducer(
            settings.umap_neighbors,
            settings.umap_components,
            settings.seed,
            low_memory=settings.umap_low_memory,
            fit_sample=settings.umap_fit_sample,
            # Only the map tree's one corpus UMAP: HDBSCAN (density mode) found almost no
            # clusters on transformed points (docs/hierarchy.md, UMAP at scale).
            sample_above=settings.umap_sample_above if settings.tree_mode == "map" else 0,
            backend=backend,
        ),
        clusterer=HdbscanClusterer(
            settings.min_cluster_size,
            "cuml" if backend == "cuml" else settings.hdbscan_impl,
            settings.hdbscan_fast_min_points,
            min_samples=settings.hdbscan_min_samples,
            selection=settings.hdbscan_selection,
        ),
        fallback=KMeansSplitter(settings.max_branching, settings.min_leaf_size, settings.seed),
        max_depth=settings.max_depth,
        min_leaf_size=settings.min_leaf_size,
        max_leaf_size=settings.max_leaf_size,
        max_branching=settings.max_branching,
        density_min_points=settings.density_min_points,
        max_cluster_share=settings.max_cluster_share,
        dispatch_min_size=settings.executor_min_subtree,
        reduce_once=settings.umap_scope == "corpus" or settings.tree_mode == "map",
        top_branching=settings.top_topics or None,
        split="map" if settings.tree_mode == "map" else "density",
        reduce_min_points=settings.umap_min_points,
    )


def make_placer(settings: Settings, show_progress: bool = True) -> Placer:
    """The placer of new papers, clustering and naming with the build's own stages."""
    return Placer(settings, make_tree_builder, make_labeler, show_progress)


def make_map_layout(settings: Settings) -> MapLayout:
    """The paper map's layout (UMAP to 2-D at build, nearest-neighbour placement at refresh)."""
    return MapLayout(
        n_neighbors=settings.map_neighbors,
        min_dist=settings.map_min_dist,
        seed=settings.seed,
        place_neighbors=settings.map_place_neighbors,
        sample_above=settings.umap_sample_above,
    )
