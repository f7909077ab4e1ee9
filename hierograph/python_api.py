"""`from hierograph import Hierograph`: the main job from Python, in a notebook or a script.

A small facade over the store and the jobs; everything it does is what the CLI does, through
the same functions (ingest.pipeline, jobs.build, jobs.refresh, api.queries, curation.corrections,
graph.export), so the two never disagree:

    with Hierograph(home="notebook-home") as hg:
        hg.ingest(["data/hf-papers-alignment.txt"])
        hg.build()
        tree = hg.tree()
        hits = hg.find("preference optimization without a reward model", k=5)

docs/python-api.md walks through all of it (a test runs that page).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hierograph.api.models import SearchHit, TopicRef
from hierograph.graph.models import Correction
from hierograph.graph.store import GraphStore
from hierograph.settings import Settings, load_settings
from hierograph.topic_tree import TopicTree

if TYPE_CHECKING:
    from hierograph.api.context import ApiContext
    from hierograph.api.models import CodeAnswer
    from hierograph.ingest.pipeline import IngestReport
    from hierograph.jobs.build import BuildReport
    from hierograph.jobs.refresh import RefreshReport
    from hierograph.llm.client import LlmClient

Hit = SearchHit
"""A paper found by `search` or `find`: `id`, `title`, `score` (higher is better) and
`topic_paths` (for each topic the paper sits in, the path root → … → topic as TopicRefs with
`id` and `label`). The REST API answers the same shape."""

__all__ = ["Corrections", "Hierograph", "Hit", "TopicRef", "TopicTree"]


class Hierograph:
    """One Hierograph home: its store, and the jobs and queries over it.

    `home` is the state directory (default: $HIEROGRAPH_HOME or ./.hierograph); `store` is a
    backend name ("sqlite", the default, or "neo4j") or an open GraphStore, which the caller
    keeps and closes; any other keyword is a setting (hierograph/settings.py, e.g.
    `llm="openai/gpt-4o-mini"`, `max_depth=3`), taking precedence over HIEROGRAPH_* variables
    and the TOML file. `progress` shows progress bars on the long steps (build, refresh).
    `verbose` lets the libraries underneath print their own bars and banners (transformers'
    "Loading weights", litellm's hints), as `hierograph --verbose` does; by default they stay
    silent, in the whole process (hierograph/noise.py).

    Use it as a context manager, or call `close()`. Errors are the jobs' own, each with a
    message that says what to do: IngestError, BuildError, RefreshError, StoreError,
    CorrectionError, and api.queries' NotFound / InvalidInput for lookups."""

    def __init__(
        self,
        home: str | Path | None = None,
        store: str | GraphStore | None = None,
        *,
        progress: bool = True,
        verbose: bool = False,
        **settings: Any,
    ) -> None:
        from hierograph.noise import set_verbose

        # A notebook has no CLI entry point to set the output policy: the facade sets it.
        set_verbose(verbose)
        unknown = sorted(set(settings) - set(Settings.model_fields))
        if unknown:
            # Settings ignore unknown environment variables; a typo in code should not pass.
            raise TypeError(
                f"unknown setting(s) {', '.join(unknown)}; hierograph/settings.py lists them "
                "all (docs/configuration.md)"
            )
        backend = store if isinstance(store, str) else None
        self.settings: Settings = load_settings(home=home, store=backend, **settings)
        """The settings this instance runs with."""
        self.progress = progress
        self._owns_store = not isinstance(store, GraphStore)
        if isinstance(store, GraphStore):
            self.store: GraphStore = store
        else:
            from hierograph.graph.factory import open_store

            self.store = open_store(self.settings)
        """The open store: the full store interface (graph/store.py) for anything beyond
        this facade."""
        self._ctx: ApiContext | None = None
        self._lock = threading.RLock()
        self.corrections = Corrections(self.store, self.settings.correction_actor)
        """Edits of the tree: applied at once, logged, undoable, replayed onto every rebuild."""

    # --- the main job ---
    def ingest(self, paths: str | Path | Iterable[str | Path]) -> IngestReport:
        """Read paper files into the store (a saved HF papers page .txt, .jsonl or .csv);
        bad records go to <home>/rejects.jsonl. Returns the counts (`.summary()` in words)."""
        from hierograph.ingest.pipeline import ingest_paths

        files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        return ingest_paths(self.store, files, self.settings.rejects_path())

    def build(self, fresh: bool = False, llm: str | LlmClient | None = None) -> BuildReport:
        """Embed every paper, grow the topic tree, name its topics and store it; corrections
        are replayed onto the new tree. `fresh` clusters from scratch instead of seeding the
        splits with the stored tree (topic ids are still matched by paper overlap). `llm` is a
        litellm model string (or "none" for keyword labels) for this build, or an LlmClient
        to use as the build's one client."""
        from hierograph.jobs.build import build_hierarchy

        settings = self.settings
        if fresh:
            settings = settings.model_copy(update={"guided_rebuild": False})
        client = None
        if isinstance(llm, str):
            settings = settings.model_copy(update={"llm": llm})
        elif llm is not None:
            client = llm
        with self._lock:
            return build_hierarchy(self.store, settings, self.progress, client)

    def refresh(
        self,
        queries: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        hf_daily: bool | None = None,
        hf_papers: Iterable[str] = (),
        as_of: date | None = None,
    ) -> RefreshReport:
        """Fetch what the watched sources published since the last refresh and place the new
        papers into the tree. Any of `queries` (arXiv search queries), `categories` (arXiv
        categories), `hf_daily` or `hf_papers` (arXiv ids) replaces the watch list of the
        settings; `as_of` is the last HF daily date read (default today)."""
        from hierograph.jobs.refresh import Watch, run_refresh

        watch = Watch.from_settings(
            self.settings,
            list(queries) if queries is not None else None,
            list(categories) if categories is not None else None,
            hf_daily,
            list(hf_papers),
        )
        with self._lock:
            return run_refresh(
                self.store, self.settings, watch, as_of=as_of, show_progress=self.progress
            )

    # --- reading the tree ---
    def tree(self) -> TopicTree:
        """A snapshot of the current topic tree (ValueError before the first build)."""
        with self._lock:
            return TopicTree.from_store(self.store)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Papers matching `query`, best first: vector and full-text scores fused (the REST
        API's /papers/search)."""
        from hierograph.api.queries import search_papers

        return list(search_papers(self._context(), query, limit=k).results)

    def find(
        self,
        description: str,
        k: int = 5,
        strategy: Literal["hybrid", "tree", "flat"] = "hybrid",
    ) -> list[Hit]:
        """The papers best matching a description of one paper, best first, each with its
        topic paths: hybrid search, vector and full-text scores fused ("hybrid", the default
        and the best measured), the tree walked top-down ("tree", LLM-ranked when an LLM is
        configured) or plain search ("flat"). Same as `hierograph find`."""
        from hierograph.api.queries import find

        return list(find(self._context(), description, k, strategy).results)

    def code(self, concept: str, papers: int = 5) -> CodeAnswer:
        """Concept → papers → code: the methods matching a method name or a topic label, each
        with up to `papers` papers and its implementations, best first (`hierograph code`)."""
        from hierograph.api.queries import code_answer

        return code_answer(self._context(), concept, papers)

    def export(
        self,
        path: str | Path,
        format: Literal["json", "graphml", "bibtex", "csl-json"] = "json",
        version: int = 2,
    ) -> Path:
        """Write the whole graph to `path`, as `hierograph export` does: "json" (the documented
        export contract; `version` 2 carries abstracts, authors, dates, links, facets and
        methods, 1 is `tree().to_dict()`), "graphml" (Gephi, Cytoscape, yEd), or every paper
        for a reference manager as "bibtex" or "csl-json" (Zotero imports both). Returns the
        path."""
        from hierograph.graph.bibtex import to_bibtex
        from hierograph.graph.csl_json import to_csl_json
        from hierograph.graph.export import export_dict, references, write_graphml

        out = Path(path)
        with self._lock:
            if format == "json":
                data = export_dict(self.store, version)
                out.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
            elif format == "graphml":
                write_graphml(self.store, out)
            elif format in ("bibtex", "csl-json"):
                refs = references(self.store, [p.id for p in self.store.iter_papers()])
                if format == "bibtex":
                    out.write_text(to_bibtex(refs), encoding="utf-8")
                else:
                    text = json.dumps(to_csl_json(refs), indent=1, ensure_ascii=False)
                    out.write_text(text, encoding="utf-8")
            else:
                raise ValueError(
                    f"unknown export format {format!r}; use json, graphml, bibtex or csl-json"
                )
        return out

    # --- lifetime ---
    def close(self) -> None:
        """Close the store (unless the caller gave it) and the query context's LLM client."""
        with self._lock:
            if self._ctx is not None and self._ctx.llm is not None:
                self._ctx.llm.close()
            self._ctx = None
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> Hierograph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Hierograph(home={str(self.settings.home)!r}, store={self.settings.store!r})"

    def _context(self) -> ApiContext:
        """The query context the API server holds, over this instance's store: made on the
        first query (the embedding model loads then) and kept."""
        with self._lock:
            if self._ctx is None:
                from hierograph.api.context import ApiContext, llm_client
                from hierograph.jobs.components import make_embedder

                self._ctx = ApiContext(
                    settings=self.settings,
                    store=self.store,
                    embedder=make_embedder(self.settings, show_progress=False),
                    llm=llm_client(self.settings),
                    lock=self._lock,
                )
            return self._ctx


class Corrections:
    """Hand edits of the topic tree (curation/corrections.py): each is applied at once, logged
    with its actor, can be undone, and is replayed onto every rebuilt tree. Every method
    returns the log entry (its `id` is what `undo` takes) and raises CorrectionError with the
    reason when the edit cannot be made. `actor` defaults to settings.correction_actor."""

    def __init__(self, store: GraphStore, actor: str) -> None:
        self._store = store
        self.actor = actor
        """Who the corrections are logged as, unless a call names another actor."""

    def move_paper(
        self, paper_id: str, from_topic: str, to_topic: str, actor: str | None = None
    ) -> Correction:
        """Move a paper from one topic to a leaf topic."""
        from hierograph.curation.corrections import move_paper

        return move_paper(self._store, paper_id, from_topic, to_topic, actor=actor or self.actor)

    def confirm_paper(self, paper_id: str, topic_id: str, actor: str | None = None) -> Correction:
        """Say `paper_id` is right where it is, in `topic_id`: the placement becomes a human
        one (kept on every rebuild, learned from by the corrector)."""
        from hierograph.curation.corrections import confirm_paper

        return confirm_paper(self._store, paper_id, topic_id, actor=actor or self.actor)

    def add_topic(self, paper_id: str, topic_id: str, actor: str | None = None) -> Correction:
        """Put a paper in a second (third, …) leaf topic too."""
        from hierograph.curation.corrections import add_topic

        return add_topic(self._store, paper_id, topic_id, actor=actor or self.actor)

    def remove_assignment(
        self, paper_id: str, topic_id: str, actor: str | None = None
    ) -> Correction:
        """Take a paper out of one of its topics (not its only one: move it instead)."""
        from hierograph.curation.corrections import remove_assignment

        return remove_assignment(self._store, paper_id, topic_id, actor=actor or self.actor)

    def rename_topic(
        self, topic_id: str, label: str, summary: str | None = None, actor: str | None = None
    ) -> Correction:
        """Rename a topic and optionally rewrite its summary."""
        from hierograph.curation.corrections import rename_topic

        return rename_topic(self._store, topic_id, label, summary, actor=actor or self.actor)

    def merge_topics(self, source: str, target: str, actor: str | None = None) -> Correction:
        """Merge topic `source` into `target` (its papers and subtopics move there)."""
        from hierograph.curation.corrections import merge_topics

        return merge_topics(self._store, source, target, actor=actor or self.actor)

    def split_topic(
        self,
        topic_id: str,
        paper_ids: list[str],
        label: str | None = None,
        actor: str | None = None,
    ) -> Correction:
        """Split a leaf: the named papers leave it for a new sibling topic."""
        from hierograph.curation.corrections import split_topic

        return split_topic(self._store, topic_id, list(paper_ids), label, actor=actor or self.actor)

    def move_topic(self, topic_id: str, new_parent: str, actor: str | None = None) -> Correction:
        """Move a topic, with its subtree, under another parent."""
        from hierograph.curation.corrections import move_topic

        return move_topic(self._store, topic_id, new_parent, actor=actor or self.actor)

    def delete_topic(self, topic_id: str, actor: str | None = None) -> Correction:
        """Delete a topic that holds no papers and no subtopics."""
        from hierograph.curation.corrections import delete_topic

        return delete_topic(self._store, topic_id, actor=actor or self.actor)

    def undo(self, correction_id: int, actor: str | None = None) -> Correction:
        """Undo a correction: its inverse is applied and logged; the log keeps both."""
        from hierograph.curation.corrections import undo

        return undo(self._store, correction_id, actor=actor or self.actor)

    def log(self, active_only: bool = False) -> list[Correction]:
        """The corrections log, oldest first (`undo` entries included); `active_only` keeps
        the corrections still in effect: no undo entries, nothing undone."""
        entries = self._store.corrections()
        if not active_only:
            return entries
        from hierograph.curation.corrections import active_corrections

        return active_corrections(entries)
