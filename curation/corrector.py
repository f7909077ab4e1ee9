"""The corrector: learns from human placements (moves and confirmations) where papers belong,
and carries that to the papers nobody reviewed (`learner.py` holds the model).

`train` fits the learner on the store and saves what it learned (method, counts, calibration)
under <home>/corrector/; `apply` refits on the store as it is now, scores every paper that no
human placed against every leaf, writes the review queue (least certain first), and proposes a
move where another leaf is likelier than the paper's own and at least
`corrector_move_threshold`; `--accept` carries the moves out (origin "corrector", score = the
calibrated probability). It never touches a paper a human has placed. `evaluate.py` measures it
against gold categories with a simulated reviewer.
"""

from __future__ import annotations

import json
from typing import Literal

import joblib
import numpy as np
from pydantic import BaseModel, Field

from hierograph.curation.learner import Labels, PlacementLearner, reliability
from hierograph.curation.state import TreeState
from hierograph.graph.models import Assignment, utc_now
from hierograph.graph.store import GraphStore
from hierograph.settings import Settings

MODEL_VERSION = 2
MODEL_FILE = "model.joblib"
REVIEW_META = "corrector_review"


class CorrectorError(RuntimeError):
    """The corrector cannot run; the message says what to do."""


def training_labels(store: GraphStore, settings: Settings) -> tuple[Labels, dict[str, set[str]]]:
    """Every placed paper with its leaf: a human's leaf where there is one, else its best
    clustered (or corrector) leaf; and each paper's current leaves."""
    vectors = store.get_embeddings()
    if not vectors:
        raise CorrectorError("no paper embeddings in the store: run `hierograph build` first.")
    state = TreeState(store.topics(), store.assignments(), papers=set(vectors))
    if not state.topics:
        raise CorrectorError("no topic tree yet: run `hierograph build` first.")
    human: dict[str, str] = {}
    best: dict[str, Assignment] = {}
    current: dict[str, set[str]] = {}
    for (paper, topic), a in sorted(state.assignments.items()):
        if paper not in vectors or not state.is_leaf(topic):
            continue
        current.setdefault(paper, set()).add(topic)
        if a.origin == "human":
            human.setdefault(paper, topic)
        elif paper not in best or a.score > best[paper].score:
            best[paper] = a
    papers = sorted(set(human) | set(best))
    if len(papers) < 3:
        raise CorrectorError("too few placed papers to learn from: build a bigger tree first.")
    leaf = [human[p] if p in human else best[p].topic_id for p in papers]
    is_human = np.array([p in human for p in papers])
    weight = np.where(is_human, settings.corrector_human_weight, 1.0)
    matrix = np.stack([np.asarray(vectors[p], dtype=np.float32) for p in papers])
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return Labels(papers, matrix, leaf, weight, is_human), current


def fit_learner(store: GraphStore, settings: Settings) -> tuple[PlacementLearner, Labels, dict]:
    labels, current = training_labels(store, settings)
    learner = PlacementLearner(
        settings.corrector_model,
        settings.corrector_human_weight,
        settings.corrector_k,
        settings.seed,
    ).fit(labels)
    return learner, labels, current


class TrainSummary(BaseModel):
    version: int = MODEL_VERSION
    trained_at: str = Field(default_factory=utc_now)
    model: str
    papers: int
    human_papers: int
    leaves: int
    calibrated: bool
    calibration: dict = Field(default_factory=dict)  # reliability of the reviewed papers


def train_corrector(store: GraphStore, settings: Settings) -> TrainSummary:
    """Fit the corrector on the store's placements; save it and its summary under
    <home>/corrector/."""
    learner, labels, _ = fit_learner(store, settings)
    cal = learner.calibration_
    summary = TrainSummary(
        model=settings.corrector_model,
        papers=len(labels.papers),
        human_papers=int(labels.human.sum()),
        leaves=len(learner.leaves_),
        calibrated=cal.fitted,
        calibration=reliability([(float(cal(np.array([s]))[0]), o) for s, o in cal.points]),
    )
    folder = settings.corrector_dir()
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump({"summary": summary.model_dump(), "calibration": cal}, folder / MODEL_FILE)
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


class ApplyReport(BaseModel):
    scored: int = 0
    flagged: int = 0
    proposed_moves: int = 0
    moved: int = 0
    skipped_human_papers: int = 0
    calibrated: bool = False

    def summary(self) -> str:
        return (
            f"scored {self.scored} papers; flagged {self.flagged}, proposed {self.proposed_moves} "
            f"moves ({self.moved} applied); left {self.skipped_human_papers} human-placed papers "
            f"alone; probabilities {'calibrated' if self.calibrated else 'not yet calibrated'}"
        )


def apply_corrector(
    store: GraphStore, settings: Settings, apply_proposals: bool = False
) -> ApplyReport:
    """Score every paper no human placed; propose (with `apply_proposals`: make) a move where
    another leaf is likelier than its own and at least `corrector_move_threshold`; write the
    review queue, least certain first."""
    load_summary(settings)
    learner, labels, current = fit_learner(store, settings)
    report = ApplyReport(calibrated=learner.calibration_.fitted)
    review: list[ReviewItem] = []
    writes: list[Assignment] = []
    drops: list[tuple[str, str]] = []
    for i, paper in enumerate(labels.papers):
        if labels.human[i]:
            report.skipped_human_papers += 1
            continue
        own = labels.leaf[i]
        p_own = learner.of(paper, own)
        target, p_target = learner.best(paper)
        report.scored += 1
        item = ReviewItem(
            paper_id=paper, topic_id=own, probability=round(p_own, 4), origin="cluster"
        )
        if p_own < settings.corrector_flag_threshold:
            item.flagged = True
            report.flagged += 1
        mine = current.get(paper, set())
        if (
            target not in mine
            and p_target >= settings.corrector_move_threshold
            and p_target > p_own
        ):
            item.proposal, item.proposed_topic = "move", target
            item.proposed_probability = round(p_target, 4)
            report.proposed_moves += 1
            if apply_proposals:
                drops += [(paper, t) for t in sorted(mine)]
                writes.append(_by_corrector(paper, target, p_target))
                report.moved += 1
        review.append(item)
    if writes:
        store.upsert_assignments(writes)
    for paper, topic in drops:
        store.remove_assignment(paper, topic)
    review.sort(key=lambda r: (abs(r.probability - 0.5), r.paper_id, r.topic_id))
    store.set_meta(REVIEW_META, json.dumps([r.model_dump() for r in review]))
    return report


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
