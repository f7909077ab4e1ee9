"""`hierograph ingest`: parse files, merge duplicates, upsert into the store, record rejects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hierograph.graph.ids import title_key
from hierograph.graph.models import Paper
from hierograph.graph.store import GraphStore
from hierograph.ingest.page import parse_page
from hierograph.ingest.records import Parsed
from hierograph.ingest.rejects import Reject, RejectsFile
from hierograph.ingest.tabular import parse_csv, parse_jsonl

PARSERS: dict[str, Callable[[Path], Parsed]] = {
    ".txt": parse_page,
    ".jsonl": parse_jsonl,
    ".ndjson": parse_jsonl,
    ".csv": parse_csv,
}


class IngestError(RuntimeError):
    """Nothing could be read; the message says why and what to do."""


@dataclass(frozen=True)
class IngestReport:
    ingested: int
    merged: int
    rejected: int
    new: int
    updated: int
    unchanged: int

    def summary(self) -> str:
        return (
            f"{self.ingested} ingested, {self.merged} merged, {self.rejected} rejected "
            f"({self.new} new, {self.updated} updated, {self.unchanged} unchanged)"
        )


def parse_file(path: Path) -> Parsed:
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        return Parsed(rejects=[Reject(str(path), 0, f"unknown file type; expected one of {known}")])
    if not path.is_file():
        return Parsed(rejects=[Reject(str(path), 0, "file not found")])
    return parser(path)


def merge_duplicates(papers: Sequence[Paper]) -> tuple[list[Paper], int]:
    """Records with the same id or the same normalized title folded into one; an arXiv-backed
    record's id wins over a title hash. Returns the records and how many were folded away."""
    merged: list[Paper] = []
    by_key: dict[str, int] = {}
    for paper in papers:
        keys = (f"id:{paper.id}", f"title:{title_key(paper.title)}")
        slot = next((by_key[k] for k in keys if k in by_key), None)
        if slot is None:
            by_key.update({k: len(merged) for k in keys})
            merged.append(paper)
            continue
        kept = merged[slot]
        if kept.arxiv_id is None and paper.arxiv_id is not None:
            kept, paper = paper, kept
        merged[slot] = kept.merged_with(paper)
        by_key.update({k: slot for k in keys})
    return merged, len(papers) - len(merged)


def _align_with_store(store: GraphStore, papers: list[Paper]) -> list[Paper]:
    """A paper already stored under another id (same title) keeps the stored id, so ids stay
    stable across ingests."""
    aligned = []
    for paper in papers:
        if store.get_paper(paper.id) is None:
            known = store.find_paper_by_title_key(title_key(paper.title))
            if known is not None:
                paper = paper.model_copy(update={"id": known.id})
        aligned.append(paper)
    return aligned


def ingest_paths(store: GraphStore, paths: Sequence[Path], rejects_path: Path) -> IngestReport:
    papers: list[Paper] = []
    rejects: list[Reject] = []
    for path in paths:
        parsed = parse_file(Path(path))
        papers.extend(p for _, p in parsed.papers)
        rejects.extend(parsed.rejects)
    RejectsFile(rejects_path).add(rejects)
    if not papers:
        reasons = "; ".join(sorted({r.reason for r in rejects})) or "no input"
        raise IngestError(
            f"nothing could be read from {', '.join(map(str, paths))} ({reasons}). "
            f"Check the paths and formats (.txt page, .jsonl, .csv); details in {rejects_path}."
        )
    unique, merged = merge_duplicates(papers)
    result = store.upsert_papers(_align_with_store(store, unique))
    return IngestReport(
        ingested=len(unique),
        merged=merged,
        rejected=len(rejects),
        new=result.new,
        updated=result.updated,
        unchanged=result.unchanged,
    )
