"""`hierograph refresh`: read what the watched sources published since the last run, store it,
embed the new papers and place them into the existing tree.

Safe to kill at any point: each page of papers is committed before the next is read; a
source's watermark (in the store's meta) moves only after everything up to it is committed;
embedding and placement work from what the store holds (papers without an embedding, papers
in no topic), not from what this run fetched, so a rerun picks up whatever a crash left.
A lock file under the home keeps two refreshes from running at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import filelock
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hierograph.graph.ids import title_key
from hierograph.graph.models import Paper
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.place import PlaceReport
from hierograph.ingest.arxiv import ArxivClient, ArxivPage, category_query, merge_arxiv
from hierograph.ingest.fetch import SourceError
from hierograph.ingest.hf_papers import HfClient, merge_hf
from hierograph.ingest.rejects import Reject, RejectsFile
from hierograph.methods.link import LinkReport, link_registry
from hierograph.settings import Settings

Merge = Callable[[Paper | None, Paper], Paper]
HF_DAILY_KEY = "watermark:hf:daily"


class RefreshError(RuntimeError):
    """The refresh cannot start; the message says what to do."""


def arxiv_watermark_key(query: str) -> str:
    return f"watermark:arxiv:{query}"


@dataclass
class SourceReport:
    name: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    requests: int = 0
    watermark: str | None = None
    note: str = ""
    error: str | None = None


@dataclass
class RefreshReport:
    sources: list[SourceReport] = field(default_factory=list)
    embedded: int = 0
    place: PlaceReport | None = None
    no_tree: bool = False
    linked: LinkReport | None = None  # methods and code linked again (something was added)
    mapped: int = 0  # papers newly put on the paper map

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]


@dataclass
class Watch:
    """What one refresh reads: arXiv search queries (categories as `cat:` queries), HF daily
    papers on or off, and single HF papers by arXiv id."""

    arxiv_queries: list[str] = field(default_factory=list)
    hf_daily: bool = False
    hf_papers: list[str] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        queries: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        hf_daily: bool | None = None,
        hf_papers: Sequence[str] = (),
    ) -> Watch:
        """The watch list in settings; any query, category or HF choice given replaces it."""
        overridden = bool(queries or categories or hf_papers) or hf_daily is not None
        if overridden:
            q, c, daily = list(queries or []), list(categories or []), bool(hf_daily)
        else:
            q, c, daily = settings.watch_queries, settings.watch_categories, settings.watch_hf_daily
        return cls([*q, *(category_query(x) for x in c)], daily, list(hf_papers))

    def empty(self) -> bool:
        return not (self.arxiv_queries or self.hf_daily or self.hf_papers)


class PaperWriter:
    """Merges fetched records into the store: an existing paper (same id, else same title)
    is updated by the source's merge rule; a changed text gets its new embedding first, so
    a crash never leaves new text beside an old vector."""

    def __init__(self, store: GraphStore, settings: Settings, show_progress: bool) -> None:
        self.store = store
        self.settings = settings
        self.show_progress = show_progress
        self.rejects = RejectsFile(settings.rejects_path())
        self._embedder = None

    def embedder(self):  # noqa: ANN201 - Embedder, imported late (torch is slow to load)
        if self._embedder is None:
            from hierograph.jobs.components import make_embedder

            self._embedder = make_embedder(self.settings, self.show_progress)
        return self._embedder

    def _stored(self, paper: Paper) -> Paper | None:
        old = self.store.get_paper(paper.id)
        if old is None:
            old = self.store.find_paper_by_title_key(title_key(paper.title))
        return old

    def write(self, papers: Sequence[Paper], merge: Merge, into: SourceReport) -> None:
        finals: dict[str, Paper] = {}
        olds: dict[str, Paper | None] = {}
        for paper in papers:
            old = self._stored(paper)
            key = old.id if old else paper.id
            olds.setdefault(key, old)
            base = finals.get(key, old)
            finals[key] = merge(base, paper.model_copy(update={"id": key}))
        rewritten = {
            k: p
            for k, p in finals.items()
            if olds[k] is not None and olds[k].text() != p.text()  # type: ignore[union-attr]
        }
        if rewritten:
            embedded = self.store.get_embeddings(list(rewritten))
            stale = [k for k in rewritten if k in embedded]
            if stale:
                vectors = self.embedder().encode([rewritten[k].text() for k in stale])
                self.store.set_embeddings(dict(zip(stale, vectors, strict=True)))
        result = self.store.replace_papers(list(finals.values()))
        into.fetched += len(papers)
        into.new += result.new
        into.updated += result.updated
        into.unchanged += result.unchanged

    def reject(self, rejects: Sequence[Reject], into: SourceReport) -> None:
        self.rejects.add(list(rejects))
        into.rejected += len(rejects)


def refresh_lock(settings: Settings) -> filelock.BaseFileLock:
    settings.home.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(
        str(settings.home / "refresh.lock"), timeout=settings.refresh_lock_timeout_seconds
    )


def run_refresh(
    store: GraphStore,
    settings: Settings,
    watch: Watch,
    *,
    as_of: date | None = None,
    show_progress: bool = True,
) -> RefreshReport:
    """One refresh under the lock; `as_of` is the last HF daily date to read (default today)."""
    if watch.empty():
        raise RefreshError(
            "nothing to watch: set watch_queries / watch_categories / watch_hf_daily in the "
            "config (or HIEROGRAPH_WATCH_*), or pass --query, --category or --hf-daily."
        )
    lock = refresh_lock(settings)
    try:
        lock.acquire()
    except filelock.Timeout as e:
        raise RefreshError(
            f"another refresh is running (lock {lock.lock_file} is held); wait for it to "
            "finish, or raise refresh_lock_timeout_seconds to wait automatically."
        ) from e
    try:
        return _refresh(store, settings, watch, as_of or date.today(), show_progress)
    finally:
        lock.release()


def _refresh(
    store: GraphStore, settings: Settings, watch: Watch, as_of: date, show_progress: bool
) -> RefreshReport:
    report = RefreshReport()
    writer = PaperWriter(store, settings, show_progress)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} papers"),
        TimeElapsedColumn(),
        disable=not show_progress,
    ) as progress:
        if watch.arxiv_queries:
            arxiv = ArxivClient(settings)
            try:
                for query in watch.arxiv_queries:
                    task = progress.add_task(f"arXiv {query}", total=None)
                    report.sources.append(
                        read_arxiv(
                            arxiv, query, store, writer, lambda n, t=task: progress.advance(t, n)
                        )
                    )
            finally:
                arxiv.close()
        if watch.hf_daily or watch.hf_papers:
            hf = HfClient(settings)
            try:
                if watch.hf_daily:
                    task = progress.add_task("Hugging Face daily papers", total=None)
                    report.sources.append(
                        _read_hf_daily(
                            hf,
                            store,
                            settings,
                            writer,
                            as_of,
                            lambda n, t=task: progress.advance(t, n),
                        )
                    )
                if watch.hf_papers:
                    report.sources.append(_read_hf_papers(hf, watch.hf_papers, writer))
            finally:
                hf.close()
    report.embedded = embed_missing(store, writer)
    if store.root() is None:
        report.no_tree = True
    else:
        from hierograph.jobs.components import make_map_layout, make_placer

        report.place = make_placer(settings, show_progress).run(store)
        if settings.map_layout:
            from hierograph.hierarchy.layout import update_layout

            # New papers join the map beside their neighbours; the rest of the map stays put.
            layout = update_layout(store, make_map_layout(settings), refit=False)
            report.mapped = layout.placed + layout.fitted
    # New and changed papers get their method mentions and code links (and topics their
    # ABOUT edges) as a build gives them; placement first, since ABOUT reads the topics.
    if any(s.new or s.updated for s in report.sources):
        report.linked = link_registry(store, settings)
    return report


def read_arxiv(
    client: ArxivClient,
    query: str,
    store: GraphStore,
    writer: PaperWriter,
    advance: Callable[[int], None] = lambda n: None,
) -> SourceReport:
    """Read one arXiv query from its watermark, storing page by page; the watermark moves
    only over stored pages. A source error is reported in the result, not raised."""
    out = SourceReport(name=f"arXiv {query}")
    key = arxiv_watermark_key(query)
    since = store.get_meta(key)

    def on_page(page: ArxivPage) -> None:
        writer.reject(page.rejects, out)
        if page.papers:
            writer.write(page.papers, merge_arxiv, out)
        advance(len(page.papers))
        # The page is committed: a watermark it carries (oldest-first reads) may move now.
        if page.watermark and page.watermark > (store.get_meta(key) or ""):
            store.set_meta(key, page.watermark)

    try:
        outcome = client.search(query, since, on_page)
    except SourceError as e:
        out.error = str(e)
        out.watermark = store.get_meta(key)
        return out
    out.requests, out.note = outcome.requests, outcome.note
    # Every page up to the watermark is committed (on_page returned): now it may move.
    if outcome.complete and outcome.newest and outcome.newest > (since or ""):
        store.set_meta(key, outcome.newest)
    out.watermark = store.get_meta(key)
    return out


def _read_hf_daily(
    client: HfClient,
    store: GraphStore,
    settings: Settings,
    writer: PaperWriter,
    as_of: date,
    advance: Callable[[int], None],
) -> SourceReport:
    out = SourceReport(name="Hugging Face daily papers")
    done = store.get_meta(HF_DAILY_KEY)
    day = (
        date.fromisoformat(done) + timedelta(days=1)
        if done
        else as_of - timedelta(days=settings.hf_days_back)
    )
    try:
        while day <= as_of:
            papers, rejects = client.daily(day)
            out.requests += 1
            writer.reject(rejects, out)
            if papers:
                writer.write(papers, merge_hf, out)
            advance(len(papers))
            # Today's list still grows: only finished days move the watermark.
            if day < as_of:
                store.set_meta(HF_DAILY_KEY, day.isoformat())
            day += timedelta(days=1)
    except SourceError as e:
        out.error = str(e)
    out.watermark = store.get_meta(HF_DAILY_KEY)
    return out


def _read_hf_papers(client: HfClient, ids: Sequence[str], writer: PaperWriter) -> SourceReport:
    out = SourceReport(name="Hugging Face papers by id")
    missing = []
    for arxiv_id in ids:
        try:
            paper = client.paper(arxiv_id)
        except SourceError as e:
            out.error = str(e)
            return out
        out.requests += 1
        if paper is None:
            missing.append(arxiv_id)
        else:
            writer.write([paper], merge_hf, out)
    if missing:
        out.note = "not on Hugging Face: " + ", ".join(missing)
    return out


def embed_missing(store: GraphStore, writer: PaperWriter, chunk: int = 512) -> int:
    """Embed every paper without an embedding (new ones, or ones a crash left unembedded);
    committed per chunk, and the cache makes a rerun cheap."""
    # Ids only: neither every stored vector nor every paper is read to find the few new ones.
    todo = store.paper_ids(embedded=False)
    for start in range(0, len(todo), chunk):
        part = store.get_papers(todo[start : start + chunk])
        vectors = writer.embedder().encode([p.text() for p in part])
        store.set_embeddings({p.id: v for p, v in zip(part, vectors, strict=True)})
    return len(todo)


def print_report(console: Console, report: RefreshReport, top: int = 10) -> None:
    """What changed: per source, new papers per topic, new topics, fastest-growing topics."""
    sources = Table(title="sources", show_lines=False)
    for column in ("source", "read", "new", "updated", "rejected", "requests", "watermark"):
        sources.add_column(column)
    for s in report.sources:
        sources.add_row(
            s.name,
            str(s.fetched),
            str(s.new),
            str(s.updated),
            str(s.rejected),
            str(s.requests),
            s.watermark or "-",
        )
    console.print(sources)
    for s in report.sources:
        if s.note:
            console.print(f"[yellow]{s.name}:[/yellow] {s.note}")
        if s.error:
            console.print(
                f"[red]{s.name} failed:[/red] {s.error} (its watermark stays at "
                f"{s.watermark or 'none'}: nothing after it counts as read)"
            )
    console.print(f"embedded {report.embedded} papers")
    if report.linked is not None:
        console.print(f"linked methods and code: {report.linked.summary()}", soft_wrap=True)
    if report.mapped:
        console.print(f"put {report.mapped} papers on the paper map")
    if report.no_tree:
        console.print("no topic tree yet: run `hierograph build` to organize the papers.")
        return
    place = report.place
    if place is None:
        return
    if place.resumed:
        console.print("finished a tree edit that an interrupted refresh had started")
    labels = place.labels
    placed = sum(place.placed.values())
    if not placed and not place.new_topics:
        console.print("no new papers to place; the tree is unchanged")
        return
    per_topic = Table(title=f"new papers per topic ({place.pooled} unplaced)")
    per_topic.add_column("topic")
    per_topic.add_column("new papers", justify="right")
    for topic_id, n in sorted(place.placed.items(), key=lambda x: (-x[1], x[0]))[:top]:
        per_topic.add_row(f"{labels.get(topic_id, topic_id)} [dim]{topic_id}[/dim]", str(n))
    console.print(per_topic)
    if place.new_topics:
        new = Table(title=f"new topics ({len(place.new_topics)}; {place.splits} topics split)")
        for column in ("topic", "under", "papers"):
            new.add_column(column)
        for t in place.new_topics[:top]:
            new.add_row(
                f"{t.label} [dim]{t.id}[/dim]", labels.get(t.parent or "", "-"), str(t.size)
            )
        console.print(new)
    if place.grown:
        grown = Table(title="fastest-growing topics")
        for column in ("topic", "before", "after", "growth"):
            grown.add_column(column)
        for t, before, after in place.grown[:top]:
            growth = f"+{(after - before) / max(before, 1):.0%}"
            grown.add_row(f"{t.label} [dim]{t.id}[/dim]", str(before), str(after), growth)
        console.print(grown)
