"""`hierograph build`: embed every paper, grow the topic tree, label it, write it to the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from hierograph.curation.replay import ReplayReport, replay_onto
from hierograph.graph.models import Assignment, Hierarchy, Topic, utc_now
from hierograph.graph.paper_source import StoredPapers
from hierograph.graph.store import GraphStore
from hierograph.hierarchy import previous as previous_tree
from hierograph.hierarchy.embed import Embedder
from hierograph.hierarchy.executor import Executor
from hierograph.hierarchy.label import TreeLabeler
from hierograph.hierarchy.multilabel import SecondLeafAssigner
from hierograph.hierarchy.stable_ids import IdMatch, StableIdMatcher, subtree_papers
from hierograph.hierarchy.tree import Guide, Node, TreeBuilder, content_id
from hierograph.jobs.components import (
    executor_from_settings,
    make_embedder,
    make_facet_extractor,
    make_labeler,
    make_map_layout,
    make_tree_builder,
    run_client,
)
from hierograph.llm.client import LlmClient, unreachable_note
from hierograph.llm.label import structured_fields
from hierograph.llm.paper_summaries import prepare_clustering
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
    multi_labeled: int
    ids: IdMatch
    llm: str | None = None
    refined: str | None = None  # the LLM refine pass: merges, moves, declined, calls
    mapped: int = 0  # papers laid out on the paper map
    corrections: ReplayReport | None = None  # how the corrections log was replayed


def embed_papers(
    embedder: Embedder, texts: Sequence[str], settings: Settings, executor: Executor
) -> np.ndarray:
    """On a Ray executor the cache misses are embedded as Ray tasks (one per chunk, on every
    node of a cluster); the cache and the matrix stay in this process."""
    if executor.name != "ray":
        return embedder.encode(texts)
    from functools import partial

    from hierograph.hierarchy.executor import embed_distributed

    compute = partial(
        embed_distributed,
        executor=executor,
        model=settings.embedding_model,
        device=settings.device,
        batch_size=settings.embedding_batch_size,
        chunk_size=max(1, settings.embedding_chunk_size // (settings.executor_workers or 2)),
        precision=settings.embedding_precision,
    )
    return embedder.encode(texts, compute=compute)


def to_hierarchy(root: Node, paper_ids: list[str], labeler: TreeLabeler) -> Hierarchy:
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
                **structured_fields(label),
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
    store: GraphStore,
    settings: Settings,
    show_progress: bool = True,
    llm_client: LlmClient | None = None,
) -> BuildReport:
    """`llm_client` overrides the one settings.llm would make (tests pass a mocked one)."""
    # The papers stay in the store: each stage that needs their text streams them (ids only
    # in memory here; see graph.paper_source).
    papers = StoredPapers(store)
    if not papers:
        raise BuildError("the store holds no papers: run `hierograph ingest PATH…` first.")
    # One LLM client for the whole build (facets, paper summaries, labels, refine), so its
    # usage account is the build's whole LLM cost; closed here unless the caller gave it.
    client = run_client(settings, llm_client)
    try:
        # One executor for the whole build: a local Ray starts once, for embedding and the tree.
        with executor_from_settings(settings) as executor:
            return _build(store, settings, papers, executor, show_progress, client)
    finally:
        if client is not None and llm_client is None:
            client.close()


def _build(
    store: GraphStore,
    settings: Settings,
    papers: StoredPapers,
    executor: Executor,
    show_progress: bool,
    client: LlmClient | None,
) -> BuildReport:
    embedder = make_embedder(settings, show_progress)
    # Memory-mapped from the embedding cache's folder above embedder.memmap_min_rows papers:
    # the one dense copy of the abstract embeddings; rows of it are passed on, not copied.
    vectors = embed_papers(embedder, papers.texts(), settings, executor)
    # Read now: the facet classifier's own encode calls below reset the embedder's counters.
    embedded, cached = embedder.embedded_count_, embedder.cached_count_
    paper_ids = papers.ids
    stored_vectors = vectors  # the paper map lays these out (the search embeddings)
    store.set_embeddings(dict(zip(paper_ids, vectors, strict=True)))
    if settings.facets:
        extractor = make_facet_extractor(settings, embedder, client)
        store.replace_facets(extractor.predict(papers, np.asarray(vectors)))
    # Paper summaries (llm_paper_summaries), then what is clustered (embedding_source): from
    # here on `vectors` are the clustering vectors; the stored ones above stay for search.
    clustering = prepare_clustering(store, settings, papers, np.asarray(vectors), embedder, client)
    vectors = clustering.vectors

    with Progress(
        TextColumn("clustering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("papers placed in leaves"),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("cluster", total=len(paper_ids))
        # The previous build's clustered tree (before its corrections were replayed): the guide
        # and the id reference, so a rebuild of unchanged input repeats the previous build.
        memory = previous_tree.load(store.get_meta(previous_tree.META_KEY))
        if memory is None:
            stored = Hierarchy(topics=store.topics(), assignments=store.assignments())
            memory = previous_tree.from_stored_tree(stored)
        previous = memory.hierarchy
        builder = make_tree_builder(settings)
        kwargs = {}
        if isinstance(builder, TreeBuilder) and settings.guided_rebuild and previous.topics:
            kwargs["guide"] = guide_from(memory.primary_hierarchy(), paper_ids)
        if isinstance(builder, TreeBuilder):
            kwargs["executor"] = executor
        tree = builder.fit(
            np.asarray(vectors), on_leaf=lambda n: progress.advance(task, n), **kwargs
        )
    labeler = make_labeler(settings, client, embedder).fit(clustering.papers, np.asarray(vectors))
    hierarchy = to_hierarchy(tree.root_, paper_ids, labeler)
    from hierograph.llm.refine import refine_hierarchy

    # An LLM may merge near-duplicate siblings and move misplaced leaves (llm_refine_budget).
    hierarchy, refined = refine_hierarchy(
        hierarchy, clustering.papers, np.asarray(vectors), settings, client
    )
    n_primary = len(hierarchy.assignments)  # second topics are appended after these
    hierarchy, multi_labeled = SecondLeafAssigner(
        settings.multi_label_margin, settings.multi_label_min_similarity
    ).extend(hierarchy, dict(zip(paper_ids, vectors, strict=True)))
    hierarchy, ids = StableIdMatcher(settings.keep_id_jaccard, settings.keep_label_jaccard).match(
        previous, with_sizes(hierarchy)
    )
    # Human corrections outlive every rebuild: replayed onto the new tree in memory, and the
    # corrected tree is written in one transaction with the replay's record, so a crash at any
    # point leaves the old tree with its corrections or the new one with its corrections.
    built_at = hierarchy.root().built_at
    clustered = previous_tree.dump(hierarchy, n_primary)
    replay = replay_onto(
        hierarchy, store.corrections(), set(paper_ids), settings.correction_min_overlap
    )
    hierarchy = replay.hierarchy
    meta = {**replay.meta(), "last_build": built_at, previous_tree.META_KEY: clustered}
    store.replace_hierarchy(hierarchy, meta=meta)
    # Methods, paper/topic→method links and code links follow the new tree (issue 6).
    from hierograph.methods.link import link_registry

    link_registry(store, settings)
    mapped = 0
    if settings.map_layout:
        from hierograph.hierarchy.layout import update_layout

        with Progress(
            SpinnerColumn(),
            TextColumn("laying out the paper map"),
            TimeElapsedColumn(),
            disable=not show_progress,
            transient=True,
        ):
            mapped = update_layout(
                store,
                make_map_layout(settings),
                refit=True,
                embeddings=(paper_ids, stored_vectors),
                knn=_tree_knn(builder, paper_ids)
                if settings.embedding_source == "abstract"
                else None,
            ).fitted
    levels = max(t.level for t in hierarchy.topics)
    return BuildReport(
        papers=len(paper_ids),
        topics=len(hierarchy.topics),
        leaves=len({t.id for t in hierarchy.topics} - {t.parent for t in hierarchy.topics}),
        depth=levels,
        embedded=embedded,
        cached=cached,
        multi_labeled=multi_labeled,
        ids=ids,
        llm=unreachable_note(client)
        or "; ".join(n for n in (clustering.note, labeler.usage_summary()) if n)
        or None,
        refined=refined.summary() if refined else None,
        mapped=mapped,
        corrections=replay.report,
    )


def _tree_knn(
    builder: TreeBuilder | object, paper_ids: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """The corpus UMAP's neighbour graph, for the paper map to reuse: only when the tree was
    cut from one UMAP of every paper's stored (abstract) embedding, which is what the map
    lays out (embedding_source "abstract"; other sources cluster other vectors)."""
    knn = getattr(getattr(builder, "reducer", None), "knn_", None)
    if knn is None or len(knn[0]) != len(paper_ids):
        return None
    return paper_ids, knn[0], knn[1]


def guide_from(previous: Hierarchy, paper_ids: list[str]) -> Guide:
    """The previous tree as a Guide over the rows of this build's embedding matrix."""
    row = {pid: i for i, pid in enumerate(paper_ids)}
    papers = subtree_papers(previous)
    guides = {
        t.id: Guide(members={row[p] for p in papers[t.id] if p in row}) for t in previous.topics
    }
    for t in previous.topics:  # ordered by level: children are appended in id order
        if t.parent in guides:
            guides[t.parent].children.append(guides[t.id])
    return guides[previous.root().id]


def with_sizes(hierarchy: Hierarchy) -> Hierarchy:
    """Each topic's size: distinct papers in its subtree, second topics included."""
    papers = subtree_papers(hierarchy)
    return hierarchy.model_copy(
        update={
            "topics": [t.model_copy(update={"size": len(papers[t.id])}) for t in hierarchy.topics]
        }
    )
