"""Refresh under faults (issue 18, items 1-3): a capped run leaves no gap, a broken page fails
the source without moving its watermark, and a dripping server meets a wall-clock deadline.
The fixture server stands in for arXiv; the watermark lives in either store."""

from __future__ import annotations

import time

import pytest

from hierograph.ingest.arxiv import ArxivClient
from hierograph.ingest.fetch import SourceError
from hierograph.jobs.refresh import PaperWriter, arxiv_watermark_key, read_arxiv
from hierograph.settings import load_settings

from .fixture_server import Fault, FixtureServer, arxiv_records
from .stores import BACKENDS, open_empty_store

QUERY = "cat:cs.AI"


@pytest.fixture
def server():
    with FixtureServer() as srv:
        yield srv


def _settings(srv: FixtureServer, home, kind: str, **over: object):
    values: dict[str, object] = dict(
        arxiv_api_url=srv.arxiv_url,
        arxiv_delay_seconds=0,
        http_backoff_seconds=0,
        arxiv_page_size=2,
        http_max_attempts=2,
    )
    values.update(over)
    return load_settings(home=home, store=kind, **values)


def _read(settings, store):
    client = ArxivClient(settings)
    try:
        return read_arxiv(client, QUERY, store, PaperWriter(store, settings, False), lambda n: None)
    finally:
        client.close()


def _cs_ai(batch: int) -> list[dict]:
    return [r for r in arxiv_records(batch) if "cs.AI" in r["categories"] and r["arxiv_id"]]


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_capped_run_leaves_no_gap(kind, server, tmp_path):
    home = tmp_path / "home"
    store = open_empty_store(kind, home)
    try:
        server.publish(arxiv_records(1))
        first = _read(_settings(server, home, kind), store)
        assert first.error is None
        watermark = store.get_meta(arxiv_watermark_key(QUERY))
        assert watermark == max(r["updated"] for r in _cs_ai(1))

        # More new entries than one run may read: three of them share one timestamp.
        server.publish(arxiv_records(2))
        fresh = {r["arxiv_id"] for r in _cs_ai(2)}
        assert len(fresh) > 3
        capped = _settings(server, home, kind, arxiv_max_results=3)
        runs = 0
        while runs < 10:
            runs += 1
            before = store.get_meta(arxiv_watermark_key(QUERY))
            report = _read(capped, store)
            after = store.get_meta(arxiv_watermark_key(QUERY))
            assert report.error is None and after >= before
            stored = {p.id for p in store.iter_papers()}
            # The watermark never passes an entry that is not stored yet.
            unread = [r for r in _cs_ai(2) if r["arxiv_id"] not in stored]
            assert all(r["updated"] >= after for r in unread), (after, unread)
            if "stopped at 3 entries" not in report.note:
                break
        assert runs > 1  # the cap did stop the first of these runs
        assert fresh <= {p.id for p in store.iter_papers()}
        assert store.get_meta(arxiv_watermark_key(QUERY)) == max(r["updated"] for r in _cs_ai(2))
    finally:
        store.close()


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(
    "fault",
    [
        Fault("/api/query", status=200, body=b"<html><body>Service busy</body></html>", times=99),
        Fault("/api/query", cut_at=1500, times=99),
    ],
    ids=["html-200", "truncated"],
)
def test_a_broken_page_fails_the_source_and_keeps_the_watermark(kind, fault, server, tmp_path):
    home = tmp_path / "home"
    store = open_empty_store(kind, home)
    try:
        server.publish(arxiv_records(1))
        settings = _settings(server, home, kind, arxiv_page_size=50)
        assert _read(settings, store).error is None
        watermark = store.get_meta(arxiv_watermark_key(QUERY))
        count = store.paper_count()

        server.publish(arxiv_records(2))
        server.faults.append(fault)
        server.log.clear()
        report = _read(settings, store)
        assert report.error and "broken page" in report.error
        assert len(server.requests("/api/query")) == settings.http_max_attempts  # retried
        assert store.get_meta(arxiv_watermark_key(QUERY)) == watermark
        assert report.watermark == watermark
        assert store.paper_count() == count and report.fetched == 0

        server.faults.clear()  # the source recovers: everything is read after all
        assert _read(settings, store).error is None
        assert {r["arxiv_id"] for r in _cs_ai(2)} <= {p.id for p in store.iter_papers()}
    finally:
        store.close()


def test_a_dripping_server_meets_the_deadline(server, tmp_path):
    server.publish(arxiv_records(1))
    # 120 bytes at 0.05 s each: six seconds; the deadline is half a second.
    server.faults.append(Fault("/api/query", cut_at=120, drip_seconds=0.05, times=99))
    settings = load_settings(
        home=tmp_path,
        arxiv_api_url=server.arxiv_url,
        arxiv_delay_seconds=0,
        http_backoff_seconds=0,
        http_max_attempts=2,
        http_deadline_seconds=0.5,
    )
    client = ArxivClient(settings)
    began = time.monotonic()
    with pytest.raises(SourceError, match="longer than 0.5 s"):
        client.search(QUERY, None, lambda page: None)
    assert time.monotonic() - began < 4  # two tries of half a second, not two of six
    client.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_refresh_links_what_it_adds_to_methods_and_code(kind, server, embedding_cache, tmp_path):
    from hierograph.jobs.refresh import Watch, run_refresh

    from .conftest import seeded_home

    home = seeded_home(tmp_path / "home", embedding_cache).home
    record = dict(
        arxiv_records(1)[0],
        arxiv_id="2607.00001",
        title="Direct preference optimization for tool-using agents",
        abstract="We propose a variant of Direct Preference Optimization (DPO) for agents that "
        "call tools, and compare it with PPO. Code: https://github.com/example/tool-dpo",
        categories=["cs.AI"],
    )
    server.publish([record])
    settings = _settings(server, home, kind)
    store = open_empty_store(kind, home)
    try:
        report = run_refresh(store, settings, Watch([QUERY]), show_progress=False)
        assert report.sources[0].new == 1
        methods = {link.method_id for link in store.method_links(paper_id="2607.00001")}
        assert {"dpo", "ppo"} <= methods
        code = [link.url for link in store.code_links(paper_id="2607.00001")]
        assert code == ["https://github.com/example/tool-dpo"]
        assert report.linked is not None and report.linked.papers_linked >= 1
    finally:
        store.close()
