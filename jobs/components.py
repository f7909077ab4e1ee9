"""The one place that turns settings into components: the embedder, the tree builder, the
labeler, the facet extractor, the LLM client and the executor. Jobs, the API and the UI ask here;
nothing below this layer reads settings to choose a class."""

from __future__ import annotations

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
from hierograph.hierarchy.label import KeywordLabeler, Label
from hierograph.hierarchy.place import Placer
from hierograph.hierarchy.tree import FixedShapeBuilder, Node, TreeBuilder
from hierograph.llm.client import LlmClient
from hierograph.llm.facets import LlmFacetExtractor
from hierograph.llm.label import LlmLabeler
from hierograph.settings import Settings


def client_from_settings(settings: Settings) -> LlmClient:
    """The client that settings.llm names, with its cache under the home."""
    return LlmClient(
        settings.llm,
        cache_path=settings.llm_cache_path(),
        concurrency=settings.llm_concurrency,
        timeout=settings.llm_timeout,
    )


def executor_from_settings(settings: Settings) -> Executor:
    return make_executor(settings.executor, settings.executor_workers, settings.ray_address)


def make_embedder(settings: Settings, show_progress: bool = True) -> Embedder:
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
    """The keyword labeler behind the same `fit(papers, vectors)` as the LLM labeler."""

    def __init__(self, settings: Settings) -> None:
        self.labeler = KeywordLabeler(n_keywords=settings.label_keywords)

    def fit(self, papers: list[Paper], vectors: np.ndarray) -> _KeywordStage:
        self.labeler.fit([p.text() for p in papers])
        return self

    def label_tree(self, root: Node) -> dict[int, Label]:
        return self.labeler.label_tree(root)

    def usage_summary(self) -> str | None:
        return None


def make_labeler(settings: Settings, client: LlmClient | None = None) -> _KeywordStage | LlmLabeler:
    """Keyword labels unless an LLM is configured (settings.llm) or a client is given."""
    if client is None and settings.llm == "none":
        return _KeywordStage(settings)
    return LlmLabeler(
        client or client_from_settings(settings),
        KeywordLabeler(n_keywords=settings.label_keywords),
        settings.llm_max_attempts,
    )


def make_facet_extractor(
    settings: Settings, embedder: Embedder, client: LlmClient | None = None
) -> EmbeddingFacetClassifier | LlmFacetExtractor:
    zero_shot = EmbeddingFacetClassifier(embedder.encode).fit()
    if not settings.llm_facets or (client is None and settings.llm == "none"):
        return zero_shot
    return LlmFacetExtractor(
        client or client_from_settings(settings), zero_shot, settings.llm_max_attempts
    )


def make_tree_builder(settings: Settings) -> TreeBuilder | FixedShapeBuilder:
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
