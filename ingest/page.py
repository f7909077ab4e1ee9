"""The Hugging Face papers page saved as text: a banner, a date line, then per paper a title
line, a blank line, the abstract paragraph and a blank line."""

from __future__ import annotations

import re
from pathlib import Path

from hierograph.ingest.reading import decoded_lines
from hierograph.ingest.records import Parsed, RecordError, paper_from_fields
from hierograph.ingest.rejects import Reject

_DATE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(, \d{4})?$")
_BANNER = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "byak and the research community",
}
# An abstract is a paragraph; a title is one short line. Titles top out near 250 characters.
_MAX_TITLE = 250
_MIN_ABSTRACT_WORDS = 12
_HEADER_BLOCKS = 10


def _blocks(path: Path) -> tuple[list[tuple[int, str]], list[Reject]]:
    """Paragraphs (first line number, text) and the rejects of undecodable lines."""
    blocks: list[tuple[int, list[str]]] = []
    rejects: list[Reject] = []
    current: list[str] | None = None
    for number, text in decoded_lines(path):
        if text is None:
            rejects.append(Reject(str(path), number, "unreadable encoding (not UTF-8)"))
            text = ""
        if not text.strip():
            current = None
            continue
        if current is None:
            current = []
            blocks.append((number, current))
        current.append(text.strip())
    return [(n, " ".join(lines)) for n, lines in blocks], rejects


def _is_title(text: str, after_title: bool) -> bool:
    """Titles are one short line; right after a title, a shorter paragraph that reads like
    prose (ends a sentence, a dozen words or more) is still that title's abstract."""
    if len(text) > _MAX_TITLE:
        return False
    return not (after_title and text.endswith(".") and len(text.split()) >= _MIN_ABSTRACT_WORDS)


def _skip_header(blocks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    for i, (_, text) in enumerate(blocks[:_HEADER_BLOCKS]):
        if _DATE.match(text):
            return blocks[i + 1 :]
    start = 0
    while start < len(blocks) and blocks[start][1].lower() in _BANNER:
        start += 1
    return blocks[start:]


def parse_page(path: Path) -> Parsed:
    blocks, rejects = _blocks(path)
    parsed = Parsed(rejects=rejects)
    pending: tuple[int, str] | None = None
    for number, text in _skip_header(blocks):
        if _is_title(text, after_title=pending is not None):
            if pending is not None:
                parsed.rejects.append(
                    Reject(str(path), pending[0], "title without an abstract", pending[1][:200])
                )
            pending = (number, text)
            continue
        if pending is None:
            parsed.rejects.append(Reject(str(path), number, "abstract without a title", text[:200]))
            continue
        try:
            paper = paper_from_fields({"title": pending[1], "abstract": text}, source="hf-page")
            parsed.papers.append((pending[0], paper))
        except RecordError as err:
            parsed.rejects.append(Reject(str(path), pending[0], str(err), pending[1][:200]))
        pending = None
    if pending is not None:
        parsed.rejects.append(
            Reject(str(path), pending[0], "title-only tail: no abstract follows", pending[1][:200])
        )
    return parsed
