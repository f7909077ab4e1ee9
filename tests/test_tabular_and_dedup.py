import json
from pathlib import Path

import pytest

from hierograph.graph.sqlite_store import SqliteStore
from hierograph.ingest.pipeline import IngestError, ingest_paths
from hierograph.ingest.tabular import parse_csv, parse_jsonl

from .conftest import CORPUS

ABSTRACT = "A careful study of reward hacking in preference-trained language models. " * 4


def _jsonl(tmp_path: Path, lines: list[str | bytes]) -> Path:
    path = tmp_path / "records.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def test_jsonl_broken_lines_go_to_rejects_with_line_numbers(tmp_path):
    good = {
        "arxiv_id": "2501.00001v2",
        "title": "Good",
        "abstract": ABSTRACT,
        "authors": ["A. One", "B. Two"],
        "categories": ["cs.CL"],
        "listing_date": "2025-01-02",
    }
    path = _jsonl(
        tmp_path,
        [
            json.dumps(good),
            '{"arxiv_id": "2501.00002", "title": "Broken',
            json.dumps({"arxiv_id": "2501.00003", "abstract": ABSTRACT}),
            json.dumps({"arxiv_id": "2501.00004", "title": "No abstract", "abstract": "  "}),
            "[1, 2]",
            b'{"title": "bad \xff bytes", "abstract": "x"}',
            "",
            json.dumps(
                {
                    "id": "2501.00005",
                    "title": "Also good",
                    "abstract": ABSTRACT,
                    "authors": "C. Three, D. Four",
                    "categories": "cs.AI cs.LG",
                }
            ),
        ],
    )
    parsed = parse_jsonl(path)
    assert [(n, p.id) for n, p in parsed.papers] == [(1, "2501.00001"), (8, "2501.00005")]
    first, second = parsed.papers[0][1], parsed.papers[1][1]
    assert first.authors == ["A. One", "B. Two"] and first.published == "2025-01-02"
    assert first.url == "https://arxiv.org/abs/2501.00001"
    assert second.authors == ["C. Three", "D. Four"] and second.categories == ["cs.AI", "cs.LG"]
    assert [(r.line, r.reason.split(":")[0]) for r in parsed.rejects] == [
        (2, "broken JSON"),
        (3, "missing title"),
        (4, "empty abstract"),
        (5, "record is not a JSON object"),
        (6, "unreadable encoding (not UTF-8)"),
    ]


def test_csv_records_and_bad_rows(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(
        "id,title,abstract,authors,published\n"
        f'2502.00001,"A title, with comma","{ABSTRACT}","X, Y",2025-02-01\n'
        ",Missing abstract,,,\n"
        f'2502.00003,Too many,"{ABSTRACT}",Z,2025,extra\n'
        f'2502.00004,"Multi\nline title","{ABSTRACT}",W,2025-02-04\n'
    )
    parsed = parse_csv(path)
    assert [(n, p.title) for n, p in parsed.papers] == [
        (2, "A title, with comma"),
        (5, "Multi line title"),
    ]
    assert [(r.line, r.reason) for r in parsed.rejects] == [
        (3, "empty abstract"),
        (4, "more fields than the header has"),
    ]


def test_duplicates_merge_across_formats_and_arxiv_id_wins(tmp_path):
    title = "Preference Ranking Optimization for Human Alignment"
    page = tmp_path / "page.txt"
    page.write_text(f"Jul 25\n\n{title}\n\n{ABSTRACT}\n")
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "arxiv_id": "2306.17492",
                "title": title.upper() + "!",
                "abstract": ABSTRACT,
                "authors": ["Feifan Song"],
                "comment": "Code: https://github.com/AlibabaResearch/DAMO-ConvAI.",
            }
        )
        + "\n"
        + json.dumps({"arxiv_id": "2306.17492v2", "title": "Renamed", "abstract": ABSTRACT})
        + "\n"
    )
    with SqliteStore(tmp_path / "db.sqlite") as store:
        report = ingest_paths(store, [page, jsonl], tmp_path / "rejects.jsonl")
        # The record with the same id but another title is a conflict, reported, not merged.
        assert (report.ingested, report.merged, report.rejected) == (1, 1, 1)
        assert report.conflicts == 1
        [paper] = list(store.iter_papers())
        assert paper.id == "2306.17492"
        assert paper.authors == ["Feifan Song"]
        assert paper.code_urls == [
            "https://github.com/alibabaresearch/damo-convai"
        ] or paper.code_urls == ["https://github.com/AlibabaResearch/DAMO-ConvAI"]
        assert set(paper.source.split(",")) == {"hf-page", "jsonl"}


def test_page_paper_ingested_later_as_arxiv_record_keeps_its_id(tmp_path):
    title = "Binary Classifier Optimization for Large Language Model Alignment"
    page = tmp_path / "page.txt"
    page.write_text(f"Jul 25\n\n{title}\n\n{ABSTRACT}\n")
    jsonl = tmp_path / "later.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "arxiv_id": "2404.04656",
                "title": title,
                "abstract": ABSTRACT,
                "authors": ["Seungjae Jung"],
            }
        )
        + "\n"
    )
    with SqliteStore(tmp_path / "db.sqlite") as store:
        ingest_paths(store, [page], tmp_path / "r.jsonl")
        [before] = list(store.iter_papers())
        report = ingest_paths(store, [jsonl], tmp_path / "r.jsonl")
        [after] = list(store.iter_papers())
        assert after.id == before.id and after.arxiv_id == "2404.04656"
        assert (report.new, report.updated) == (0, 1)


def test_reingest_changes_nothing(tmp_path):
    bad = _jsonl(
        tmp_path, ['{"broken', json.dumps({"id": "x1", "title": "T", "abstract": ABSTRACT})]
    )
    rejects = tmp_path / "rejects.jsonl"
    with SqliteStore(tmp_path / "db.sqlite") as store:
        first = ingest_paths(store, [CORPUS, bad], rejects)
        snapshot = [p.model_dump() for p in store.iter_papers()]
        rejects_before = rejects.read_text()
        second = ingest_paths(store, [CORPUS, bad], rejects)
        assert first.new == first.ingested == 50 and first.rejected == 1
        assert (second.new, second.updated, second.unchanged) == (0, 0, 50)
        assert [p.model_dump() for p in store.iter_papers()] == snapshot
        assert rejects.read_text() == rejects_before
        row = json.loads(rejects_before.splitlines()[0])
        assert row["file"].endswith("records.jsonl") and row["line"] == 1


def test_nothing_readable_is_an_error_that_says_what_to_do(tmp_path):
    path = _jsonl(tmp_path, ["not json"])
    with SqliteStore(tmp_path / "db.sqlite") as store, pytest.raises(IngestError) as info:
        ingest_paths(
            store,
            [path, tmp_path / "missing.jsonl", tmp_path / "x.pdf"],
            tmp_path / "rejects.jsonl",
        )
    message = str(info.value)
    assert "file not found" in message and "unknown file type" in message
    assert "rejects.jsonl" in message
