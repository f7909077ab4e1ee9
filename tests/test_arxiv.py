"""The arXiv ingester against the local fixture server: parsing, paging, politeness, retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from hierograph.graph.models import Paper
from hierograph.ingest.arxiv import ArxivClient, ArxivPage, merge_arxiv
from hierograph.ingest.fetch import SourceError
from hierograph.settings import Settings, load_settings

from .fixture_server import Fault, FixtureServer, arxiv_records


@pytest.fixture
def server():
    with FixtureServer() as srv:
        srv.publish(arxiv_records(1))
        yield srv


def settings_for(srv: FixtureServer, home: Path, **over: object) -> Settings:
    values = dict(
        arxiv_api_url=srv.arxiv_url,
        hf_api_url=srv.hf_url,
        arxiv_delay_seconds=0,
        http_backoff_seconds=0,
        arxiv_page_size=7,
    )
    values.update(over)
    return load_settings(home=home, **values)


def read_all(client: ArxivClient, query: str, since: str | None = None):
    pages: list[ArxivPage] = []
    outcome = client.search(query, since, pages.append)
    return outcome, [p for page in pages for p in page.papers], pages


def test_entries_become_papers_with_every_arxiv_field(server, tmp_path):
    batch = {r["arxiv_id"]: r for r in arxiv_records(1)}
    server.publish([dict(r, doi=f"10.1000/{r['arxiv_id']}") for r in list(batch.values())[:1]])
    client = ArxivClient(settings_for(server, tmp_path))
    outcome, papers, _ = read_all(client, "cat:cs.AI")
    expected = [r for r in batch.values() if "cs.AI" in r["categories"]]
    assert outcome.complete and len(papers) == len(expected)
    one = papers[0]
    raw = batch[one.id]
    assert one.id == one.arxiv_id == raw["arxiv_id"]  # no version in the id
    assert one.version == 1
    assert one.title == " ".join(raw["title"].split())
    assert one.abstract == " ".join(raw["abstract"].split())  # arXiv's line breaks gone
    assert one.authors == raw["authors"]
    assert one.categories == raw["categories"]
    assert one.primary_category == raw["primary_category"]
    assert one.published == raw["published"] and one.updated == raw["updated"]
    assert one.url == f"https://arxiv.org/abs/{one.id}"
    with_doi = next(p for p in papers if p.doi)
    assert with_doi.doi == f"10.1000/{with_doi.id}"
    commented = [p for p in papers if batch[p.id]["comment"]]
    assert commented and all(p.comment for p in commented)


def test_paging_follows_total_results_newest_first(server, tmp_path):
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=4))
    outcome, papers, pages = read_all(client, "cat:cs.AI")
    total = pages[0].total
    starts = [int(r.params["start"]) for r in server.requests("/api/query")]
    assert starts == list(range(0, total, 4))
    assert outcome.requests == len(starts) and len(papers) == total
    assert [p.updated for p in papers] == sorted((p.updated for p in papers), reverse=True)
    assert {r.params["sortBy"] for r in server.requests()} == {"lastUpdatedDate"}


def test_after_a_watermark_paging_reads_oldest_first_from_it(server, tmp_path):
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=3))
    _, everything, _ = read_all(client, "cat:cs.AI")
    since = everything[4].updated
    server.log.clear()
    outcome, papers, pages = read_all(client, "cat:cs.AI", since=since)
    assert outcome.complete
    # The watermark's own entry too, oldest first; each page says how far is now safe.
    assert [p.id for p in papers] == [p.id for p in reversed(everything[:5])]
    assert [page.watermark for page in pages] == [papers[2].updated, papers[4].updated]
    sent = server.requests()
    assert [int(r.params["start"]) for r in sent] == [0, 3]
    assert {r.params["sortOrder"] for r in sent} == {"ascending"}
    assert sent[0].params["search_query"].startswith("(cat:cs.AI) AND lastUpdatedDate:[")


def test_an_empty_result_is_complete_and_asks_once(server, tmp_path):
    client = ArxivClient(settings_for(server, tmp_path))
    outcome, papers, _ = read_all(client, 'abs:"no paper says this phrase"')
    assert outcome.complete and papers == [] and len(server.requests()) == 1


def test_an_empty_page_mid_results_is_asked_again(server, tmp_path):
    server.faults.append(Fault("/api/query", empty_page=True, times=1))
    client = ArxivClient(settings_for(server, tmp_path))
    outcome, papers, pages = read_all(client, "cat:cs.AI")
    assert outcome.complete and len(papers) == pages[0].total
    assert [int(r.params["start"]) for r in server.requests()][:2] == [0, 0]


def test_an_empty_page_that_stays_empty_leaves_the_search_incomplete(server, tmp_path):
    server.faults.append(Fault("/api/query", empty_page=True, times=99))
    client = ArxivClient(settings_for(server, tmp_path, http_max_attempts=3))
    outcome, papers, _ = read_all(client, "cat:cs.AI")
    assert not outcome.complete and papers == [] and "empty page" in outcome.note
    assert len(server.requests()) == 3


def test_503_then_success(server, tmp_path):
    server.faults.append(Fault("/api/query", status=503, times=1))
    client = ArxivClient(settings_for(server, tmp_path))
    outcome, papers, _ = read_all(client, "cat:cs.AI")
    statuses = [r.status for r in server.requests()]
    assert statuses[0] == 503 and statuses[1] == 200 and outcome.complete and papers


def test_429_waits_for_retry_after(server, tmp_path):
    server.faults.append(Fault("/api/query", status=429, headers={"Retry-After": "1"}))
    client = ArxivClient(settings_for(server, tmp_path))
    read_all(client, "cat:cs.AI")
    first, second = server.requests()[:2]
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.95  # the backoff setting is 0: only Retry-After waits


def test_persistent_5xx_gives_a_clear_error(server, tmp_path):
    server.faults.append(Fault("/api/query", status=502, times=99))
    client = ArxivClient(settings_for(server, tmp_path, http_max_attempts=3))
    with pytest.raises(SourceError, match="failed after 3 tries.*502"):
        read_all(client, "cat:cs.AI")
    assert len(server.requests()) == 3


def test_unreachable_server_gives_a_clear_error(tmp_path):
    settings = load_settings(
        home=tmp_path,
        arxiv_api_url="http://127.0.0.1:9/api/query",
        arxiv_delay_seconds=0,
        http_backoff_seconds=0,
        http_max_attempts=2,
    )
    with pytest.raises(SourceError, match="HIEROGRAPH_ARXIV_API_URL"):
        read_all(ArxivClient(settings), "cat:cs.AI")


def test_a_bad_query_reports_arxivs_message(server, tmp_path):
    client = ArxivClient(settings_for(server, tmp_path))
    with pytest.raises(SourceError, match="refused the query.*unsupported query syntax"):
        read_all(client, "preference optimization")


def test_requests_are_paced_and_identify_themselves(server, tmp_path):
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=4, arxiv_delay_seconds=0.4))
    read_all(client, "cat:cs.AI")
    log = server.requests()
    assert len(log) >= 3
    assert all(b.at - a.at >= 0.38 for a, b in zip(log, log[1:], strict=False))
    assert all(r.user_agent.startswith("Hierograph/") for r in log)


def test_malformed_entry_is_rejected_with_its_reason(server, tmp_path):
    server.publish(arxiv_records(2))
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=50))
    _, papers, pages = read_all(client, "cat:cs.AI")
    rejects = [r for page in pages for r in page.rejects]
    assert [r.reason for r in rejects] == ["missing or unreadable arXiv id ''"]
    assert rejects[0].excerpt == "Entry without id"
    assert "/api/query" in rejects[0].file


def _by_id(client: ArxivClient, arxiv_id: str) -> Paper:
    _, papers, _ = read_all(client, "cat:cs.AI")
    return next(p for p in papers if p.id == arxiv_id)


def test_a_newer_version_replaces_arxiv_fields_and_keeps_the_rest(server, tmp_path):
    v2 = next(r for r in arxiv_records(2) if r["version"] == 2 and "withdrawn" not in r["comment"])
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=50))
    v1 = _by_id(client, v2["arxiv_id"])
    stored = v1.model_copy(update={"upvotes": 12, "source": "arxiv,hf"})
    server.publish([v2])
    new = _by_id(client, v2["arxiv_id"])
    merged = merge_arxiv(stored, new)
    assert merged.version == 2 and merged.updated == v2["updated"]
    assert merged.comment == v2["comment"] and merged.journal_ref == v2["journal_ref"]
    assert merged.upvotes == 12 and merged.source == "arxiv,hf"  # Hugging Face's stays
    assert merge_arxiv(merged, v1) == merged  # an older version changes nothing


def test_a_withdrawal_is_flagged_and_keeps_the_last_abstract(server, tmp_path):
    gone = next(r for r in arxiv_records(2) if "withdrawn" in (r["comment"] or ""))
    client = ArxivClient(settings_for(server, tmp_path, arxiv_page_size=50))
    v1 = _by_id(client, gone["arxiv_id"])
    server.publish([gone])
    notice = _by_id(client, gone["arxiv_id"])
    assert notice.withdrawn and notice.abstract.startswith("This paper has been withdrawn")
    merged = merge_arxiv(v1, notice)
    assert merged.withdrawn and merged.version == 2
    assert merged.abstract == v1.abstract and merged.comment == "This paper has been withdrawn"
