"""CSL-JSON (the Citation Style Language's input format, which Zotero, Pandoc/citeproc and
Mendeley read): one item per paper, typed `article` (CSL's type for preprints, which Zotero
imports as a Preprint), with the arXiv id as the archive id (`number`), arXiv as `publisher`,
the abstract, DOI, URL, topics as `keyword` and code links in `note`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hierograph.graph.citation import Reference


def item(ref: Reference) -> dict[str, Any]:
    """One CSL-JSON item; fields without a value are left out, as the schema expects."""
    paper = ref.paper
    out: dict[str, Any] = {"id": ref.key, "type": "article", "title": paper.title}
    if ref.authors:
        out["author"] = [
            {"family": n.family, "given": n.given} if n.given else {"literal": n.family}
            for n in ref.authors
        ]
    if ref.date_parts:
        out["issued"] = {"date-parts": [ref.date_parts]}
    if paper.arxiv_id:
        out["number"] = f"arXiv:{paper.arxiv_id}"
        out["publisher"] = "arXiv"
        out["source"] = "arXiv.org"
    if paper.doi:
        out["DOI"] = paper.doi
    if ref.url:
        out["URL"] = ref.url
    if paper.abstract.strip():
        out["abstract"] = paper.abstract
    if ref.keywords:
        out["keyword"] = ", ".join(ref.keywords)
    if note := ref.note():
        out["note"] = note
    return out


def to_csl_json(refs: Iterable[Reference]) -> list[dict[str, Any]]:
    """A CSL-JSON array, items in the order given."""
    return [item(r) for r in refs]
