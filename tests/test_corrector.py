"""The corrector on the supplied corpus, built for real: train, apply, review, eval; a human move
survives a rebuild and a corrector run on both stores; the CLI end to end."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import joblib
import pytest

from hierograph.curation import corrections as C
from hierograph.curation import corrector as K
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.sync import copy_graph
from hierograph.jobs.build import build_hierarchy
from hierograph.jobs.components import make_embedder
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
        build_hierarchy(store, home, show_progress=False)  # replays the move at its end
        placed = store.assignments(paper_id=paper)
        assert [a.origin for a in placed] == ["human"]
        assert C.last_replay(store).not_applied == []
        human_topic = placed[0].topic_id

        embedder = make_embedder(home, show_progress=False)
        K.train_corrector(store, home, embedder)
        report = K.apply_corrector(store, home, embedder, apply_proposals=True)
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


def test_train_saves_a_versioned_model_and_apply_is_idempotent(home):
    embedder = make_embedder(home, show_progress=False)
    with SqliteStore(home.db_path()) as store:
        paper = sorted(p.id for p in store.iter_papers())[3]
        source, target = _far_leaf(store, paper)
        C.move_paper(store, paper, source, target)
        summary = K.train_corrector(store, home, embedder)
        assert summary.human_pairs == 2  # moved-to (positive) and moved-away (negative)
        assert summary.positives > 0 and summary.negatives > 0
        saved = joblib.load(home.corrector_dir() / K.MODEL_FILE)
        assert saved["summary"]["version"] == K.MODEL_VERSION
        assert json.loads((home.corrector_dir() / "summary.json").read_text())["pairs"] > 10

        K.apply_corrector(store, home, embedder)
        first = {(a.paper_id, a.topic_id, a.origin, a.score) for a in store.assignments()}
        K.apply_corrector(store, home, embedder)
        assert {(a.paper_id, a.topic_id, a.origin, a.score) for a in store.assignments()} == first

        queue = K.review_queue(store)
        assert queue, "every clustered assignment is scored"
        gaps = [abs(i.probability - 0.5) for i in queue]
        assert gaps == sorted(gaps)  # least certain first

    saved["summary"]["version"] = K.MODEL_VERSION + 1
    joblib.dump(saved, home.corrector_dir() / K.MODEL_FILE)
    with pytest.raises(K.CorrectorError, match="corrector train"):
        K.load_corrector(home)


def test_eval_on_a_gold_file_leaves_the_store_alone(home):
    embedder = make_embedder(home, show_progress=False)
    with SqliteStore(home.db_path()) as store:
        before = (store.assignments(), store.corrections())
        report = K.evaluate_corrector(store, home, embedder, GOLD, 0.3, show_progress=False)
        assert (store.assignments(), store.corrections()) == before
    assert report.gold_lines == 49 and report.matched == 49  # by id, by (differently cased) title
    assert report.corrected_papers == 15 and report.evaluated_papers == 34
    for s in (report.before, report.after):
        assert 0 < s.precision <= 1 and 0 < s.recall <= 1
        harmonic = 2 * s.precision * s.recall / (s.precision + s.recall)
        assert s.f1 == pytest.approx(harmonic, abs=2e-4)


def test_bad_gold_files_are_refused_with_the_line(tmp_path, home):
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"title": "A", "category_path": ["x"]}\n{"title": "B"}\n')
    with pytest.raises(K.CorrectorError, match=r"gold.jsonl:2: .*category_path: Field required"):
        K.read_gold(bad)
    bad.write_text('{"title": "No such paper", "category_path": ["x"]}\n')
    with SqliteStore(home.db_path()) as store, pytest.raises(K.CorrectorError, match="only 0 of"):
        K.evaluate_corrector(store, home, make_embedder(home), bad, 0.1, show_progress=False)


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
    assert trained.returncode == 0 and "2 from corrections" in trained.stdout, trained.stderr
    applied = run(home.home, "corrector", "apply")
    assert applied.returncode == 0 and "scored" in applied.stdout, applied.stderr
    review = run(home.home, "review", "--limit", "5")
    assert review.returncode == 0 and len(review.stdout.strip().splitlines()) == 5

    evaluated = run(home.home, "corrector", "eval", "--gold", str(GOLD), "--corrected-share", "0.3")
    assert evaluated.returncode == 0, evaluated.stderr
    last = evaluated.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"F1 before=\d\.\d{3} after=\d\.\d{3}", last), last
    shutil.rmtree(home.corrector_dir())
