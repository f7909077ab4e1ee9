"""`hierograph refresh` end to end: the fixture server stands in for arXiv and Hugging Face,
the supplied corpus's built tree receives the new papers, in both stores."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.curation.state import TreeState
from hierograph.graph.factory import open_store
from hierograph.graph.models import Assignment, Correction
from hierograph.graph.sqlite_store import SqliteStore
from hierograph.graph.store import GraphStore
from hierograph.graph.sync import copy_graph
from hierograph.hierarchy.place import POOL_ID, STATE_KEY, PlaceState, TreeView
from hierograph.jobs.components import make_placer
from hierograph.jobs.refresh import (
    HF_DAILY_KEY,
    RefreshError,
    Watch,
    arxiv_watermark_key,
    run_refresh,
)
from hierograph.jobs.schedule import ScheduleError, make_trigger, refresh_job
from hierograph.settings import Settings, load_settings

from .fixture_server import FixtureServer, arxiv_records, hf_daily
from .stores import BACKENDS, open_empty_store

DAYS = sorted(hf_daily())
QUERY = "cat:cs.AI"


@pytest.fixture
def server():
    with FixtureServer() as srv:
        yield srv


def source_settings(srv: FixtureServer, **over: object) -> dict[str, object]:
    values: dict[str, object] = dict(
        arxiv_api_url=srv.arxiv_url,
        hf_api_url=srv.hf_url,
        arxiv_delay_seconds=0,
        hf_delay_seconds=0,
        http_backoff_seconds=0,
        arxiv_page_size=5,
        hf_days_back=1,
        watch_categories=["cs.AI"],
    )
    values.update(over)
    return values


def tree_home(built: Settings, home: Path, kind: str, values: dict[str, object]) -> Settings:
    """A writable copy of the supplied corpus's built tree (and its embedding cache)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(built.embedding_cache_path(), home / "embeddings.sqlite")
    if kind == "sqlite":
        with SqliteStore(built.db_path()) as src, SqliteStore(home / "hierograph.sqlite") as dst:
            copy_graph(src, dst)
    else:
        dst = open_empty_store(kind, home)
        with SqliteStore(built.db_path()) as src:
            copy_graph(src, dst)
        dst.close()
    return load_settings(home=home, store=kind, **values)


def snapshot(store: GraphStore) -> dict:
    """Everything a refresh may change, timestamps left out."""
    return {
        "papers": [p.model_dump() for p in store.iter_papers()],
        "topics": sorted(
            (t.id, t.parent, t.label, t.level, t.size, tuple(t.keywords)) for t in store.topics()
        ),
        "assignments": sorted(
            (a.paper_id, a.topic_id, round(a.score, 4), a.origin) for a in store.assignments()
        ),
        "corrections": [(c.kind, c.payload) for c in store.corrections()],
        "embedded": sorted(store.get_embeddings()),
    }


def check_tree(store: GraphStore) -> None:
    """Sizes are distinct papers per subtree; papers sit only in leaves; no empty topic."""
    view = TreeView.of(store)
    papers = view.subtree_papers()
    for topic in view.topics.values():
        assert topic.size == len(papers[topic.id]), topic.id
        assert papers[topic.id], f"empty topic {topic.id}"
        if view.children.get(topic.id):
            assert not view.members.get(topic.id), f"papers directly in inner topic {topic.id}"


@pytest.mark.parametrize("kind", BACKENDS)
def test_refresh_adds_new_papers_into_the_tree(kind, server, built_corpus, tmp_path):
    settings = tree_home(built_corpus, tmp_path / "home", kind, source_settings(server))
    server.publish(arxiv_records(1))
    server.daily = {DAYS[0]: hf_daily()[DAYS[0]]}
    watch = Watch.from_settings(settings, hf_daily=True, categories=["cs.AI"])
    with open_store(settings) as store:
        old_topics = {t.id for t in store.topics()}
        old_papers = store.paper_count()
        # A human's placement and correction from before the refresh must survive it.
        some = store.assignments()[0]
        human = some.model_copy(update={"origin": "human", "score": 1.0})
        store.upsert_assignments([human])
        store.append_correction(Correction(kind="move", actor="human", payload={"p": 1}))

        report = run_refresh(store, settings, watch, as_of=date.fromisoformat(DAYS[0]))
        arxiv_new = [r for r in arxiv_records(1) if "cs.AI" in r["categories"]]
        hf_new = {i["paper"]["id"] for i in hf_daily()[DAYS[0]]} - {
            r["arxiv_id"] for r in arxiv_new
        }
        assert store.paper_count() == old_papers + len(arxiv_new) + len(hf_new)
        assert old_topics <= {t.id for t in store.topics()}
        assigned = {a.paper_id for a in store.assignments()}
        assert all(p.id in assigned for p in store.iter_papers())
        assert sum(report.place.placed.values()) >= len(arxiv_new) + len(hf_new)
        assert report.place.grown  # the report names the topics that grew
        assert store.get_meta(arxiv_watermark_key(QUERY)) == max(r["updated"] for r in arxiv_new)
        assert store.get_meta(HF_DAILY_KEY) == DAYS[0][:8] + f"{int(DAYS[0][8:]) - 1:02d}"
        # The human placement survives: where its topic grew past the leaf size and split,
        # its papers moved into the new children keeping their origin and score (place.py).
        kept = [a for a in store.assignments(paper_id=human.paper_id) if a.origin == "human"]
        tree = TreeState.from_store(store)
        within = tree.subtree(human.topic_id)
        assert [(a.score, a.topic_id in within) for a in kept] == [(1.0, True)]
        if tree.is_leaf(human.topic_id):  # still a leaf: untouched
            assert human in store.assignments(paper_id=human.paper_id)
        assert len(store.corrections()) == 1
        check_tree(store)

        # Nothing new: one request per source, and nothing changes.
        before = snapshot(store)
        server.log.clear()
        report = run_refresh(store, settings, watch, as_of=date.fromisoformat(DAYS[0]))
        assert snapshot(store) == before
        assert [r.params.get("start") for r in server.requests("/api/query")] == ["0"]
        assert [r.params for r in server.requests("/api/daily_papers")] == [{"date": DAYS[0]}]
        assert report.embedded == 0 and not report.place.placed

        # New entries appear (new papers, a v2, a withdrawal, a malformed entry): only the
        # pages down to the watermark are read.
        server.publish(arxiv_records(2))
        server.daily[DAYS[1]] = hf_daily()[DAYS[1]]
        server.log.clear()
        report = run_refresh(store, settings, watch, as_of=date.fromisoformat(DAYS[1]))
        fresh = [r for r in arxiv_records(2) if "cs.AI" in r["categories"]]
        starts = [int(r.params["start"]) for r in server.requests("/api/query")]
        assert starts == list(range(0, len(fresh) + 1, 5))  # stops on the page with an old one
        arxiv_source = report.sources[0]
        # Read: the valid new entries, plus the one at the watermark itself (unchanged).
        assert arxiv_source.rejected == 1 and arxiv_source.unchanged == 1
        assert arxiv_source.new + arxiv_source.updated == len(fresh) - 1
        assert arxiv_source.updated == 2  # the v2 and the withdrawal
        assert [r.params["date"] for r in server.requests("/api/daily_papers")] == DAYS[:2]
        v2 = next(r for r in fresh if r["version"] == 2 and not r["comment"].endswith("withdrawn"))
        updated = store.get_paper(v2["arxiv_id"])
        assert updated.version == 2 and updated.journal_ref == v2["journal_ref"]
        gone = next(r for r in fresh if r["comment"] and r["comment"].endswith("withdrawn"))
        assert store.get_paper(gone["arxiv_id"]).withdrawn
        assert old_topics <= {t.id for t in store.topics()}
        assert all(p.id in {a.paper_id for a in store.assignments()} for p in store.iter_papers())
        assert len(store.corrections()) == 1
        check_tree(store)


@pytest.mark.parametrize("kind", BACKENDS)
def test_pool_and_grown_leaves_are_reclustered_locally(kind, server, built_corpus, tmp_path):
    # Every new paper is "far" (score threshold 0.99): all go to the pool, which is then
    # clustered into new top-level topics.
    values = source_settings(server, place_min_score=0.99, unplaced_pool_size=5)
    settings = tree_home(built_corpus, tmp_path / "home", kind, values)
    server.publish(arxiv_records(1))
    with open_store(settings) as store:
        old = {t.id: t for t in store.topics()}
        report = run_refresh(store, settings, Watch([QUERY]))
        topics = {t.id: t for t in store.topics()}
        assert set(old) <= set(topics) and POOL_ID not in topics
        assert report.place.pooled == 0 and report.place.new_topics
        new_top = [t for t in report.place.new_topics if t.parent == "root"]
        assert new_top and all(t.level == 1 and t.label for t in new_top)
        for t in old.values():  # the old part of the tree is untouched, sizes aside
            assert (topics[t.id].label, topics[t.id].parent) == (t.label, t.parent)
        check_tree(store)

        # A leaf left pending (as a crashed run would) and now too large is split in place:
        # it keeps its id, becomes the parent of new subtopics, and a human's placement of
        # one of its papers keeps its origin.
        view = TreeView.of(store)
        leaf = max(
            (t for t in view.leaves() if t in old and old[t].level < settings.max_depth),
            key=lambda t: (len(view.members[t]), t),
        )
        paper = sorted(view.members[leaf])[0]
        store.upsert_assignments(
            [Assignment(paper_id=paper, topic_id=leaf, score=0.9, origin="human")]
        )
        PlaceState(pending=[leaf]).save(store)
        small = settings.model_copy(update={"max_leaf_size": len(view.members[leaf]) - 1})
        place = make_placer(small, show_progress=False).run(store)
        assert place.splits == 1
        children = [t for t in store.topics() if t.parent == leaf]
        assert len(children) >= 2 and not store.assignments(topic_id=leaf)
        # Only the split leaf's part: the paper may hold a second topic elsewhere.
        below = TreeState.from_store(store).subtree(leaf)
        moved = [a for a in store.assignments(paper_id=paper) if a.topic_id in below]
        assert [a.origin for a in moved] == ["human"] and moved[0].topic_id in {
            c.id for c in children
        }
        assert set(old) <= {t.id for t in store.topics()}
        assert PlaceState.load(store) == PlaceState()
        check_tree(store)


def _env(settings_values: dict[str, object], home: Path, kind: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIEROGRAPH_")}
    env.update({f"HIEROGRAPH_{k.upper()}": str(v) for k, v in settings_values.items()})
    env["HIEROGRAPH_WATCH_CATEGORIES"] = '["cs.AI"]'
    env.update(HIEROGRAPH_HOME=str(home), HIEROGRAPH_STORE=kind)
    # The test server's address and its generated password (conftest reads it from the file).
    for key in ("HIEROGRAPH_NEO4J_URI", "HIEROGRAPH_NEO4J_USER", "HIEROGRAPH_NEO4J_PASSWORD"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _start_refresh(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hierograph.cli", "refresh", "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 180) -> bool:
    """kill -9 the process as soon as `ready()` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the refresh neither finished nor reached the kill point")


@pytest.mark.parametrize("kind", BACKENDS)
def test_killed_refresh_converges_on_rerun(kind, server, built_corpus, tmp_path):
    values = source_settings(server, arxiv_page_size=2, max_leaf_size=6)
    values.pop("watch_categories")
    server.publish(arxiv_records(1) + arxiv_records(2))

    # The reference: one uninterrupted refresh.
    ref = tree_home(built_corpus, tmp_path / "ref", kind, values | {"watch_categories": ["cs.AI"]})
    with open_store(ref) as store:
        run_refresh(store, ref, Watch.from_settings(ref), show_progress=False)
        expected = snapshot(store)
    assert len(expected["topics"]) > 0

    home = tmp_path / "crash"
    crash = tree_home(built_corpus, home, kind, values)
    shutil.copy(ref.embedding_cache_path(), crash.embedding_cache_path())  # identical vectors
    env = _env(values, home, kind)
    probe = open_store(crash)
    try:
        before = probe.paper_count()
        server.delay = 0.1
        server.log.clear()
        # Killed while reading arXiv: some pages committed, the watermark not moved.
        killed = _kill_when(_start_refresh(env), lambda: len(server.requests()) >= 4)
        assert killed
        assert before < probe.paper_count() < before + len(expected["papers"]) - before
        assert probe.get_meta(arxiv_watermark_key(QUERY)) is None
        server.delay = 0
        # Killed while changing the tree: re-clustering the grown leaves (max_leaf_size 6)
        # takes seconds, and its write-ahead state shows when it has begun.
        assert _kill_when(_start_refresh(env), lambda: bool(probe.get_meta(STATE_KEY)))
        assert probe.get_meta(arxiv_watermark_key(QUERY))  # the fetch had finished
        done = subprocess.run(
            [sys.executable, "-m", "hierograph.cli", "refresh", "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert snapshot(probe) == expected
        ids = [p["id"] for p in expected["papers"]]
        assert len(ids) == len(set(ids))
        check_tree(probe)
    finally:
        probe.close()


def test_a_second_refresh_waits_for_the_lock(server, built_corpus, tmp_path):
    settings = tree_home(built_corpus, tmp_path / "home", "sqlite", source_settings(server))
    server.publish(arxiv_records(1))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import filelock, sys, time; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(settings.home / "refresh.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with open_store(settings) as store:
            with pytest.raises(RefreshError, match="another refresh is running"):
                run_refresh(store, settings, Watch([QUERY]), show_progress=False)
            assert server.requests() == []
            os.kill(holder.pid, signal.SIGKILL)  # a killed holder leaves no stale lock
            holder.wait()
            report = run_refresh(store, settings, Watch([QUERY]), show_progress=False)
            assert report.sources[0].new > 0
    finally:
        holder.kill()


def test_nothing_to_watch_is_a_clear_error(tmp_path):
    settings = load_settings(home=tmp_path)
    with SqliteStore(settings.db_path()) as store, pytest.raises(RefreshError, match="watch_"):
        run_refresh(store, settings, Watch.from_settings(settings))


@pytest.mark.parametrize("kind", BACKENDS)
def test_cli_refresh_reports_changes(kind, server, built_corpus, tmp_path):
    values = source_settings(server)
    settings = tree_home(built_corpus, tmp_path / "home", kind, values)
    server.publish(arxiv_records(1))
    env = {f"HIEROGRAPH_{k.upper()}": str(v) for k, v in values.items()}
    env.pop("HIEROGRAPH_WATCH_CATEGORIES")
    with open_store(settings) as store:
        old = {t.id for t in store.topics()}
    result = CliRunner().invoke(
        app,
        [
            "--home",
            str(settings.home),
            "--store",
            kind,
            "refresh",
            "--category",
            "cs.AI",
            "--quiet",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    for heading in ("sources", "new papers per topic", "fastest-growing topics"):
        assert heading in result.output
    with open_store(settings) as store:
        assert old <= {t.id for t in store.topics()}
        assert store.paper_count() > 49
    server.faults.clear()
    from .fixture_server import Fault

    server.faults.append(Fault("/api/query", status=503, times=99))
    result = CliRunner().invoke(
        app,
        [
            "--home",
            str(settings.home),
            "--store",
            kind,
            "refresh",
            "--category",
            "cs.AI",
            "--quiet",
        ],
        env=env | {"HIEROGRAPH_HTTP_MAX_ATTEMPTS": "2"},
    )
    assert result.exit_code == 1 and "failed after 2 tries" in " ".join(result.output.split())


def test_schedule_triggers_and_logged_job(server, built_corpus, tmp_path):
    assert "interval" in str(make_trigger(30, None))
    assert "cron" in str(make_trigger(None, "0 6 * * *"))
    with pytest.raises(ScheduleError, match="five fields"):
        make_trigger(None, "every morning")
    settings = tree_home(built_corpus, tmp_path / "home", "sqlite", source_settings(server))
    server.publish(arxiv_records(1))
    from hierograph.jobs.schedule import setup_logging

    log = setup_logging(settings)
    lines: list[str] = []
    assert refresh_job(settings, echo=lines.append) is True
    # One line for the terminal: when, what it fetched, what it placed.
    [line] = lines
    found = re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d refresh: fetched (\d+) \(\1 new, 0 updated\)", line
    )
    assert found and int(found[1]) > 0, line
    assert f", placed {found[1]} in the tree" in line and f"{found[1]} on the paper map" in line
    with open_store(settings) as store:
        assert len(store.layout()) == store.paper_count(), "the new paper is on the map"
    text = log.read_text()
    assert "refresh finished" in text and "new papers per topic" in text
    assert log.parent == settings.home / "logs"
