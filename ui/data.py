"""What the browser shows, computed from the store: the tree with counts and growth, trends, a
topic's papers and facets, a paper's topic paths. Plain functions and records,
no Streamlit, so the pages stay thin and these are tested directly; `ui/cache.py` caches them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

import pandas as pd
from pydantic import BaseModel

from hierograph.graph.models import Assignment, Facet, Topic, topic_path
from hierograph.graph.store import GraphStore

T = TypeVar("T")

PATH_SEPARATOR = " › "


@dataclass(frozen=True)
class PaperBrief:
    """The few fields of a paper the tree views need (titles, dates, code), for every paper."""

    id: str
    title: str
    published: str | None
    has_code: bool
    upvotes: int | None = None


@dataclass
class TreeView:
    """The whole current tree as plain data, read once per store version and shared read-only."""

    topics: dict[str, Topic]
    children: dict[str, list[str]]
    by_topic: dict[str, list[Assignment]]
    by_paper: dict[str, list[Assignment]]
    papers: dict[str, PaperBrief]
    subtree_papers: dict[str, frozenset[str]] = field(default_factory=dict)
    recent_since: str | None = None

    @property
    def root(self) -> Topic | None:
        return next((t for t in self.topics.values() if t.parent is None), None)

    def path(self, topic_id: str) -> list[Topic]:
        """root → … → topic, inclusive; empty when the topic is unknown."""
        return topic_path(self.topics, topic_id)

    def path_label(self, topic_id: str) -> str:
        """Labels below the root: the root names the whole corpus, so it adds nothing."""
        return PATH_SEPARATOR.join(t.label for t in self.path(topic_id)[1:]) or (
            self.topics[topic_id].label if topic_id in self.topics else topic_id
        )

    def paper_count(self, topic_id: str) -> int:
        return len(self.subtree_papers.get(topic_id, ()))

    def growth(self, topic_id: str) -> float:
        """Share of the topic's papers published in the most recent period of the data."""
        ids = self.subtree_papers.get(topic_id, frozenset())
        dated = [self.papers[p].published for p in ids if p in self.papers]
        dated = [d for d in dated if d]
        if not dated or self.recent_since is None:
            return 0.0
        return sum(d >= self.recent_since for d in dated) / len(dated)

    def ordered_topics(self) -> list[Topic]:
        """Depth-first, children by descending size: the order a reader expects in a picker."""
        root = self.root
        if root is None:
            return []
        out: list[Topic] = []
        stack = [root.id]
        while stack:
            tid = stack.pop()
            out.append(self.topics[tid])
            kids = sorted(self.children.get(tid, []), key=lambda c: (self.paper_count(c), c))
            stack.extend(kids)  # the largest child is pushed last, so it is visited first
        return out

    def subtree_topics(self, topic_id: str) -> set[str]:
        out, stack = set(), [topic_id]
        while stack:
            tid = stack.pop()
            out.add(tid)
            stack.extend(self.children.get(tid, []))
        return out

    def is_leaf(self, topic_id: str) -> bool:
        return not self.children.get(topic_id)


def recent_cutoff(dates: Iterable[str | None], recent_days: int) -> str | None:
    """The first day of the most recent `recent_days` of the data (not of the calendar: a corpus
    collected a year ago still has a "recent" period)."""
    days = [d[:10] for d in dates if d and len(d) >= 10]
    if not days:
        return None
    try:
        latest = date.fromisoformat(max(days))
    except ValueError:
        return None
    return (latest - timedelta(days=recent_days - 1)).isoformat()


def load_tree(store: GraphStore, recent_days: int) -> TreeView:
    topics = {t.id: t for t in store.topics()}
    children: dict[str, list[str]] = defaultdict(list)
    for t in topics.values():
        if t.parent is not None:
            children[t.parent].append(t.id)
    by_topic: dict[str, list[Assignment]] = defaultdict(list)
    by_paper: dict[str, list[Assignment]] = defaultdict(list)
    for a in store.assignments():
        if a.topic_id in topics:
            by_topic[a.topic_id].append(a)
            by_paper[a.paper_id].append(a)
    coded = {link.paper_id for link in store.code_links()}
    papers = {
        p.id: PaperBrief(
            id=p.id,
            title=p.title,
            published=p.published[:10] if p.published else None,
            has_code=bool(p.code_urls or p.github_repo) or p.id in coded,
            upvotes=p.upvotes,
        )
        for p in store.iter_papers()
    }
    view = TreeView(
        topics=topics,
        children=dict(children),
        by_topic=dict(by_topic),
        by_paper=dict(by_paper),
        papers=papers,
        recent_since=recent_cutoff((p.published for p in papers.values()), recent_days),
    )
    view.subtree_papers = _subtree_papers(view)
    return view


def _subtree_papers(view: TreeView) -> dict[str, frozenset[str]]:
    """Distinct papers under each topic; a paper in two leaves of one branch counts once."""
    sets: dict[str, set[str]] = {tid: set() for tid in view.topics}
    # Deepest first, so each child's set is complete before it is folded into its parent.
    for t in sorted(view.topics.values(), key=lambda t: -t.level):
        sets[t.id].update(a.paper_id for a in view.by_topic.get(t.id, []))
        if t.parent in sets:
            sets[t.parent].update(sets[t.id])
    return {k: frozenset(v) for k, v in sets.items()}


# --- the map ------------------------------------------------------------------------------------


def map_frame(view: TreeView) -> pd.DataFrame:
    """One row per topic for the sunburst. `weight` counts leaf assignments, so a parent always
    equals the sum of its children (plotly's "total" branch mode needs that, and a paper in two
    topics really is in both); `papers` is the distinct count that the hover text shows."""
    weight: dict[str, int] = {}
    for t in sorted(view.topics.values(), key=lambda t: -t.level):
        weight[t.id] = len(view.by_topic.get(t.id, [])) + sum(
            weight[c] for c in view.children.get(t.id, [])
        )
    rows = [
        {
            "id": t.id,
            "parent": t.parent or "",
            "label": t.label,
            "level": t.level,
            "weight": weight[t.id],
            "papers": view.paper_count(t.id),
            "growth": round(view.growth(t.id), 4),
            "keywords": ", ".join(t.keywords[:5]),
        }
        for t in view.topics.values()
    ]
    return pd.DataFrame(rows)


def corpus_growth(view: TreeView) -> float | None:
    """The recent share over the whole corpus; None when no paper has a date."""
    root = view.root
    return view.growth(root.id) if root and view.recent_since else None


def trend_frame(view: TreeView) -> pd.DataFrame:
    """Papers per month under each top-level topic (from published dates)."""
    root = view.root
    rows: list[dict[str, object]] = []
    if root is None:
        return pd.DataFrame(columns=["month", "topic", "papers"])
    for tid in view.children.get(root.id, []):
        months = Counter(
            view.papers[p].published[:7]  # type: ignore[index]
            for p in view.subtree_papers.get(tid, ())
            if p in view.papers and view.papers[p].published
        )
        label = view.topics[tid].label
        rows.extend({"month": m, "topic": label, "papers": n} for m, n in months.items())
    frame = pd.DataFrame(rows, columns=["month", "topic", "papers"])
    return frame.sort_values(["month", "topic"]).reset_index(drop=True)


def fastest_growing(view: TreeView, n: int, min_papers: int) -> list[tuple[Topic, float, int]]:
    """Leaves with the largest recent share, among those big enough for a share to mean much."""
    rows = [
        (view.topics[tid], view.growth(tid), view.paper_count(tid))
        for tid in view.topics
        if view.is_leaf(tid) and view.paper_count(tid) >= min_papers
    ]
    rows.sort(key=lambda r: (-r[1], -r[2], r[0].id))
    return rows[:n]


# --- a topic ------------------------------------------------------------------------------------


class TopicPaper(BaseModel):
    paper_id: str
    title: str
    published: str | None
    score: float
    origin: str
    topic_id: str


def topic_papers(view: TreeView, topic_id: str) -> list[TopicPaper]:
    """The topic's papers by descending assignment score; under an inner topic, every paper of
    its subtree with its best assignment there."""
    below = view.subtree_topics(topic_id)
    best: dict[str, Assignment] = {}
    for tid in below:
        for a in view.by_topic.get(tid, []):
            if a.paper_id not in best or a.score > best[a.paper_id].score:
                best[a.paper_id] = a
    out = [
        TopicPaper(
            paper_id=a.paper_id,
            title=view.papers[a.paper_id].title if a.paper_id in view.papers else a.paper_id,
            published=view.papers[a.paper_id].published if a.paper_id in view.papers else None,
            score=a.score,
            origin=a.origin,
            topic_id=a.topic_id,
        )
        for a in best.values()
    ]
    out.sort(key=lambda p: (-p.score, p.paper_id))
    return out


def facet_breakdown(
    facets_by_paper: dict[str, list[Facet]], paper_ids: Iterable[str]
) -> dict[str, list[tuple[str, int]]]:
    """Per dimension, how many of the papers carry each value, most common first."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for pid in paper_ids:
        for f in facets_by_paper.get(pid, []):
            counts[f.dimension][f.value] += 1
    return {
        dim: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for dim, c in sorted(counts.items())
    }


def group_facets(facets: Iterable[Facet]) -> dict[str, list[Facet]]:
    out: dict[str, list[Facet]] = defaultdict(list)
    for f in facets:
        out[f.paper_id].append(f)
    return dict(out)


def paper_paths(view: TreeView, paper_id: str) -> list[tuple[Assignment, str]]:
    """Each topic the paper sits in, with its path label, best score first."""
    rows = sorted(view.by_paper.get(paper_id, []), key=lambda a: (-a.score, a.topic_id))
    return [(a, view.path_label(a.topic_id)) for a in rows]


# --- links --------------------------------------------------------------------------------------


def arxiv_links(arxiv_id: str | None) -> dict[str, str]:
    if not arxiv_id:
        return {}
    return {
        "arXiv": f"https://arxiv.org/abs/{arxiv_id}",
        "PDF": f"https://arxiv.org/pdf/{arxiv_id}",
    }


def reproduce_command(method_id: str, out_dir: str = "recipes/") -> str:
    return f"hierograph reproduce {method_id} --out {out_dir}"


def date_span(value: object) -> tuple[date | None, date | None]:
    """st.date_input's value as (from, to): it is a tuple of 0–2 dates while a range is picked."""
    if isinstance(value, date):
        return value, value
    parts = list(value) if isinstance(value, tuple | list) else []
    return (parts[0] if parts else None), (parts[1] if len(parts) > 1 else None)


SORTS = ("relevance", "newest", "upvotes")


def sort_hits(hits: list[T], briefs: dict[str, PaperBrief], by: str) -> list[T]:
    """Search hits (anything with an `id`) in relevance order, newest first (undated last), or
    by Hugging Face upvotes (papers without a count last); ties keep the relevance order."""
    if by == "newest":
        return sorted(hits, key=lambda h: -_day(briefs.get(h.id)))
    if by == "upvotes":
        return sorted(hits, key=lambda h: -(getattr(briefs.get(h.id), "upvotes", None) or -1))
    return list(hits)


def _day(brief: PaperBrief | None) -> int:
    """A date as a sortable number (YYYYMMDD); 0 when unknown."""
    text = (brief.published or "") if brief else ""
    digits = text[:10].replace("-", "")
    return int(digits) if digits.isdigit() else 0
