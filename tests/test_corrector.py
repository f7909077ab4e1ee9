"""The corrector on the supplied corpus, built for real: it learns from human placements and
carries them to unreviewed papers, never overrides a human, calibrates; a human move survives a
rebuild and a corrector run on both stores; eval with the simulated reviewer; the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from hierograph.curation import corrections as C
from hierograph.curation import corrector as K
from hierograph.curation import evaluate as E
from hierograph.curation.learner import PairwiseCorrector, Placements, reliability
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.sync import copy_graph
from hierograph.jobs.build import build_hierarchy
from hierograph.settings import Settings

from .conftest import seeded_home
from .stores import BACKENDS, open_empty_store
from .test_cli_and_export import run

GOLD = Path(__file__).parent / "fixtures" / "gold-hf-alignment.jsonl"


@pytest.fixture
def home(built_corpus: Settings, tmp_path: Path, embedding_cache: Path) -> Settings:
    """A private copy of the built corpus (SQLite) with a warm embedding cache."""
    settings = seeded_home(tmp_path / "home", embedding_cache)
    with SqliteStore(built_corpus.db_path()) as src, SqliteStore(settings.db_path()) as dst:
        copy_graph(src, dst)
    return settings


def _far_leaf(store, paper_id: str) -> tuple[str, str]:
    """The paper's leaf and the leaf whose label is least like it (a real 'wrong place' fix)."""
    state = C.TreeState.from_store(store)
    mine = sorted(store.assignments(paper_id=paper_id), key=lambda a: -a.score)[0].topic_id
    others = [t for t in state.leaves() if t != mine and t in state.topics]
    return mine, others[-1]


@pytest.mark.parametrize("kind", BACKENDS)
def test_human_move_survives_rebuild_and_corrector_run(home, tmp_path, kind):
    with SqliteStore(home.db_path()) as src:
        store = open_empty_store(kind, tmp_path / kind)
        copy_graph(src, store)
    try:
        paper = sorted(p.id for p in store.iter_papers())[5]
        source, target = _far_leaf(store, paper)
        C.move_paper(store, paper, source, target)
        build_hierarchy(store, home, show_progress=False)  # replays the move with the tree
        placed = store.assignments(paper_id=paper)
        assert [a.origin for a in placed] == ["human"]
        assert C.last_replay(store).not_applied == []
        human_topic = placed[0].topic_id

        K.train_corrector(store, home)
        report = K.apply_corrector(store, home, apply_proposals=True)
        assert report.skipped_human_papers >= 1
        assert [(a.topic_id, a.origin) for a in store.assignments(paper_id=paper)] == [
            (human_topic, "human")
        ]
        for a in store.assignments():
            assert a.origin in ("cluster", "human", "corrector")
            if a.origin == "corrector":
                assert 0.0 <= a.score <= 1.0
        assert all(i.paper_id != paper for i in K.review_queue(store))
    finally:
        store.close()


def test_the_learner_carries_human_moves_to_papers_like_them():
    """A leaf L that lumps two kinds of paper (a, b); a person moved eight b papers to a leaf B
    and confirmed eight a papers in L: the corrector says the other b papers belong in B and
    the other a papers in L, with probabilities that stay in [0, 1]."""
    rng = np.random.default_rng(0)
    axes = np.eye(8)[:3]
    kind = ["abc"[i % 3] for i in range(90)]
    vectors = np.array([axes["abc".index(k)] + 0.2 * rng.standard_normal(8) for k in kind])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    papers = [f"p{i:02d}" for i in range(90)]
    before = ["R" if k == "c" else "L" for k in kind]
    leaf, human = list(before), {}
    for i in [i for i, k in enumerate(kind) if k == "b"][:8]:
        leaf[i] = human[papers[i]] = "B"
    for i in [i for i, k in enumerate(kind) if k == "a"][:8]:
        human[papers[i]] = "L"
    corrector = PairwiseCorrector(k=5).fit(Placements(papers, vectors, leaf, before, human))
    assert corrector.model_ is not None
    rest = [i for i, p in enumerate(papers) if p not in human and kind[i] != "c"]
    agree = 0
    for i in rest:
        scores = corrector.scores(papers[i])
        assert all(0.0 <= v <= 1.0 for v in scores.values())
        want = "B" if kind[i] == "b" else "L"
        agree += max(scores, key=scores.get) == want
    assert agree >= 0.8 * len(rest)
    assert reliability(corrector.points_)["n"] > 16


def _leaves_by_size(store) -> list[tuple[str, list[str]]]:
    state = C.TreeState.from_store(store)
    best: dict[str, tuple[float, str]] = {}
    for a in store.assignments():
        if state.is_leaf(a.topic_id) and a.score > best.get(a.paper_id, (-1.0, ""))[0]:
            best[a.paper_id] = (a.score, a.topic_id)
    members: dict[str, list[str]] = {}
    for paper, (_, leaf) in sorted(best.items()):
        members.setdefault(leaf, []).append(paper)
    return sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def test_the_corrector_learns_a_planted_move_on_the_real_corpus(home):
    """On the built supplied corpus, people move most papers of one leaf to another and confirm
    the papers of the other leaves where they are: the corrector proposes that move for the
    rest of that leaf, with probabilities in [0, 1], and never touches a human placement."""
    with SqliteStore(home.db_path()) as store:
        leaves = _leaves_by_size(store)
        (source, papers), (target, _) = leaves[0], leaves[1]
        assert len(papers) >= 4, "the demo tree's biggest leaf holds a few papers"
        planted, rest = papers[: len(papers) - 2], papers[len(papers) - 2 :]
        for paper in planted:
            C.move_paper(store, paper, source, target)
        for _, others in leaves[1:]:
            for paper in others[:2]:
                leaf = [a.topic_id for a in store.assignments(paper_id=paper)]
                C.confirm_paper(store, paper, sorted(leaf)[0])
        human = {(a.paper_id, a.topic_id) for a in store.assignments() if a.origin == "human"}
        K.train_corrector(store, home)
        report = K.apply_corrector(store, home, apply_proposals=True)
        assert report.calibrated and report.moved >= 1
        moved = {a.paper_id: a for a in store.assignments() if a.origin == "corrector"}
        assert any(moved.get(p) and moved[p].topic_id == target for p in rest)
        assert all(0.0 <= a.score <= 1.0 for a in moved.values())
        after = {(a.paper_id, a.topic_id) for a in store.assignments() if a.origin == "human"}
        assert after == human  # no human placement taken away, none added by the corrector
        for item in K.review_queue(store):
            assert 0.0 <= item.probability <= 1.0
            assert all(0.0 <= q <= 1.0 for q in item.remove_probabilities)


def test_the_placement_model_learns_which_second_topics_reviewers_take_away(home):
    """Reviewers keep every main placement they look at and take away every second topic: the
    model gives unreviewed second topics a lower probability than main ones, and apply takes
    off only second topics, never a paper's last placement nor a human's."""
    with SqliteStore(home.db_path()) as store:
        state = C.TreeState.from_store(store)
        by_paper: dict[str, list] = {}
        for a in store.assignments():
            if state.is_leaf(a.topic_id):
                by_paper.setdefault(a.paper_id, []).append(a)
        papers = sorted(by_paper)
        reviewed = papers[: len(papers) // 2]
        for paper in reviewed:
            mine = sorted(by_paper[paper], key=lambda a: (-a.score, a.topic_id))
            C.confirm_paper(store, paper, mine[0].topic_id)
            for extra in mine[1:]:
                C.remove_assignment(store, paper, extra.topic_id)
        both = K.fit_all(store, home)
        unseen = [p for p in both.clustered if p.kept is None]
        mains = [both.placements.probability(p) for p in unseen if p.score >= p.best_score]
        seconds = [both.placements.probability(p) for p in unseen if p.score < p.best_score]
        assert mains and all(q is not None and 0.0 <= q <= 1.0 for q in mains)
        if seconds:
            assert max(seconds) < min(mains)
        human = {(a.paper_id, a.topic_id) for a in store.assignments() if a.origin == "human"}
        K.train_corrector(store, home)
        report = K.apply_corrector(store, home, apply_proposals=True)
        placed = {a.paper_id for a in store.assignments()}
        assert set(papers) <= placed  # no paper left without a topic
        after = {(a.paper_id, a.topic_id) for a in store.assignments() if a.origin == "human"}
        assert after == human
        assert report.removed <= len(seconds)


def test_moves_are_trusted_only_where_held_out_moves_were_right():
    corrector = PairwiseCorrector()
    corrector.move_points_ = [(0.9, 1)] * 4 + [(0.8, 1), (0.7, 0), (0.6, 0), (0.55, 0)]
    assert corrector.move_floor(0.5) == pytest.approx(0.55)  # 5 right of 8 at p >= 0.55
    assert corrector.move_floor(0.7) == pytest.approx(0.6)  # 5 of 7 at p >= 0.6
    assert corrector.move_floor(0.9) == pytest.approx(0.8)
    corrector.move_points_ = [(0.8, 0)] * 6 + [(0.6, 1)]
    assert corrector.move_floor(0.5) is None  # held-out moves were wrong: none is trusted
    corrector.move_points_ = [(0.9, 1)] * 3
    assert corrector.move_floor(0.5) is None  # too few to tell


def test_reliability_reports_ece_brier_and_bins():
    perfect = reliability([(0.9, 1)] * 9 + [(0.9, 0)] + [(0.1, 0)] * 9 + [(0.1, 1)])
    assert perfect["ece"] == pytest.approx(0.0, abs=1e-9) and perfect["n"] == 20
    assert perfect["brier"] == pytest.approx(0.09)
    overconfident = reliability([(0.9, 0)] * 10)
    assert overconfident["ece"] == pytest.approx(0.9)
    assert reliability([])["ece"] is None


def test_train_saves_a_versioned_summary_and_apply_is_idempotent(home):
    with SqliteStore(home.db_path()) as store:
        paper = sorted(p.id for p in store.iter_papers())[3]
        source, target = _far_leaf(store, paper)
        C.move_paper(store, paper, source, target)
        with pytest.raises(K.CorrectorError, match="corrector train"):
            K.apply_corrector(store, home)
        summary = K.train_corrector(store, home)
        assert summary.human_papers == 1 and summary.papers == 49 and not summary.learned
        saved = joblib.load(home.corrector_dir() / K.MODEL_FILE)
        assert saved["summary"]["version"] == K.MODEL_VERSION
        assert json.loads((home.corrector_dir() / "summary.json").read_text())["leaves"] > 1

        K.apply_corrector(store, home)
        first = {(a.paper_id, a.topic_id, a.origin, a.score) for a in store.assignments()}
        K.apply_corrector(store, home)
        assert {(a.paper_id, a.topic_id, a.origin, a.score) for a in store.assignments()} == first

        queue = K.review_queue(store)
        assert queue, "every clustered placement is scored"
        probabilities = [i.probability for i in queue]
        assert probabilities == sorted(probabilities)  # least likely right first

    saved["summary"]["version"] = K.MODEL_VERSION + 1
    joblib.dump(saved, home.corrector_dir() / K.MODEL_FILE)
    with pytest.raises(K.CorrectorError, match="corrector train"):
        K.load_summary(home)


def test_simulated_reviewer_moves_wrong_papers_home_and_confirms_right_ones(home):
    """Every paper the reviewer looked at ends up right, placed by a human: confirmed where it
    was right, moved where its category lives, or - for a category no leaf is about - split off
    into a topic named after the category, where the next paper of that category goes too."""
    unheard = "~ a category no leaf is about"  # sorts last: loses every majority tie
    with SqliteStore(home.db_path()) as store:
        gold = {
            p: " / ".join(path[:1]) for p, path in E.match_gold(store, E.load_gold(GOLD)).items()
        }
        state = C.TreeState.from_store(store)
        papers = sorted(gold)[:20]
        crowded = [  # papers whose main leaf holds others too (a split needs them)
            p
            for p in papers
            if len(state.direct_papers(max(state.paper_topics(p), key=lambda a: a.score).topic_id))
            > 2
        ]
        for p in crowded[:2]:
            gold[p] = unheard
        category = E.leaf_categories(state, gold)
        homes = E.category_homes(state, gold, category)
        assert unheard not in homes and unheard not in category.values()
        tally = E.simulate_review(store, papers, gold, category, homes)
        after = C.TreeState.from_store(store)
    assert tally.reviewed == 20 and tally.moved + tally.confirmed + tally.made_topics >= 20
    assert tally.made_topics >= 1
    made = homes[unheard]
    assert made not in state.topics and after.is_leaf(made)
    assert after.topics[made].label == unheard and category[made] == unheard
    assert set(crowded[:2]) <= set(after.direct_papers(made))
    for p in papers:
        placed = after.paper_topics(p)
        assert placed and all(a.origin == "human" for a in placed)
        assert any(category.get(a.topic_id) == gold[p] for a in placed), p


def test_eval_on_a_gold_file_leaves_the_store_alone(home):
    with SqliteStore(home.db_path()) as store:
        before = (store.assignments(), store.corrections())
        report = E.evaluate_corrector(store, home, GOLD, shares=[0.3], orders=["random", "queue"])
        assert (store.assignments(), store.corrections()) == before
    assert report.gold_lines == 49 and report.matched == 49  # by id, by (differently cased) title
    assert [(r.order, r.reviewed) for r in report.runs] == [("random", 15), ("queue", 15)]
    for one in report.runs:
        for s in (one.before_unreviewed, one.after_unreviewed, one.before_all, one.after_all):
            assert 0 < s.precision <= 1 and 0 < s.recall <= 1
            harmonic = 2 * s.precision * s.recall / (s.precision + s.recall)
            assert s.f1 == pytest.approx(harmonic, abs=2e-4)
        assert one.review.reviewed == 15
        assert one.gain_all == pytest.approx(one.after_all.f1 - one.before_all.f1, abs=1e-4)


def test_bad_gold_files_are_refused_with_the_line(tmp_path, home):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"title": "A", "category_path": ["x"]}\n{"title": "B"}\n')
    with SqliteStore(home.db_path()) as store:
        with pytest.raises(K.CorrectorError, match=r"gold.jsonl:2: .*category_path"):
            E.evaluate_corrector(store, home, bad)
        bad.write_text('{"title": "No such paper", "category_path": ["x"]}\n')
        with pytest.raises(K.CorrectorError, match="only 0 of"):
            E.evaluate_corrector(store, home, bad)
        with pytest.raises(K.CorrectorError, match="does not exist"):
            E.evaluate_corrector(store, home, tmp_path / "nope.jsonl")


def test_correct_corrector_review_from_the_command_line(home):
    with SqliteStore(home.db_path()) as store:
        paper = sorted(p.id for p in store.iter_papers())[7]
        source, target = _far_leaf(store, paper)
    moved = run(home.home, "correct", "move", paper, "--from", source, "--to", target)
    assert moved.returncode == 0, moved.stderr
    assert "correction #1 (move_paper) applied" in moved.stdout
    renamed = run(home.home, "correct", "rename", target, "Hand-named topic", "--actor", "ana")
    assert "correction #2" in renamed.stdout
    undone = run(home.home, "correct", "undo", "2")
    assert "correction #3 (undo)" in undone.stdout
    log = run(home.home, "correct", "log")
    assert "#2" in log.stdout and "ana rename_topic" in log.stdout and "[undone]" in log.stdout
    refused = run(home.home, "correct", "delete", target)
    assert refused.returncode == 1 and "not empty" in refused.stderr

    assert "no corrector model yet" in run(home.home, "corrector", "apply").stderr
    trained = run(home.home, "corrector", "train")
    assert trained.returncode == 0 and "1 placed by people" in trained.stdout, trained.stderr
    applied = run(home.home, "corrector", "apply")
    assert applied.returncode == 0 and "scored" in applied.stdout, applied.stderr
    review = run(home.home, "review", "--limit", "5")
    assert review.returncode == 0, review.stderr
    *items, hint = review.stdout.strip().splitlines()
    assert len(items) == 5 and "hierograph correct confirm PAPER TOPIC" in hint
    # The first item, confirmed where it is, leaves the queue; a topic it is not in is refused.
    first_paper = items[0].split()[1]
    first_topic = items[0].rsplit("[", 1)[1].rstrip("]")
    wrong = run(home.home, "correct", "confirm", first_paper, "root")  # papers sit in leaves
    assert wrong.returncode == 1 and "nothing to confirm" in wrong.stderr
    confirmed = run(home.home, "correct", "confirm", first_paper, first_topic)
    assert "correction #4 (add_topic) applied" in confirmed.stdout, confirmed.stderr
    with SqliteStore(home.db_path()) as store:
        placed = store.assignments(paper_id=first_paper)
        assert [a.origin for a in placed if a.topic_id == first_topic] == ["human"]
    again = run(home.home, "review", "--limit", "5").stdout
    assert first_paper not in again

    out = home.home / "eval.json"
    evaluated = run(
        home.home,
        "corrector",
        "eval",
        "--gold",
        str(GOLD),
        "--share",
        "0.3",
        "--order",
        "random",
        "--json",
        str(out),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert "matched in the tree 49" in evaluated.stdout and "random" in evaluated.stdout
    assert json.loads(out.read_text())["runs"][0]["reviewed"] == 15
    shutil.rmtree(home.corrector_dir())
