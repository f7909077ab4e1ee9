"""The corrector: a model that scores (paper, topic) pairs with the probability that the paper
belongs there, trained on human corrections and on the tree's confident assignments.

Features come from what the graph holds: the paper's embedding against the topic's centroid
(leave-one-out when the paper is a member) and against the embedding of the topic's label and
summary, the same for the parent and the best sibling, the margin over the best other leaf, the
assignment's score and origin, and how close the paper is to papers a human placed in, or took
out of, the topic. `apply` adds second topics (origin "corrector", score = probability), flags
unlikely assignments and proposes moves; it never touches a paper a human has placed.
`evaluate` simulates corrections from gold labels on a share of the papers and measures
assignment precision/recall/F1 on the rest, before and after.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator
from rich.progress import Progress
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from hierograph.curation.corrections import Evidence, TreeState, human_evidence, move_paper
from hierograph.curation.corrections import remove_assignment as remove_pair
from hierograph.graph.ids import arxiv_id_of, title_key
from hierograph.graph.models import Assignment, utc_now
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.embed import Embedder
from hierograph.settings import Settings

MODEL_VERSION = 1
MODEL_FILE = "model.joblib"
REVIEW_META = "corrector_review"
FEATURES = (
    "centroid_cos",
    "label_cos",
    "parent_centroid_cos",
    "parent_label_cos",
    "sibling_centroid_max",
    "sibling_label_max",
    "margin_over_other_leaves",
    "membership_score",
    "origin_cluster",
    "origin_corrector",
    "human_placed_sim",
    "human_removed_sim",
)
Pair = tuple[str, str]


class CorrectorError(RuntimeError):
    """The corrector cannot run; the message says what to do."""


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


class PairFeaturizer:
    """Feature rows for (paper, topic) pairs over one read of the store (`fit`)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def fit(self, store: GraphStore, evidence: Evidence | None = None) -> PairFeaturizer:
        vectors = store.get_embeddings()
        if not vectors:
            raise CorrectorError("no paper embeddings in the store: run `hierograph build` first.")
        topics = store.topics()
        if not topics:
            raise CorrectorError("no topic tree yet: run `hierograph build` first.")
        self.state_ = TreeState(topics, store.assignments(), papers=set(vectors))
        self.paper_ids_ = sorted(vectors)
        self.paper_index_ = {p: i for i, p in enumerate(self.paper_ids_)}
        self.E_ = _unit(np.stack([vectors[p] for p in self.paper_ids_]).astype(np.float32))
        self.topic_ids_ = [t.id for t in topics]
        self.topic_index_ = {t: i for i, t in enumerate(self.topic_ids_)}
        self.leaves_ = self.state_.leaves()
        self.leaf_cols_ = np.array([self.topic_index_[t] for t in self.leaves_])
        # Sums rather than means, so one member can be taken out (leave-one-out centroid).
        self.members_: dict[str, set[int]] = {}
        sums = np.zeros((len(topics), self.E_.shape[1]), dtype=np.float32)
        for t in self.topic_ids_:
            idx = {
                self.paper_index_[p]
                for p in self.state_.subtree_papers(t)
                if p in self.paper_index_
            }
            self.members_[t] = idx
            if idx:
                sums[self.topic_index_[t]] = self.E_[sorted(idx)].sum(axis=0)
        self.sums_ = sums
        self.centroid_sim_ = self.E_ @ _unit(sums).T
        texts = [
            ". ".join(x for x in (t.label, t.summary, ", ".join(t.keywords)) if x) for t in topics
        ]
        self.label_sim_ = self.E_ @ _unit(self.embedder.encode(texts)).T
        self.human_: dict[tuple[str, int], list[int]] = {}
        for paper, topic, y, _ in evidence or []:
            if paper in self.paper_index_:
                self.human_.setdefault((topic, y), []).append(self.paper_index_[paper])
        return self

    def nearest_leaves(self, paper_id: str, k: int) -> list[str]:
        row = self.centroid_sim_[self.paper_index_[paper_id], self.leaf_cols_]
        order = np.argsort(-row, kind="stable")[:k]
        return [self.leaves_[i] for i in order]

    def transform(
        self, pairs: Sequence[Pair], prior: dict[Pair, Assignment | None] | None = None
    ) -> np.ndarray:
        """One row per pair. `prior` replaces the stored assignment of a pair (training on a
        human correction describes the pair as it was before the human acted)."""
        prior = prior or {}
        rows = np.zeros((len(pairs), len(FEATURES)), dtype=np.float32)
        leaf_sims = self.centroid_sim_[:, self.leaf_cols_]
        for r, (paper, topic) in enumerate(pairs):
            i, j = self.paper_index_[paper], self.topic_index_[topic]
            e = self.E_[i]
            t = self.state_.topics[topic]
            own = self._loo_cos(i, topic)
            parent = t.parent if t.parent is not None else topic
            siblings = (
                [self.topic_index_[s] for s in self.state_.children(parent) if s != topic]
                if t.parent is not None
                else []
            )
            others = leaf_sims[i][self.leaf_cols_ != j]
            assigned = (
                prior[(paper, topic)]
                if (paper, topic) in prior
                else (self.state_.assignments.get((paper, topic)))
            )
            rows[r] = (
                own,
                self.label_sim_[i, j],
                self._loo_cos(i, parent),
                self.label_sim_[i, self.topic_index_[parent]],
                self.centroid_sim_[i, siblings].max() if siblings else 0.0,
                self.label_sim_[i, siblings].max() if siblings else 0.0,
                own - (others.max() if others.size else 0.0),
                assigned.score if assigned is not None else 0.0,
                float(assigned is not None and assigned.origin in ("cluster", "llm")),
                float(assigned is not None and assigned.origin == "corrector"),
                self._human_sim(e, i, topic, 1),
                self._human_sim(e, i, topic, -1),
            )
        return rows

    def _loo_cos(self, i: int, topic: str) -> float:
        j = self.topic_index_[topic]
        if i not in self.members_[topic]:
            return float(self.centroid_sim_[i, j])
        rest = self.sums_[j] - self.E_[i]
        norm = float(np.linalg.norm(rest))
        return float(rest @ self.E_[i] / norm) if norm > 1e-6 else 0.0

    def _human_sim(self, e: np.ndarray, i: int, topic: str, sign: int) -> float:
        others = [k for k in self.human_.get((topic, sign), []) if k != i]
        return float((self.E_[others] @ e).max()) if others else 0.0


# --- training ----------------------------------------------------------------------------------


class TrainSummary(BaseModel):
    version: int = MODEL_VERSION
    trained_at: str = Field(default_factory=utc_now)
    model: str
    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    pairs: int
    positives: int
    negatives: int
    human_pairs: int
    training_accuracy: float


def make_model(kind: str, seed: int) -> Pipeline:
    if kind == "boosting":
        return make_pipeline(StandardScaler(), HistGradientBoostingClassifier(random_state=seed))
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))


def training_pairs(
    feats: PairFeaturizer,
    evidence: Sequence[tuple[str, str, int, Assignment | None]],
    settings: Settings,
) -> tuple[list[Pair], np.ndarray, np.ndarray, dict[Pair, Assignment | None]]:
    """Human pairs (placed = 1, taken out = 0), confident clustered assignments (1) and nearby
    leaves those papers are not in (0)."""
    pairs: list[Pair] = []
    labels: list[int] = []
    weights: list[float] = []
    prior: dict[Pair, Assignment | None] = {}
    for paper, topic, y, before in evidence:
        if paper in feats.paper_index_ and topic in feats.topic_index_:
            pairs.append((paper, topic))
            labels.append(int(y > 0))
            weights.append(settings.corrector_human_weight)
            prior[(paper, topic)] = before
    touched = {p for p, _, _, _ in evidence}
    clustered = [
        a
        for a in feats.state_.assignments.values()
        if a.origin in ("cluster", "llm")
        and a.paper_id not in touched
        and a.paper_id in feats.paper_index_
    ]
    if clustered:
        cut = float(
            np.quantile([a.score for a in clustered], settings.corrector_confident_quantile)
        )
        for a in sorted(clustered, key=lambda a: (a.paper_id, a.topic_id)):
            if a.score < cut:
                continue
            pairs.append((a.paper_id, a.topic_id))
            labels.append(1)
            weights.append(1.0)
            mine = {t for (p, t) in feats.state_.assignments if p == a.paper_id}
            near = [
                t
                for t in feats.nearest_leaves(a.paper_id, settings.corrector_candidates + 2)
                if t not in mine
            ]
            for t in near[: settings.corrector_negatives_per_paper]:
                pairs.append((a.paper_id, t))
                labels.append(0)
                weights.append(1.0)
    return pairs, np.array(labels), np.array(weights), prior


def _paper_assignments(state: TreeState) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = {}
    for a in state.assignments.values():
        out.setdefault(a.paper_id, []).append(a)
    return out


def train_corrector(store: GraphStore, settings: Settings, embedder: Embedder) -> TrainSummary:
    """Fit the corrector on the store's corrections and tree; save it under <home>/corrector/."""
    evidence = human_evidence(store)
    feats = PairFeaturizer(embedder).fit(store, evidence)
    pairs, y, w, prior = training_pairs(feats, evidence, settings)
    if len(set(y.tolist())) < 2:
        raise CorrectorError(
            "not enough training pairs (need both placed and not-placed examples): build a tree "
            "with more papers or record some corrections (`hierograph correct …`)."
        )
    X = feats.transform(pairs, prior)
    model = make_model(settings.corrector_model, settings.seed)
    step = model.steps[-1][0]
    model.fit(X, y, **{f"{step}__sample_weight": w})
    summary = TrainSummary(
        model=settings.corrector_model,
        pairs=len(pairs),
        positives=int(y.sum()),
        negatives=int(len(y) - y.sum()),
        human_pairs=len(prior),
        training_accuracy=round(float(model.score(X, y)), 4),
    )
    folder = settings.corrector_dir()
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump({"summary": summary.model_dump(), "model": model}, folder / MODEL_FILE)
    (folder / "summary.json").write_text(summary.model_dump_json(indent=1))
    return summary


def load_corrector(settings: Settings) -> tuple[Pipeline, TrainSummary]:
    path = settings.corrector_dir() / MODEL_FILE
    if not path.is_file():
        raise CorrectorError("no corrector model yet: run `hierograph corrector train` first.")
    saved = joblib.load(path)
    summary = TrainSummary(**saved["summary"])
    if summary.version != MODEL_VERSION or tuple(summary.features) != FEATURES:
        raise CorrectorError(
            f"{path} was trained by another Hierograph version; run `hierograph corrector train`."
        )
    return saved["model"], summary


# --- applying ----------------------------------------------------------------------------------


class ReviewItem(BaseModel):
    paper_id: str
    topic_id: str
    probability: float
    origin: str
    flagged: bool = False
    proposal: Literal["keep", "move", "remove"] = "keep"
    proposed_topic: str | None = None
    proposed_probability: float | None = None


class ApplyReport(BaseModel):
    scored: int = 0
    added: int = 0
    dropped: int = 0
    flagged: int = 0
    proposed_moves: int = 0
    moved: int = 0
    proposed_removals: int = 0
    removed: int = 0
    skipped_human_papers: int = 0

    def summary(self) -> str:
        return (
            f"scored {self.scored} assignments; added {self.added} second topics, dropped "
            f"{self.dropped} earlier corrector topics, flagged {self.flagged}, proposed "
            f"{self.proposed_moves} moves ({self.moved} applied) and {self.proposed_removals} "
            f"removals of a paper's unlikely extra topic ({self.removed} applied); left "
            f"{self.skipped_human_papers} human-placed papers alone"
        )


def apply_corrector(
    store: GraphStore, settings: Settings, embedder: Embedder, apply_proposals: bool = False
) -> ApplyReport:
    """Re-score every assignment a human did not make; add likely second topics, flag unlikely
    assignments and propose a better leaf for them, or dropping them where the paper has a
    likelier place (carried out only with `apply_proposals`). Writes the
    review queue (least certain first) to the store's meta."""
    model, _ = load_corrector(settings)
    evidence = human_evidence(store)
    feats = PairFeaturizer(embedder).fit(store, evidence)
    state = feats.state_
    by_paper = _paper_assignments(state)
    touched = {p for p, _, _, _ in evidence}
    removed_by_human = {(p, t) for p, t, y, _ in evidence if y < 0}
    report = ApplyReport()
    pairs: list[Pair] = []
    for paper in feats.paper_ids_:
        mine = by_paper.get(paper, [])
        if paper in touched or any(a.origin == "human" for a in mine):
            report.skipped_human_papers += 1
            continue
        leaf_set = {a.topic_id for a in mine if a.topic_id in feats.topic_index_}
        near = feats.nearest_leaves(paper, settings.corrector_candidates)
        candidates = sorted(leaf_set) + [t for t in near if t not in leaf_set]
        pairs.extend((paper, t) for t in candidates if (paper, t) not in removed_by_human)
    probs = model.predict_proba(feats.transform(pairs))[:, 1] if pairs else np.zeros(0)
    scored: dict[str, list[tuple[str, float]]] = {}
    for (paper, topic), p in zip(pairs, probs, strict=True):
        scored.setdefault(paper, []).append((topic, float(p)))

    writes: list[Assignment] = []
    drops: list[Pair] = []
    review: list[ReviewItem] = []
    for paper, options in scored.items():
        current = {a.topic_id: a for a in by_paper.get(paper, [])}
        prob = dict(options)
        base = [t for t, a in current.items() if a.origin in ("cluster", "llm")]
        keep = set(base)
        for t, a in current.items():  # the corrector revisits only its own earlier additions
            if a.origin == "corrector" and prob.get(t, 0.0) >= settings.corrector_add_threshold:
                keep.add(t)
            elif a.origin == "corrector":
                drops.append((paper, t))
        spare = sorted(
            ((p, t) for t, p in options if t not in current), key=lambda x: (-x[0], x[1])
        )
        for t in sorted(base, key=lambda t: (prob[t], t)):  # least likely first
            report.scored += 1
            item = ReviewItem(
                paper_id=paper, topic_id=t, probability=round(prob[t], 4), origin=current[t].origin
            )
            if prob[t] < settings.corrector_flag_threshold:
                item.flagged = True
                report.flagged += 1
                better = next(
                    ((p, x) for p, x in spare if p > max(prob[t], 0.5) and x not in keep), None
                )
                if better is not None:
                    item.proposal = "move"
                    item.proposed_topic, item.proposed_probability = better[1], round(better[0], 4)
                    report.proposed_moves += 1
                    if apply_proposals:
                        keep.discard(t)
                        keep.add(better[1])
                        drops.append((paper, t))
                        writes.append(_by_corrector(paper, better[1], better[0]))
                        report.moved += 1
                elif len(keep) > 1:  # the paper has a likelier place: this one can go
                    item.proposal = "remove"
                    report.proposed_removals += 1
                    if apply_proposals:
                        keep.discard(t)
                        drops.append((paper, t))
                        report.removed += 1
            review.append(item)
        for p, t in spare:
            if len(keep) >= settings.corrector_max_topics or p < settings.corrector_add_threshold:
                break
            if t in keep:
                continue
            keep.add(t)
            writes.append(_by_corrector(paper, t, p))
            report.added += 1
        for t in keep:
            a = current.get(t)
            if a is not None and a.origin == "corrector":
                writes.append(_by_corrector(paper, t, prob[t]))
    report.dropped = sum(1 for p, t in drops if current_origin(state, p, t) == "corrector")
    store.upsert_assignments(writes)
    for paper, topic in drops:
        store.remove_assignment(paper, topic)
    review.sort(key=lambda r: (abs(r.probability - 0.5), r.paper_id, r.topic_id))
    store.set_meta(REVIEW_META, json.dumps([r.model_dump() for r in review]))
    return report


def current_origin(state: TreeState, paper: str, topic: str) -> str | None:
    a = state.assignments.get((paper, topic))
    return a.origin if a else None


def _by_corrector(paper: str, topic: str, probability: float) -> Assignment:
    return Assignment(
        paper_id=paper, topic_id=topic, score=round(float(probability), 6), origin="corrector"
    )


def review_queue(store: GraphStore, limit: int | None = None) -> list[ReviewItem]:
    """Assignments the corrector is least sure of, most uncertain first (from the last apply),
    leaving out those a human has settled since."""
    raw = store.get_meta(REVIEW_META)
    if raw is None:
        raise CorrectorError("no review queue yet: run `hierograph corrector apply` first.")
    items = [ReviewItem(**d) for d in json.loads(raw)]
    live = {(a.paper_id, a.topic_id): a.origin for a in store.assignments()}
    human_papers = {p for (p, _), o in live.items() if o == "human"}
    out = [i for i in items if (i.paper_id, i.topic_id) in live and i.paper_id not in human_papers]
    return out[:limit] if limit else out


# --- evaluation ---------------------------------------------------------------------------------


class GoldLine(BaseModel):
    arxiv_id: str | None = None
    id: str | None = None
    title: str = ""
    category_path: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_key(self) -> GoldLine:
        if not (self.arxiv_id or self.id or self.title):
            raise ValueError("needs arxiv_id, id or title")
        return self

    def category(self) -> str:
        return " / ".join(self.category_path)


def read_gold(path: Path) -> list[GoldLine]:
    if not path.is_file():
        raise CorrectorError(f"gold file {path} does not exist")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(GoldLine.model_validate_json(line))
        except ValidationError as e:
            raise CorrectorError(
                f"{path}:{n}: not a gold line ({_first_error(e)}); expected "
                '{"arxiv_id" or "id", "title", "category_path": ["…", …]}'
            ) from e
    if not out:
        raise CorrectorError(f"gold file {path} has no lines")
    return out


def _first_error(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(x) for x in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def match_gold(store: GraphStore, gold: Sequence[GoldLine]) -> dict[str, str]:
    """Paper id → gold category, matched by id (arXiv id without version) then by title."""
    known = {p.id for p in store.iter_papers()}
    out: dict[str, str] = {}
    for g in gold:
        candidates = [arxiv_id_of(g.arxiv_id), g.arxiv_id, g.id, arxiv_id_of(g.id)]
        found = next((c for c in candidates if c and c in known), None)
        if found is None and g.title:
            paper = store.find_paper_by_title_key(title_key(g.title))
            found = paper.id if paper else None
        if found is not None:
            out[found] = g.category()
    return out


class Scores(BaseModel):
    precision: float
    recall: float
    f1: float


def assignment_scores(
    state: TreeState, gold: dict[str, str], topic_category: dict[str, str], papers: Sequence[str]
) -> Scores:
    """Precision: share of the papers' leaf assignments whose topic category is the paper's gold
    category. Recall: share of the papers with at least one such assignment."""
    by_paper = _paper_assignments(state)
    assigned = correct = hit = 0
    for paper in papers:
        ok = [topic_category.get(a.topic_id) == gold[paper] for a in by_paper.get(paper, [])]
        assigned += len(ok)
        correct += sum(ok)
        hit += any(ok)
    precision = correct / assigned if assigned else 0.0
    recall = hit / len(papers) if papers else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision=round(precision, 4), recall=round(recall, 4), f1=round(f1, 4))


def topic_categories(state: TreeState, gold: dict[str, str], labelled: set[str]) -> dict[str, str]:
    """Each topic's category: the most common gold category among the labelled (corrected-share)
    papers under it; a topic with none takes its nearest ancestor's."""
    out: dict[str, str] = {}
    for topic in sorted(state.topics.values(), key=lambda t: (t.level, t.id)):
        counts = Counter(gold[p] for p in state.subtree_papers(topic.id) if p in labelled)
        if counts:
            out[topic.id] = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        elif topic.parent in out:
            out[topic.id] = out[topic.parent]
    return out


class EvalReport(BaseModel):
    gold_lines: int
    matched: int
    corrected_papers: int
    corrections: int
    evaluated_papers: int
    before: Scores
    after: Scores
    apply: ApplyReport
    train: TrainSummary


def simulate_corrections(
    store: GraphStore,
    feats: PairFeaturizer,
    gold: dict[str, str],
    topic_category: dict[str, str],
    papers: Sequence[str],
) -> int:
    """What a reviewer with the gold labels would do for `papers`: move a paper none of whose
    leaves has its category to the nearest leaf that has it; take away its other wrong leaves."""
    made = 0
    leaves_by_category: dict[str, list[str]] = {}
    for leaf in feats.leaves_:
        if leaf in topic_category:
            leaves_by_category.setdefault(topic_category[leaf], []).append(leaf)
    for paper in papers:
        mine = sorted(store.assignments(paper_id=paper), key=lambda a: (-a.score, a.topic_id))
        if not mine:
            continue
        wrong = [a for a in mine if topic_category.get(a.topic_id) != gold[paper]]
        if len(wrong) == len(mine):
            options = leaves_by_category.get(gold[paper], [])
            if not options:
                continue
            i = feats.paper_index_[paper]
            target = max(options, key=lambda t: (feats.centroid_sim_[i, feats.topic_index_[t]], t))
            move_paper(store, paper, wrong[0].topic_id, target, actor="gold-simulation")
            made += 1
            wrong = wrong[1:]
        for a in wrong:
            remove_pair(store, paper, a.topic_id, actor="gold-simulation")
            made += 1
    return made


def evaluate_corrector(
    store: GraphStore,
    settings: Settings,
    embedder: Embedder,
    gold_path: Path,
    corrected_share: float = 0.1,
    show_progress: bool = True,
) -> EvalReport:
    """Simulate gold-label corrections on `corrected_share` of the matched papers, train and apply
    the corrector (moves accepted), and score the other papers before and after. Runs on a
    temporary SQLite copy of the graph: the store's own log and tree are left as they are."""
    from hierograph.graph.factory import open_store
    from hierograph.graph.sync import copy_graph

    if not 0 < corrected_share < 1:
        raise CorrectorError("--corrected-share must lie strictly between 0 and 1, e.g. 0.1")
    gold_lines = read_gold(gold_path)
    scratch = Path(tempfile.mkdtemp(prefix="hierograph-eval-"))
    try:
        eval_settings = settings.model_copy(update={"home": scratch, "store": "sqlite"})
        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task("corrector eval", total=5)
            copy = open_store(eval_settings)  # the scratch SQLite store that eval_settings name
            copy_graph(store, copy)
            progress.advance(task)
            gold = match_gold(copy, gold_lines)
            if len(gold) < 10:
                raise CorrectorError(
                    f"only {len(gold)} of {len(gold_lines)} gold lines match papers in the store; "
                    "ingest and build the papers the gold file names first."
                )
            rng = np.random.default_rng(settings.seed)
            ordered = sorted(gold)
            shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
            n_corrected = max(1, round(corrected_share * len(shuffled)))
            corrected, held_out = shuffled[:n_corrected], sorted(shuffled[n_corrected:])
            state = TreeState.from_store(copy)
            categories = topic_categories(state, gold, set(corrected))
            before = assignment_scores(state, gold, categories, held_out)
            feats = PairFeaturizer(embedder).fit(copy)
            progress.advance(task)
            made = simulate_corrections(copy, feats, gold, categories, sorted(corrected))
            progress.advance(task)
            summary = train_corrector(copy, eval_settings, embedder)
            progress.advance(task)
            applied = apply_corrector(copy, eval_settings, embedder, apply_proposals=True)
            after = assignment_scores(TreeState.from_store(copy), gold, categories, held_out)
            copy.close()
            progress.advance(task)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return EvalReport(
        gold_lines=len(gold_lines),
        matched=len(gold),
        corrected_papers=len(corrected),
        corrections=made,
        evaluated_papers=len(held_out),
        before=before,
        after=after,
        apply=applied,
        train=summary,
    )
