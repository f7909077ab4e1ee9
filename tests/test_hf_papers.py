"""The Hugging Face papers ingester against the local fixture server, and its merge into
arXiv records in both stores."""

from __future__ import annotations

from datetime import date

import pytest

from hierograph.ingest.arxiv import ArxivClient, merge_arxiv
from hierograph.ingest.fetch import SourceError
from hierograph.ingest.hf_papers import HfClient, merge_hf
from hierograph.jobs.refresh import PaperWriter, SourceReport
from hierograph.settings import load_settings

from .fixture_server import Fault as ServerFault
from .fixture_server import FixtureServer, arxiv_records, hf_daily
from .stores import BACKENDS, open_empty_store

DAYS = sorted(hf_daily())


@pytest.fixture
def server():
    with FixtureServer() as srv:
        srv.daily = hf_daily()
        srv.hf_papers = {
            i["paper"]["id"]: i["paper"] for items in srv.daily.values() for i in items
        }
        yield srv


def client_for(srv: FixtureServer, tmp_path, **over: object) -> HfClient:
    values = dict(hf_api_url=srv.hf_url, hf_delay_seconds=0, http_backoff_seconds=0)
    values.update(over)
    return HfClient(load_settings(home=tmp_path, **values))


def test_daily_papers_keep_upvotes_repo_and_project_page(server, tmp_path):
    papers, rejects = client_for(server, tmp_path).daily(date.fromisoformat(DAYS[0]))
    raw = {i["paper"]["id"]: i["paper"] for i in server.daily[DAYS[0]]}
    assert rejects == [] and sorted(p.id for p in papers) == sorted(raw)
    linked = [p for p in papers if "githubRepo" in raw[p.id]]
    bare = [p for p in papers if "githubRepo" not in raw[p.id]]
    assert linked and bare  # the fixture day has both shapes
    for p in linked:
        assert p.github_repo == raw[p.id]["githubRepo"].rstrip("/")
        assert p.project_page == raw[p.id]["projectPage"]
        assert p.github_repo in p.code_urls and p.project_page in p.urls
    for p in bare:
        assert p.github_repo is None and p.project_page is None
    for p in papers:
        assert p.upvotes == raw[p.id]["upvotes"] and p.source == "hf"
        assert p.authors == [a["name"] for a in raw[p.id]["authors"]]
        assert p.abstract == " ".join(raw[p.id]["summary"].split())
    request = server.requests("/api/daily_papers")[0]
    assert request.params == {"date": DAYS[0]}


def test_a_day_without_papers_is_empty(server, tmp_path):
    assert client_for(server, tmp_path).daily(date(2020, 1, 4)) == ([], [])


def test_a_broken_item_is_rejected_and_the_rest_kept(server, tmp_path):
    good = server.daily[DAYS[0]]
    server.daily[DAYS[0]] = [{"title": "no paper object"}, *good]
    papers, rejects = client_for(server, tmp_path).daily(date.fromisoformat(DAYS[0]))
    assert len(papers) == len(good)
    assert len(rejects) == 1 and "paper" in rejects[0].reason and rejects[0].line == 0


def test_single_paper_by_arxiv_id(server, tmp_path):
    arxiv_id = next(iter(server.hf_papers))
    client = client_for(server, tmp_path)
    paper = client.paper(f"arXiv:{arxiv_id}v3")  # any spelling of the id
    assert paper is not None and paper.id == arxiv_id
    assert paper.upvotes == server.hf_papers[arxiv_id]["upvotes"]
    assert server.requests()[-1].path == f"/api/papers/{arxiv_id}"
    assert client.paper("2501.99999") is None  # HF has no page for it: 404
    with pytest.raises(SourceError, match="not an arXiv id"):
        client.paper("not-an-id")


def test_server_errors_are_retried_then_reported(server, tmp_path):
    server.faults.append(ServerFault("/api/daily_papers", status=500, times=1))
    client = client_for(server, tmp_path)
    papers, _ = client.daily(date.fromisoformat(DAYS[0]))
    assert papers and [r.status for r in server.requests()] == [500, 200]
    server.faults.append(ServerFault("/api/daily_papers", status=503, times=99))
    with pytest.raises(SourceError, match="Hugging Face API.*failed after 2 tries"):
        client_for(server, tmp_path, http_max_attempts=2).daily(date.fromisoformat(DAYS[0]))


def test_hf_fields_win_and_arxiv_text_stays(server, tmp_path):
    arxiv_id = next(iter(server.hf_papers))
    hf = client_for(server, tmp_path).paper(arxiv_id)
    assert hf is not None
    stored = hf.model_copy(update={"title": "The arXiv title", "source": "arxiv", "upvotes": 1})
    merged = merge_hf(stored, hf)
    assert merged.title == "The arXiv title" and merged.upvotes == hf.upvotes
    assert merged.source == "arxiv,hf"


@pytest.mark.parametrize("kind", BACKENDS)
def test_hf_record_merges_into_the_arxiv_record(kind, server, tmp_path):
    """A paper read from arXiv, then from HF daily papers: one record with both sources."""
    server.publish(arxiv_records(1))
    settings = load_settings(
        home=tmp_path,
        store=kind,
        arxiv_api_url=server.arxiv_url,
        hf_api_url=server.hf_url,
        arxiv_delay_seconds=0,
        hf_delay_seconds=0,
    )
    store = open_empty_store(kind, tmp_path)
    try:
        writer = PaperWriter(store, settings, show_progress=False)
        report = SourceReport("test")
        ArxivClient(settings).search(
            "cat:cs.AI", None, lambda page: writer.write(page.papers, merge_arxiv, report)
        )
        shared = [i for i in server.daily[DAYS[0]] if store.get_paper(i["paper"]["id"])]
        assert shared, "the fixture day shares papers with arXiv batch 1"
        before = {i["paper"]["id"]: store.get_paper(i["paper"]["id"]) for i in shared}
        count = store.paper_count()
        papers, _ = HfClient(settings).daily(date.fromisoformat(DAYS[0]))
        writer.write(papers, merge_hf, report)
        assert store.paper_count() == count + len(papers) - len(shared)
        for item in shared:
            merged = store.get_paper(item["paper"]["id"])
            old = before[item["paper"]["id"]]
            assert merged.title == old.title and merged.version == old.version
            assert merged.upvotes == item["paper"]["upvotes"]
            assert merged.source == "arxiv,hf"
            assert merged.github_repo == item["paper"].get("githubRepo")
        again = SourceReport("again")
        writer.write(papers, merge_hf, again)
        assert (again.new, again.updated, again.unchanged) == (0, 0, len(papers))
    finally:
        store.close()
