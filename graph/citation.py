"""What a reference manager needs to know about a paper, shared by the BibTeX and CSL-JSON
exports: a citation key that is the same on every run, author names split into family and
given parts, the publication date's parts, the paper's landing URL and a note with its code
and project links."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from hierograph.graph.models import Paper

# Lower-case words that belong to the family name ("Ludwig van Beethoven" -> "van Beethoven").
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le"}
# Words skipped when the key takes the first word of the title.
STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "is", "are", "at"}


@dataclass(frozen=True)
class Name:
    family: str
    given: str = ""


@dataclass(frozen=True)
class Reference:
    """One paper as a reference: every field either format writes comes from here."""

    key: str
    paper: Paper
    authors: list[Name]
    date_parts: list[int]  # [year], [year, month] or [year, month, day]; empty when unknown
    url: str | None
    links: list[tuple[str, str]] = field(default_factory=list)  # (what, url) for the note
    keywords: list[str] = field(default_factory=list)

    @property
    def arxiv_id(self) -> str | None:
        return self.paper.arxiv_id

    def note(self) -> str:
        """'Code: URL; Project page: URL; Hugging Face upvotes: N' (empty when none)."""
        parts = [f"{what}: {url}" for what, url in self.links]
        if self.paper.upvotes is not None:
            parts.append(f"Hugging Face upvotes: {self.paper.upvotes}")
        if self.paper.journal_ref:
            parts.append(f"Published in: {self.paper.journal_ref}")
        return "; ".join(parts)


def split_name(name: str) -> Name:
    """'Rafael Rafailov' -> Name('Rafailov', 'Rafael'); 'Rafailov, Rafael' is read as written;
    a single word is a family name (organizations, mononyms)."""
    name = " ".join(name.split())
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        return Name(family, given)
    words = name.split(" ")
    if len(words) == 1:
        return Name(words[0])
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in PARTICLES:
        start -= 1
    return Name(" ".join(words[start:]), " ".join(words[:start]))


def date_parts(published: str | None) -> list[int]:
    """'2025-05-14T…' -> [2025, 5, 14]; stops at the first part that is missing or not a number."""
    out: list[int] = []
    if not published:
        return out
    for part in published[:10].split("-"):
        if not part.isdigit():
            break
        out.append(int(part))
    return out[:3] if out and 1000 <= out[0] <= 9999 else []


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def cite_key(paper: Paper) -> str:
    """`rafailov2023direct-2305.18290`: first author's family name, year and the first
    significant title word, then the arXiv id (or 6 hex digits of the paper id). Built from
    the paper alone, so it is unique and the same on every run and in every selection."""
    family = split_name(paper.authors[0]).family if paper.authors else ""
    year = date_parts(paper.published)[:1]
    words = [_ascii_word(w) for w in paper.title.split()]
    word = next((w for w in words if w and w not in STOPWORDS), "")
    stem = f"{_ascii_word(family)}{year[0] if year else ''}{word}" or "paper"
    tail = paper.arxiv_id or hashlib.sha1(paper.id.encode()).hexdigest()[:6]
    return f"{stem}-{re.sub(r'[^A-Za-z0-9.]', '', tail)}"


def landing_url(paper: Paper) -> str | None:
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    return paper.url or (paper.urls[0] if paper.urls else None)


def reference(paper: Paper, keywords: list[str] | None = None) -> Reference:
    """`keywords`: what the export adds as tags (the labels of the paper's topics)."""
    code = list(
        dict.fromkeys([*paper.code_urls, *([paper.github_repo] if paper.github_repo else [])])
    )
    links = [("Code", u) for u in code if u]
    if paper.project_page:
        links.append(("Project page", paper.project_page))
    return Reference(
        key=cite_key(paper),
        paper=paper,
        authors=[split_name(a) for a in paper.authors if a.strip()],
        date_parts=date_parts(paper.published),
        url=landing_url(paper),
        links=links,
        keywords=list(keywords or []),
    )
