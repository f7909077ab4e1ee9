"""Ingest under bad records (issue 18, item 4): every failure is a reject with file, line and
reason, and every valid record of the batch, other files included, is stored, in both stores."""

from __future__ import annotations

import json

import pytest

from hierograph.ingest.pipeline import ingest_paths

from .stores import BACKENDS, open_empty_store

ABSTRACT = "We study how preference data shapes reward models for language model alignment. " * 3


def _record(arxiv_id: str, title: str, abstract: str = ABSTRACT) -> str:
    return json.dumps({"arxiv_id": arxiv_id, "title": title, "abstract": abstract})


@pytest.mark.parametrize("kind", BACKENDS)
def test_bad_records_are_rejected_and_the_rest_stored(kind, tmp_path):
    first = tmp_path / "first.jsonl"
    lines = [
        _record("2501.00001", "A good record"),
        "[" * 100_000 + "]" * 100_000,  # RecursionError in json.loads
        _record("2501.00003", "Lone \ud800 surrogate"),  # written as the escape \\ud800
        _record("2501.00004", "Nul\u0000 inside the title"),
        _record("2501.00005", "A huge abstract", "word " * 5_000),
        _record("2501.00001", "The same id with another title"),
        _record("2501.00001", "A GOOD record!"),  # the same paper again: merged, no conflict
    ]
    first.write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = tmp_path / "second.jsonl"
    second.write_text(_record("2501.00006", "A record in another file") + "\n")
    rejects = tmp_path / "home" / "rejects.jsonl"

    store = open_empty_store(kind, tmp_path / "home")
    try:
        report = ingest_paths(store, [first, second], rejects)
        stored = {p.id: p for p in store.iter_papers()}
    finally:
        store.close()

    assert set(stored) == {"2501.00001", "2501.00004", "2501.00006"}
    assert stored["2501.00001"].title == "A good record"
    assert stored["2501.00004"].title == "Nul inside the title"  # NUL stripped
    assert report.conflicts == 1 and report.rejected == 4 and report.merged == 1
    assert "1 conflicting duplicates" in report.summary()
    rows = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    by_line = {(r["file"], r["line"]): r["reason"] for r in rows}
    assert set(by_line) == {(str(first), n) for n in (2, 3, 5, 6)}
    assert "nested too deeply" in by_line[(str(first), 2)]
    assert "title: invalid Unicode" in by_line[(str(first), 3)]
    assert "abstract is 24,999 characters long; the limit is 20,000" in by_line[(str(first), 5)]
    conflict = by_line[(str(first), 6)]
    assert "conflicting duplicate" in conflict and f"{first}:1" in conflict
    assert "different title" in conflict
