"""`hierograph build`: embed every paper, grow the topic tree, label it, write it to the store."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hierograph.graph.models import Assignment, Hierarchy, Topic, utc_now
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.cluster import HdbscanClusterer, KMeansSplitter, UmapReducer
from hierograph.hierarchy.embed import Embedder
from hierograph.hierarchy.label import KeywordLabeler
from hierograph.hierarchy.tree import Node, TreeBuilder, content_id
from hierograph.settings import Settings

ROOT_ID = "root"


class BuildError(RuntimeError):
    """The build cannot run; the message says what to do."""


@dataclass(frozen=True)
class BuildReport:
    papers: int
    topics: int
    leaves: int
    depth: int
    embedded: int
    cached: int


def make_embedder(settings: Settings, show_progress: bool = True) -> Embedder:
    return Embedder(
        model=settings.embedding_model,
        device=settings.device,
        batch_size=settings.embedding_batch_size,
        cache_path=settings.embedding_cache_path(),
        show_progress=show_progress,
    )


def make_tree_builder(settings: Settings) -> TreeBuilder:
    return TreeBuilder(
        reducer=UmapReducer(settings.umap_neighbors, settings.umap_components, settings.seed),
        clusterer=HdbscanClusterer(settings.min_cluster_size),
        fallback=KMeansSplitter(settings.max_branching, settings.min_leaf_size, settings.seed),
        max_depth=settings.max_depth,
        min_leaf_size=settings.min_leaf_size,
        max_leaf_size=settings.max_leaf_size,
        max_branching=settings.max_branching,
    )


def to_hierarchy(root: Node, paper_ids: list[str], labeler: KeywordLabeler) -> Hierarchy:
    labels = labeler.label_tree(root)
    built_at = utc_now()
    ids: dict[int, str] = {}
    topics: list[Topic] = []
    assignments: list[Assignment] = []
    for node, parent, level in root.walk():
        topic_id = ROOT_ID if parent is None else content_id([paper_ids[m] for m in node.members])
        ids[id(node)] = topic_id
        label = labels[id(node)]
        topics.append(
            Topic(
                id=topic_id,
                label=label.label,
                parent=None if parent is None else ids[id(parent)],
                level=level,
                summary=label.summary,
                keywords=label.keywords,
                size=len(node.members),
                built_at=built_at,
            )
        )
        assignments.extend(
            Assignment(paper_id=paper_ids[m], topic_id=topic_id, score=round(s, 6), at=built_at)
            for m, s in sorted(node.scores.items())
        )
    return Hierarchy(topics=topics, assignments=assignments)


def build_hierarchy(
    store: GraphStore, settings: Settings, show_progress: bool = True
) -> BuildReport:
    papers = list(store.iter_papers())
    if not papers:
        raise BuildError("the store holds no papers: run `hierograph ingest PATH…` first.")
    embedder = make_embedder(settings, show_progress)
    vectors = embedder.encode([p.text() for p in papers])
    paper_ids = [p.id for p in papers]
    store.set_embeddings(dict(zip(paper_ids, vectors, strict=True)))

    with Progress(
        TextColumn("clustering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("papers placed in leaves"),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("cluster", total=len(papers))
        tree = make_tree_builder(settings).fit(
            np.asarray(vectors), on_leaf=lambda n: progress.advance(task, n)
        )
    labeler = KeywordLabeler(n_keywords=settings.label_keywords).fit([p.text() for p in papers])
    hierarchy = to_hierarchy(tree.root_, paper_ids, labeler)
    store.replace_hierarchy(hierarchy)
    store.set_meta("last_build", hierarchy.topics[0].built_at)
    levels = max(t.level for t in hierarchy.topics)
    return BuildReport(
        papers=len(papers),
        topics=len(hierarchy.topics),
        leaves=len(tree.root_.leaves()),
        depth=levels,
        embedded=embedder.embedded_count_,
        cached=embedder.cached_count_,
    )
