"""Measuring the corrector against gold categories, with a simulated reviewer.

The reviewer is a person who knows the gold category of every paper they look at and where
each category lives in the tree (the leaf holding most of its papers among the leaves that
category is the majority of). They go down a list of papers - in random order, or in the
review queue's order (least likely rightly placed first, refreshed every `QUEUE_SITTING` papers
from what they did, as `corrector apply` would) - and for each:
looks at its current topics; where one is right for its category, confirms it (and takes away
the wrong extra ones); where none is, moves the paper from its main topic to where its category
lives, or, for a category no leaf is about, splits the paper off its main topic into a new
topic named after the category (which is where that category lives from then on). Every action
is a real correction in the log; a confirmation is one too, and the corrector learns from it.
The corrector is then trained and applied with its proposals accepted, on a scratch SQLite copy
of the graph (the store itself is left as it is).

A leaf's category is the majority gold category of its papers in the tree before any review;
a topic the reviewer made is about the category they made it for.
Precision: the share of a paper's leaf placements whose category is the paper's; recall: the
share of papers with at least one such placement; both over the papers nobody reviewed (what
the corrector generalized to) and over all papers (what a reader sees).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from hierograph.curation import corrections as corr
from hierograph.curation.corrector import (
    REVIEW_META,
    ApplyReport,
    CorrectorError,
    apply_corrector,
    fit_all,
    queue_order,
    train_corrector,
)
from hierograph.curation.learner import reliability
from hierograph.curation.state import TreeState
from hierograph.graph.store import GraphStore
from hierograph.hierarchy.evaluate import GoldError, load_gold, match_gold
from hierograph.settings import Settings

REVIEWER = "gold-reviewer"


class Scores(BaseModel):
    precision: float
    recall: float
    f1: float


def assignment_scores(
    state: TreeState, gold: dict[str, str], category: dict[str, str], papers: Sequence[str]
) -> Scores:
    """Precision, recall and F1 of the papers' leaf placements against their gold category."""
    placed: dict[str, list[str]] = {}
    for p, t in state.assignments:
        placed.setdefault(p, []).append(t)
    assigned = correct = hit = 0
    for paper in papers:
        ok = [category.get(t) == gold[paper] for t in placed.get(paper, [])]
        assigned += len(ok)
        correct += sum(ok)
        hit += any(ok)
    precision = correct / assigned if assigned else 0.0
    recall = hit / len(papers) if papers else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision=round(precision, 4), recall=round(recall, 4), f1=round(f1, 4))


def leaf_categories(state: TreeState, gold: dict[str, str]) -> dict[str, str]:
    """Each leaf's majority gold category (ties by name)."""
    out = {}
    for leaf in state.leaves():
        counts = Counter(gold[p] for p in state.direct_papers(leaf) if p in gold)
        if counts:
            out[leaf] = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return out


def category_homes(state: TreeState, gold: dict[str, str], category: dict[str, str]) -> dict:
    """Where each gold category lives: among the leaves whose majority it is, the one holding
    most of its papers. A category that is no leaf's majority lives nowhere (yet): no leaf is
    right for its papers, and the reviewer makes a topic for it."""
    held: dict[str, Counter[str]] = {}
    for leaf in state.leaves():
        for p in state.direct_papers(leaf):
            if p in gold:
                held.setdefault(gold[p], Counter())[leaf] += 1
    homes = {}
    for c, leaves in held.items():
        own = {t: n for t, n in leaves.items() if category.get(t) == c}
        if own:
            homes[c] = min(own.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return homes


class ReviewTally(BaseModel):
    reviewed: int = 0
    moved: int = 0
    confirmed: int = 0
    removed: int = 0
    made_topics: int = 0  # split off for a category no leaf was about


def simulate_review(
    store: GraphStore, papers: Sequence[str], gold: dict[str, str], category: dict, homes: dict
) -> ReviewTally:
    """The simulated reviewer (module docstring) goes through `papers` in order. A topic they
    make for a category no leaf was about is added to `category` and `homes`."""
    tally = ReviewTally()
    for paper in papers:
        state = TreeState.from_store(store)
        mine = sorted(state.paper_topics(paper), key=lambda a: (-a.score, a.topic_id))
        if not mine:
            continue
        tally.reviewed += 1
        right = [a for a in mine if category.get(a.topic_id) == gold[paper]]
        wrong = [a for a in mine if a not in right]
        if not right:
            home = homes.get(gold[paper])
            main = mine[0]
            if home is not None:
                corr.move_paper(store, paper, main.topic_id, home, actor=REVIEWER)
                tally.moved += 1
                wrong = [a for a in wrong[1:] if a.topic_id != home]
            elif len(state.direct_papers(main.topic_id)) > 1:
                # No leaf is about this category: a person who knows the field makes one
                # (a wrong leaf they know of is no place to put it, nor to confirm).
                split = corr.split_topic(store, main.topic_id, [paper], gold[paper], REVIEWER)
                made = split.payload["new_topic"]["id"]
                category[made], homes[gold[paper]] = gold[paper], made
                tally.made_topics += 1
                wrong = wrong[1:]
            else:  # the paper alone in its leaf: nothing to split off; leave its main topic
                wrong = wrong[1:]
        for a in right:
            if a.origin != "human":
                corr.confirm_paper(store, paper, a.topic_id, actor=REVIEWER)
                tally.confirmed += 1
        for a in wrong:
            corr.remove_assignment(store, paper, a.topic_id, actor=REVIEWER)
            tally.removed += 1
    return tally


class EvalRun(BaseModel):
    order: str
    share: float
    reviewed: int
    review: ReviewTally
    before_unreviewed: Scores
    after_unreviewed: Scores
    before_all: Scores
    after_all: Scores
    gain_unreviewed: float
    gain_all: float
    gain_per_50_reviewed: float  # of the all-papers F1
    apply: ApplyReport
    proposal_calibration: dict  # moves on unreviewed papers: probability vs right (gold)
    removal_calibration: dict  # removed second topics: p(right) vs right (gold)
    held_out_calibration: dict  # the placement model on reviewed papers, 5 folds (no gold)


class CorrectorEval(BaseModel):
    gold_lines: int
    matched: int
    leaves: int
    method: str
    runs: list[EvalRun]


QUEUE_SITTING = 25  # papers a reviewer takes from the queue before `corrector apply` refreshes it


def review_order(store: GraphStore, settings: Settings, papers: list[str], order: str) -> list:
    """`random`: a seeded shuffle; `queue`: the corrector's review queue as it stands now,
    least likely rightly placed first (papers it cannot score last)."""
    if order == "random":
        rng = np.random.default_rng(settings.seed)
        return [papers[i] for i in rng.permutation(len(papers))]
    ranked = queue_order(fit_all(store, settings), papers)
    return ranked + sorted(set(papers) - set(ranked))


def review(
    store: GraphStore,
    settings: Settings,
    ranked: list[str],
    n: int,
    order: str,
    gold: dict[str, str],
    category: dict[str, str],
    homes: dict[str, str],
) -> tuple[list[str], ReviewTally]:
    """The reviewer's session: the first `n` of a random order; or `n` papers from the queue,
    refreshed every `QUEUE_SITTING` papers from what they did (as `corrector apply` would)."""
    if order == "random":
        return ranked[:n], simulate_review(store, ranked[:n], gold, category, homes)
    done: list[str] = []
    tally = ReviewTally()
    queue = ranked
    while len(done) < n:
        batch = queue[: min(QUEUE_SITTING, n - len(done))]
        part = simulate_review(store, batch, gold, category, homes)
        for field in ReviewTally.model_fields:
            setattr(tally, field, getattr(tally, field) + getattr(part, field))
        done += batch
        if len(done) < n:
            queue = review_order(store, settings, sorted(set(gold) - set(done)), "queue")
    return done, tally


def evaluate_corrector(
    store: GraphStore,
    settings: Settings,
    gold_path: Path,
    shares: Sequence[float] = (0.05, 0.1, 0.2),
    orders: Sequence[str] = ("random", "queue"),
    gold_depth: int = 1,
) -> CorrectorEval:
    """One run per (order, share) on a scratch copy of the graph."""

    if not gold_path.is_file():
        raise CorrectorError(f"gold file {gold_path} does not exist")
    if any(not 0 < s < 1 for s in shares):
        raise CorrectorError("each --share must lie strictly between 0 and 1, e.g. 0.1")
    try:
        lines = load_gold(gold_path)
    except GoldError as e:
        raise CorrectorError(str(e)) from e
    gold = {p: " / ".join(path[:gold_depth]) for p, path in match_gold(store, lines).items()}
    state = TreeState.from_store(store)
    gold = {p: c for p, c in gold.items() if state.paper_topics(p)}
    if len(gold) < 10:
        raise CorrectorError(
            f"only {len(gold)} of {len(lines)} gold lines match papers in the tree; ingest and "
            "build the papers the gold file names first."
        )
    category = leaf_categories(state, gold)
    homes = category_homes(state, gold, category)
    matched = sorted(gold)
    runs = []
    for order in orders:
        ranked = review_order(store, settings, matched, order)
        for share in shares:
            n = max(1, round(share * len(matched)))
            runs.append(_one_run(store, settings, ranked, n, gold, category, homes, order, share))
    return CorrectorEval(
        gold_lines=len(lines),
        matched=len(matched),
        leaves=len(state.leaves()),
        method="pairwise moves + placement removals",
        runs=runs,
    )


def _one_run(
    store: GraphStore,
    settings: Settings,
    ranked: list[str],
    n: int,
    gold: dict[str, str],
    category: dict[str, str],
    homes: dict[str, str],
    order: str,
    share: float,
) -> EvalRun:
    from hierograph.graph.factory import open_store
    from hierograph.graph.sync import copy_graph

    category, homes = dict(category), dict(homes)  # this run's reviewer adds the topics it makes
    scratch = Path(tempfile.mkdtemp(prefix="hierograph-eval-"))
    try:
        local = settings.model_copy(update={"home": scratch, "store": "sqlite"})
        with open_store(local) as copy:  # the scratch SQLite store that `local` names
            copy_graph(store, copy)
            before = TreeState.from_store(copy)
            reviewed, tally = review(copy, local, ranked, n, order, gold, category, homes)
            unreviewed = sorted(set(gold) - set(reviewed))
            everyone = sorted(gold)
            trained = train_corrector(copy, local)
            applied = apply_corrector(copy, local, apply_proposals=True)
            after = TreeState.from_store(copy)
            proposals = [
                (a.score, int(category.get(a.topic_id) == gold[a.paper_id]))
                for a in after.assignments.values()
                if a.origin == "corrector" and a.paper_id in gold and a.paper_id in unreviewed
            ]
            removals = [
                (q, int(category.get(t) == gold[item["paper_id"]]))
                for item in json.loads(copy.get_meta(REVIEW_META) or "[]")
                if item["paper_id"] in gold
                for t, q in zip(item["remove_topics"], item["remove_probabilities"], strict=True)
            ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    b_u = assignment_scores(before, gold, category, unreviewed)
    a_u = assignment_scores(after, gold, category, unreviewed)
    b_a = assignment_scores(before, gold, category, everyone)
    a_a = assignment_scores(after, gold, category, everyone)
    gain_all = round(a_a.f1 - b_a.f1, 4)
    return EvalRun(
        order=order,
        share=share,
        reviewed=len(reviewed),
        review=tally,
        before_unreviewed=b_u,
        after_unreviewed=a_u,
        before_all=b_a,
        after_all=a_a,
        gain_unreviewed=round(a_u.f1 - b_u.f1, 4),
        gain_all=gain_all,
        gain_per_50_reviewed=round(gain_all * 50 / max(1, len(reviewed)), 4),
        apply=applied,
        proposal_calibration=reliability(proposals),
        removal_calibration=reliability(removals),
        held_out_calibration=trained.placement_calibration,
    )
