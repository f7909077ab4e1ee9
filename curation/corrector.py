"""The corrector: learns from human placements (moves, confirmations, removals) where papers
belong and which clustered placements are right, and carries that to the papers nobody
reviewed (`learner.py` and `placement.py` hold the models).

`train` fits the learner on the store and saves what it learned (method, counts, calibration)
under <home>/corrector/; `apply` refits on the store as it is now, scores every paper that no
human placed against every leaf, writes the review queue (least likely rightly placed first),
proposes a move where another leaf is likelier than the paper's own and at least
`corrector_move_threshold` (and held-out moves at that probability were right that often), and
takes off a clustered second topic whose probability of being right (`placement.py`, learned
from what reviewers kept and took away) is below `corrector_remove_threshold`; `--accept`
carries the proposals out (a move: origin "corrector", score = the calibrated probability).
It never touches a paper a human has placed
and never takes away a paper's best placement. `evaluate.py` measures it
against gold categories with a simulated reviewer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import joblib
import numpy as np
from pydantic import BaseModel, Field

from hierograph.curation.learner import PairwiseCorrector, Placements, reliability
from hierograph.curation.placement import Placement, PlacementModel
from hierograph.curation.replay import Evidence, human_evidence
from hierograph.curation.state import TreeState
from hierograph.graph.models import Assignment, utc_now
from hierograph.graph.store import GraphStore
from hierograph.settings import Settings

MODEL_VERSION = 3
MODEL_FILE = "model.joblib"
REVIEW_META = "corrector_review"


class CorrectorError(RuntimeError):
    """The corrector cannot run; the message says what to do."""


def placements(store: GraphStore, evidence: Evidence | None = None) -> Placements:
    """Every placed paper: its leaf now (a human's where there is one, else its best-scored
    one), its leaf before any human touched it (from the corrections' effects), and the leaf a
    person chose for it."""
    evidence = human_evidence(store) if evidence is None else evidence
    vectors = store.get_embeddings()
    if not vectors:
        raise CorrectorError("no paper embeddings in the store: run `hierograph build` first.")
    state = TreeState(store.topics(), store.assignments(), papers=set(vectors))
    if not state.topics:
        raise CorrectorError("no topic tree yet: run `hierograph build` first.")
    human: dict[str, str] = {}
    best: dict[str, Assignment] = {}
    for (paper, topic), a in sorted(state.assignments.items()):
        if paper not in vectors or not state.is_leaf(topic):
            continue
        if a.origin == "human":
            human.setdefault(paper, topic)
        elif paper not in best or a.score > best[paper].score:
            best[paper] = a
    before: dict[str, Assignment] = {}
    for paper, topic, _, prior in evidence:
        if prior is None or prior.origin == "human" or topic not in state.topics:
            continue
        if state.is_leaf(topic) and (paper not in before or prior.score > before[paper].score):
            before[paper] = prior
    papers = sorted(set(human) | set(best))
    if len(papers) < 3:
        raise CorrectorError("too few placed papers to learn from: build a bigger tree first.")
    leaf = [human[p] if p in human else best[p].topic_id for p in papers]
    was = [before[p].topic_id if p in before else leaf[i] for i, p in enumerate(papers)]
    matrix = np.stack([np.asarray(vectors[p], dtype=np.float32) for p in papers])
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return Placements(papers, matrix, leaf, was, human)


def clustered_placements(store: GraphStore, evidence: Evidence) -> list[Placement]:
    """Every clustered leaf placement: those of reviewed papers as they were before the review,
    with what the person did (kept 1, took away 0); the others as they are (kept None)."""
    state = TreeState.from_store(store)
    seen: dict[str, list[tuple[str, float, int]]] = {}
    for paper, topic, y, prior in evidence:
        if prior is not None and prior.origin != "human" and state.is_leaf(topic):
            seen.setdefault(paper, []).append((topic, prior.score, int(y > 0)))
    human = {p for p, _, y, _ in evidence if y > 0}
    now: dict[str, list[tuple[str, float, int | None]]] = {}
    for (paper, topic), a in state.assignments.items():
        if paper not in human and a.origin == "cluster" and state.is_leaf(topic):
            now.setdefault(paper, []).append((topic, a.score, None))
    out = []
    for paper, rows in sorted({**now, **seen}.items()):
        best = max(score for _, score, _ in rows)
        out += [Placement(paper, t, score, best, kept) for t, score, kept in sorted(rows)]
    return out


@dataclass
class Corrector:
    """The two learned parts: where papers belong (`moves`) and which clustered placements are
    right (`placements`), fitted on the same read of the store."""

    moves: PairwiseCorrector
    placements: PlacementModel
    clustered: list[Placement]

    def own_probability(self, paper: str) -> float:
        """The probability that the paper's own (best clustered) placement is right: the
        placement model's once it has learned, else the pairwise model's (geometry before any
        review)."""
        if not hasattr(self, "best_"):
            self.best_: dict[str, Placement] = {}
            for p in self.clustered:
                if p.kept is None and p.score >= p.best_score:
                    self.best_.setdefault(p.paper, p)
        best = self.best_.get(paper)
        q = self.placements.probability(best) if best is not None else None
        return q if q is not None else certainty(self.moves, paper)[0]


def queue_order(both: Corrector, papers: list[str]) -> list[str]:
    """Papers no human placed, least likely rightly placed first: the reviewer's look is worth
    the most where the placement is most probably wrong (1 - p expected fixes per paper)."""
    own = {p: both.own_probability(p) for p in papers if p in both.moves.index_}
    return sorted(own, key=lambda p: (own[p], p))


def fit_corrector(store: GraphStore, settings: Settings) -> PairwiseCorrector:
    """The pairwise move model alone (the review queue's order)."""
    return fit_all(store, settings).moves


def fit_all(store: GraphStore, settings: Settings) -> Corrector:
    evidence = human_evidence(store)
    data = placements(store, evidence)
    moves = PairwiseCorrector(settings.corrector_k, settings.corrector_candidates, settings.seed)
    clustered = clustered_placements(store, evidence)
    placed = PlacementModel(seed=settings.seed).fit(data, clustered)
    return Corrector(moves.fit(data), placed, clustered)


class TrainSummary(BaseModel):
    version: int = MODEL_VERSION
    trained_at: str = Field(default_factory=utc_now)
    model: str = "pairwise"
    papers: int
    human_papers: int
    leaves: int
    learned: bool  # False until enough papers were placed by people
    calibration: dict = Field(default_factory=dict)  # held-out reliability on reviewed papers
    placement_calibration: dict = Field(default_factory=dict)  # the same, kept/taken away


def train_corrector(store: GraphStore, settings: Settings) -> TrainSummary:
    """Fit the corrector on the store's human placements; save its summary (with the held-out
    calibration) under <home>/corrector/."""
    both = fit_all(store, settings)
    corrector = both.moves
    summary = TrainSummary(
        papers=len(corrector.data_.papers),
        human_papers=len(corrector.data_.human),
        leaves=len(corrector.leaves_),
        learned=corrector.model_ is not None,
        calibration=reliability(corrector.points_),
        placement_calibration=reliability(both.placements.points_),
    )
    folder = settings.corrector_dir()
    folder.mkdir(parents=True, exist_ok=True)
    models = {"moves": corrector.model_, "placements": both.placements.model_}
    joblib.dump({"summary": summary.model_dump(), "model": models}, folder / MODEL_FILE)
    (folder / "summary.json").write_text(summary.model_dump_json(indent=1))
    return summary


def load_summary(settings: Settings) -> TrainSummary:
    path = settings.corrector_dir() / MODEL_FILE
    if not path.is_file():
        raise CorrectorError("no corrector model yet: run `hierograph corrector train` first.")
    saved = joblib.load(path)
    summary = TrainSummary(**saved["summary"])
    if summary.version != MODEL_VERSION:
        raise CorrectorError(
            f"{path} was trained by another Hierograph version; run `hierograph corrector train`."
        )
    return summary


class ReviewItem(BaseModel):
    paper_id: str
    topic_id: str
    probability: float
    origin: str
    flagged: bool = False
    proposal: Literal["keep", "move", "remove"] = "keep"
    proposed_topic: str | None = None
    proposed_probability: float | None = None
    remove_topics: list[str] = Field(default_factory=list)  # second topics likely wrong
    remove_probabilities: list[float] = Field(default_factory=list)  # each one's p(right)


class ApplyReport(BaseModel):
    scored: int = 0
    flagged: int = 0
    proposed_moves: int = 0
    moved: int = 0
    proposed_removals: int = 0
    removed: int = 0
    skipped_human_papers: int = 0
    calibrated: bool = False

    def summary(self) -> str:
        return (
            f"scored {self.scored} papers; flagged {self.flagged}, proposed {self.proposed_moves} "
            f"moves ({self.moved} applied) and {self.proposed_removals} second-topic removals "
            f"({self.removed} applied); left {self.skipped_human_papers} human-placed papers "
            f"alone; probabilities {'calibrated' if self.calibrated else 'not yet calibrated'}"
        )


def certainty(corrector: PairwiseCorrector, paper: str) -> tuple[float, dict[str, float]]:
    """The probability that the paper's own leaf is right, and every candidate's. Before anyone
    placed enough papers there is no model: a geometric stand-in then ranks the queue, 0.5 plus
    half the margin of the own leaf's centroid cosine over the best other leaf's."""
    scores = corrector.scores(paper)
    i = corrector.index_[paper]
    own = corrector.data_.leaf[i]
    if scores:
        return scores.get(own, 0.0), scores
    cos = corrector._centroid_cos(i)
    j = corrector.col_[own]
    other = float(np.max(np.delete(cos, j))) if len(cos) > 1 else 0.0
    return float(np.clip(0.5 + (cos[j] - other) / 2, 0.0, 1.0)), {}


def apply_corrector(
    store: GraphStore, settings: Settings, apply_proposals: bool = False
) -> ApplyReport:
    """Score every paper no human placed; propose (with `apply_proposals`: make) a move where
    another leaf is likelier than its own and at least `corrector_move_threshold`, else the
    removal of each clustered second topic less likely right than `corrector_remove_threshold`;
    write the review queue, least likely right first."""
    load_summary(settings)
    both = fit_all(store, settings)
    corrector = both.moves
    data = corrector.data_
    unseen: dict[str, list[Placement]] = {}
    for placed in both.clustered:
        if placed.kept is None:
            unseen.setdefault(placed.paper, []).append(placed)
    current: dict[str, set[str]] = {}
    for a in store.assignments():
        current.setdefault(a.paper_id, set()).add(a.topic_id)
    report = ApplyReport(calibrated=corrector.model_ is not None)
    # A move is trusted where held-out moves of that probability were right often enough.
    floor = corrector.move_floor(settings.corrector_move_threshold)
    review: list[ReviewItem] = []
    writes: list[Assignment] = []
    drops: list[tuple[str, str]] = []
    for i, paper in enumerate(data.papers):
        if paper in data.human:
            report.skipped_human_papers += 1
            continue
        own = data.leaf[i]
        p_own, scores = certainty(corrector, paper)
        report.scored += 1
        p_placed = both.own_probability(paper)
        item = ReviewItem(
            paper_id=paper, topic_id=own, probability=round(p_placed, 4), origin="cluster"
        )
        if p_placed < settings.corrector_flag_threshold:
            item.flagged = True
            report.flagged += 1
        mine = current.get(paper, set())
        target, p_target = max(scores.items(), key=lambda kv: (kv[1], kv[0]), default=(own, 0.0))
        if (
            target not in mine
            and floor is not None
            and p_target >= max(settings.corrector_move_threshold, floor)
            and p_target > p_own
        ):
            item.proposal, item.proposed_topic = "move", target
            item.proposed_probability = round(p_target, 4)
            report.proposed_moves += 1
            if apply_proposals:
                drops += [(paper, t) for t in sorted(mine)]
                writes.append(_by_corrector(paper, target, p_target))
                report.moved += 1
        else:
            _propose_removals(item, unseen.get(paper, []), both.placements, settings, report)
            if apply_proposals:
                drops += [(paper, t) for t in item.remove_topics]
                report.removed += len(item.remove_topics)
        review.append(item)
    if writes:
        store.upsert_assignments(writes)
    for paper, topic in drops:
        store.remove_assignment(paper, topic)
    review.sort(key=lambda r: (r.probability, r.paper_id, r.topic_id))
    store.set_meta(REVIEW_META, json.dumps([r.model_dump() for r in review]))
    return report


def _propose_removals(
    item: ReviewItem,
    placed: list[Placement],
    model: PlacementModel,
    settings: Settings,
    report: ApplyReport,
) -> None:
    """Second topics (never the paper's best placement) less likely right than the threshold."""
    for p in placed:
        q = model.probability(p) if p.score < p.best_score else None
        if q is not None and q < settings.corrector_remove_threshold:
            item.remove_topics.append(p.leaf)
            item.remove_probabilities.append(round(q, 4))
    if item.remove_topics:
        item.proposal = "remove"
        report.proposed_removals += len(item.remove_topics)


def _by_corrector(paper: str, topic: str, probability: float) -> Assignment:
    return Assignment(
        paper_id=paper, topic_id=topic, score=round(float(probability), 6), origin="corrector"
    )


def review_queue(store: GraphStore, limit: int | None = None) -> list[ReviewItem]:
    """Placements least likely right first (from the last apply), leaving out those a human
    has settled since."""
    raw = store.get_meta(REVIEW_META)
    if raw is None:
        raise CorrectorError("no review queue yet: run `hierograph corrector apply` first.")
    items = [ReviewItem(**d) for d in json.loads(raw)]
    live = {(a.paper_id, a.topic_id): a.origin for a in store.assignments()}
    human_papers = {p for (p, _), o in live.items() if o == "human"}
    out = [i for i in items if (i.paper_id, i.topic_id) in live and i.paper_id not in human_papers]
    return out[:limit] if limit else out
