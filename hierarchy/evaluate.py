"""How good is a tree: agreement with gold categories, and figures that need no gold."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    normalized_mutual_info_score,
    v_measure_score,
)

from hierograph.graph.ids import arxiv_id_of, title_key
from hierograph.graph.models import Topic
from hierograph.graph.store import GraphStore

_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\s*[·.:)\-–—]?|[IVX]+\s*[·.:)\-–—])\s+")


class GoldRecord(BaseModel):
    id: str | None = None
    arxiv_id: str | None = None
    title: str = ""
    category_path: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_key(self) -> GoldRecord:
        if not (self.id or self.arxiv_id or self.title):
            raise ValueError("a gold line needs arxiv_id, id or title")
        return self


class GoldError(ValueError):
    """The gold file cannot be used; the message names the line."""


def load_gold(path: Path) -> list[GoldRecord]:
    """The gold file, one record a line; a bad line is refused with its number and the field
    at fault (the one gold reader: `hierograph eval` and `hierograph corrector eval`)."""
    if not path.is_file():
        raise GoldError(f"gold file {path} does not exist")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(GoldRecord.model_validate(json.loads(line)))
        except json.JSONDecodeError as e:
            raise GoldError(f"{path}:{number}: not JSON ({e.msg})") from e
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise GoldError(
                f"{path}:{number}: {where + ': ' if where else ''}{first['msg']}; expected "
                '{"arxiv_id" or "id", "title", "category_path": ["…", …]}'
            ) from e
    if not records:
        raise GoldError(f"gold file {path} has no lines")
    return records


def match_gold(store: GraphStore, gold: Sequence[GoldRecord]) -> dict[str, list[str]]:
    """Paper id → gold category path, matching by id, then by normalized title."""
    papers = list(store.iter_papers())
    by_id = {p.id: p.id for p in papers} | {p.arxiv_id: p.id for p in papers if p.arxiv_id}
    by_title = {title_key(p.title): p.id for p in papers}
    matched: dict[str, list[str]] = {}
    for g in gold:
        key = arxiv_id_of(g.arxiv_id) or g.arxiv_id or g.id
        pid = by_id.get(key or "") or by_id.get(g.id or "") or by_title.get(title_key(g.title))
        if pid:
            matched[pid] = g.category_path
    return matched


@dataclass
class LevelScore:
    level: int
    topics: int
    ami: float
    nmi: float
    ari: float
    v_measure: float = 0.0  # harmonic mean of homogeneity and completeness


@dataclass
class EvalReport:
    matched: int
    gold_categories: int
    levels: list[LevelScore]
    best_level: int
    leaf_purity: float
    inverse_purity: float
    one_subtree_share: float
    sizes: dict[int, dict[str, float]] = field(default_factory=dict)
    sibling_label_similarity: float | None = None
    paper_label_coherence: float | None = None


def _primary_leaf(store: GraphStore) -> dict[str, str]:
    """Each paper's highest-scoring topic: second topics of multi-label papers don't count."""
    best: dict[str, tuple[float, str]] = {}
    for a in store.assignments():
        if a.paper_id not in best or a.score > best[a.paper_id][0]:
            best[a.paper_id] = (a.score, a.topic_id)
    return {p: t for p, (_, t) in best.items()}


def _ancestor_at(level: int, topic: Topic, by_id: dict[str, Topic]) -> str:
    while topic.level > level and topic.parent:
        topic = by_id[topic.parent]
    return topic.id


def evaluate(store: GraphStore, gold: Sequence[GoldRecord], gold_depth: int = 1) -> EvalReport:
    """Compare the tree with gold categories (the first `gold_depth` path elements)."""
    matched = match_gold(store, gold)
    leaf_of = _primary_leaf(store)
    papers = sorted(p for p in matched if p in leaf_of)
    if len(papers) < 2:
        raise GoldError("fewer than two gold papers are in the tree: check ids and titles")
    truth = [" / ".join(matched[p][:gold_depth]) for p in papers]
    topics = store.topics()
    by_id = {t.id: t for t in topics}
    depth = max(t.level for t in topics)
    levels = []
    for level in range(1, depth + 1):
        pred = [_ancestor_at(level, by_id[leaf_of[p]], by_id) for p in papers]
        levels.append(
            LevelScore(
                level=level,
                topics=len(set(pred)),
                ami=float(adjusted_mutual_info_score(truth, pred)),
                nmi=float(normalized_mutual_info_score(truth, pred)),
                ari=float(adjusted_rand_score(truth, pred)),
                v_measure=float(v_measure_score(truth, pred)),
            )
        )
    leaves = [leaf_of[p] for p in papers]
    purity, inverse = _purity(truth, leaves), _purity(leaves, truth)
    return EvalReport(
        matched=len(papers),
        gold_categories=len(set(truth)),
        levels=levels,
        best_level=max(levels, key=lambda s: s.ami).level if levels else 0,
        leaf_purity=purity,
        inverse_purity=inverse,
        one_subtree_share=_one_subtree_share(papers, truth, leaf_of, by_id),
        sizes=size_distribution(topics),
    )


@dataclass
class CategoryFit:
    """One gold category, the topic that overlaps it best, and how alike their names are."""

    category: str
    papers: int
    topic_id: str
    topic_label: str
    f1: float
    cosine: float


@dataclass
class LabelFitReport:
    """Size-weighted mean cosine between each gold category's name and the label of its
    best-overlapping topic (any level): do the names say what experts would call the topics?"""

    score: float
    categories: list[CategoryFit]


def category_name(text: str) -> str:
    """A gold category's name without its outline number ("5 · Mitigation" -> "Mitigation"):
    the number is the list's order, not part of what experts call the category."""
    return _NUMBERING.sub("", text).strip() or text


def label_fit(
    store: GraphStore,
    gold: Sequence[GoldRecord],
    embed,  # noqa: ANN001 - texts -> unit vectors (the build's embedder)
    gold_depth: int = 1,
    min_papers: int = 5,
) -> LabelFitReport:
    """For each gold category (first `gold_depth` path elements) with at least `min_papers`
    papers in the tree: the non-root topic whose papers (its subtree's, by primary topic)
    overlap the category's best by F1, and the cosine of that topic's label with the category's
    name (the path's last element)."""
    matched = match_gold(store, gold)
    leaf_of = _primary_leaf(store)
    topics = store.topics()
    by_id = {t.id: t for t in topics}
    below: dict[str, set[str]] = defaultdict(set)
    for pid, leaf in leaf_of.items():
        topic = by_id.get(leaf)
        while topic is not None and topic.parent:
            below[topic.id].add(pid)
            topic = by_id.get(topic.parent)
    members: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for pid, path in matched.items():
        if pid in leaf_of:
            members[tuple(path[:gold_depth])].add(pid)
    rows = []
    for path, papers in sorted(members.items()):
        if len(papers) < min_papers or not below:
            continue
        f1, tid = max(
            (2 * len(papers & got) / (len(papers) + len(got)), tid) for tid, got in below.items()
        )
        rows.append((category_name(path[-1]), len(papers), tid, f1))
    if not rows:
        return LabelFitReport(0.0, [])
    names = embed([r[0] for r in rows])
    labels = embed([by_id[r[2]].label for r in rows])
    fits = [
        CategoryFit(name, n, tid, by_id[tid].label, round(f1, 4), round(float(a @ b), 4))
        for (name, n, tid, f1), a, b in zip(rows, names, labels, strict=True)
    ]
    weights = np.array([f.papers for f in fits], dtype=float)
    score = float(np.average([f.cosine for f in fits], weights=weights))
    return LabelFitReport(round(score, 4), fits)


def _purity(truth: Sequence[str], clusters: Sequence[str]) -> float:
    """Share of items whose cluster's majority label is their own label."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for t, c in zip(truth, clusters, strict=True):
        groups[c][t] += 1
    return sum(g.most_common(1)[0][1] for g in groups.values()) / len(truth)


def _one_subtree_share(
    papers: Sequence[str], truth: Sequence[str], leaf_of: dict[str, str], by_id: dict[str, Topic]
) -> float:
    """Share of gold categories with a single non-root topic holding most (>50%) of them."""
    below: dict[str, Counter[str]] = defaultdict(Counter)
    for pid, label in zip(papers, truth, strict=True):
        topic = by_id[leaf_of[pid]]
        while topic.parent:
            below[topic.id][label] += 1
            topic = by_id[topic.parent]
    totals = Counter(truth)
    held = {
        label
        for counts in below.values()
        for label, n in counts.items()
        if n > totals[label] / 2 and counts.most_common(1)[0][0] == label
    }
    return len(held) / len(totals)


def size_distribution(topics: Sequence[Topic]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for level in sorted({t.level for t in topics}):
        sizes = np.array([t.size for t in topics if t.level == level])
        out[level] = {
            "topics": float(len(sizes)),
            "min": float(sizes.min()),
            "median": float(np.median(sizes)),
            "max": float(sizes.max()),
        }
    return out


def intrinsic_scores(store: GraphStore, embed) -> tuple[float, float]:  # noqa: ANN001
    """(mean cosine between sibling labels: lower = more distinct; mean cosine of papers to
    their leaf's label: higher = labels say what the papers are about). `embed` maps texts to
    unit vectors (the build's embedder)."""
    topics = [t for t in store.topics() if t.parent]
    if not topics:
        return 0.0, 0.0
    label_vec = dict(zip([t.id for t in topics], embed([t.label for t in topics]), strict=True))
    siblings: dict[str, list[str]] = defaultdict(list)
    for t in topics:
        siblings[t.parent or ""].append(t.id)
    pair_sims = [
        float(label_vec[a] @ label_vec[b])
        for group in siblings.values()
        for i, a in enumerate(group)
        for b in group[i + 1 :]
    ]
    vectors = store.get_embeddings()
    coherence = [
        float(vectors[a.paper_id] @ label_vec[a.topic_id])
        for a in store.assignments()
        if a.topic_id in label_vec and a.paper_id in vectors
    ]
    return (
        float(np.mean(pair_sims)) if pair_sims else 0.0,
        float(np.mean(coherence)) if coherence else 0.0,
    )
