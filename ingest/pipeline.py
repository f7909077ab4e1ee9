"""`hierograph ingest`: parse files, merge duplicates, upsert into the store, record rejects.

Nothing one record does can cost the others: every failure (broken or deeply nested JSON,
invalid Unicode, an over-long field, a file that cannot be read) becomes a reject with its file,
line and reason, and a record that repeats an id with a different title or abstract is
reported as a conflicting duplicate instead of being merged silently."""

from __future__ import annotations

import re
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
    rejected: int  # conflicting duplicates included
    new: int
    updated: int
    unchanged: int
    conflicts: int = 0

    def summary(self) -> str:
        conflicts = (
            f"; {self.conflicts} conflicting duplicates (same id, different title or "
            "abstract) not merged"
            if self.conflicts
            else ""
        )
        return (
            f"{self.ingested} ingested, {self.merged} merged, {self.rejected} rejected "
            f"({self.new} new, {self.updated} updated, {self.unchanged} unchanged){conflicts}"
        )


def parse_file(path: Path) -> Parsed:
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        return Parsed(rejects=[Reject(str(path), 0, f"unknown file type; expected one of {known}")])
    if not path.is_file():
        return Parsed(rejects=[Reject(str(path), 0, "file not found")])
    try:
        return parser(path)
    except Exception as err:  # noqa: BLE001 - one unreadable file must not cost the others
        return Parsed(rejects=[Reject(str(path), 0, f"could not read the file: {err}")])


def _same_text(a: str, b: str) -> bool:
    """Equal but for case, spacing and punctuation."""
    return re.findall(r"\w+", a.lower()) == re.findall(r"\w+", b.lower())


@dataclass(frozen=True)
class Read:
    """A parsed paper and where it was read (for conflict reports)."""

    file: str
    line: int
    paper: Paper


def merge_duplicates(reads: Sequence[Read]) -> tuple[list[Paper], int, list[Reject]]:
    """Records with the same id or the same normalized title folded into one; an arXiv-backed
    record's id wins over a title hash. A record with an id already read but a different title
    or abstract is not folded: it comes back as a reject naming the first one. Returns the
    records, how many were folded away, and the conflicts."""
    merged: list[Paper] = []
    first: list[Read] = []
    conflicts: list[Reject] = []
    by_key: dict[str, int] = {}
    for read in reads:
        paper = read.paper
        keys = (f"id:{paper.id}", f"title:{title_key(paper.title)}")
        slot = next((by_key[k] for k in keys if k in by_key), None)
        if slot is None:
            by_key.update({k: len(merged) for k in keys})
            merged.append(paper)
            first.append(read)
            continue
        kept = merged[slot]
        if kept.id == paper.id:
            fields = ("title", "abstract")
            differ = [f for f in fields if not _same_text(getattr(kept, f), getattr(paper, f))]
            if differ:
                origin = first[slot]
                reason = (
                    f"conflicting duplicate: id {paper.id} was read at {origin.file}:"
                    f"{origin.line} with a different {' and '.join(differ)}; kept that one"
                )
                conflicts.append(Reject(read.file, read.line, reason, paper.title[:200]))
                continue
        if kept.arxiv_id is None and paper.arxiv_id is not None:
            kept, paper = paper, kept
        merged[slot] = kept.merged_with(paper)
        by_key.update({k: slot for k in keys})
    return merged, len(reads) - len(merged) - len(conflicts), conflicts


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
    reads: list[Read] = []
    rejects: list[Reject] = []
    for path in paths:
        parsed = parse_file(Path(path))
        reads.extend(Read(str(path), line, p) for line, p in parsed.papers)
        rejects.extend(parsed.rejects)
    unique, merged, conflicts = merge_duplicates(reads)
    rejects.extend(conflicts)
    RejectsFile(rejects_path).add(rejects)
    if not reads:
        reasons = "; ".join(sorted({r.reason for r in rejects})) or "no input"
        raise IngestError(
            f"nothing could be read from {', '.join(map(str, paths))} ({reasons}). "
            f"Check the paths and formats (.txt page, .jsonl, .csv); details in {rejects_path}."
        )
    result = store.upsert_papers(_align_with_store(store, unique))
    return IngestReport(
        ingested=len(unique),
        merged=merged,
        rejected=len(rejects),
        new=result.new,
        updated=result.updated,
        unchanged=result.unchanged,
        conflicts=len(conflicts),
    )
