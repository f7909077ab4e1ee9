"""BibTeX for reference managers (Zotero, JabRef, BibDesk) and LaTeX: one `@misc` entry per
paper in the form arXiv itself recommends (eprint, archivePrefix, primaryClass), with the
abstract, the DOI, the landing URL, the paper's topics as keywords and its code links in the
note. Text is UTF-8 with LaTeX's special characters escaped."""

from __future__ import annotations

from collections.abc import Iterable

from hierograph.graph.citation import Name, Reference

# LaTeX's special characters in text fields; backslash first, so no escape is escaped again.
_ESCAPES = [
    ("\\", r"\textbackslash{}"),
    ("{", r"\{"),
    ("}", r"\}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("$", r"\$"),
    ("#", r"\#"),
    ("_", r"\_"),
    ("~", r"\textasciitilde{}"),
    ("^", r"\textasciicircum{}"),
]
# In a URL only what would end the field or start a comment in LaTeX is escaped.
_URL_ESCAPES = [("\\", ""), ("{", "%7B"), ("}", "%7D"), ("%", r"\%"), ("#", r"\#")]


def escape(text: str) -> str:
    """LaTeX-safe text: braces balanced, no command or comment characters left bare."""
    text = text.replace("\\", "\x00")
    for char, escaped in _ESCAPES[1:]:
        text = text.replace(char, escaped)
    return " ".join(text.replace("\x00", _ESCAPES[0][1]).split())


def escape_url(url: str) -> str:
    for char, escaped in _URL_ESCAPES:
        url = url.replace(char, escaped)
    return url


def _name(name: Name) -> str:
    # "Family, Given" is the one form every BibTeX reader splits the same way; braces keep a
    # family name of several words ("van Beethoven") together.
    family = escape(name.family)
    family = f"{{{family}}}" if " " in family else family
    return f"{family}, {escape(name.given)}" if name.given else family


def entry(ref: Reference) -> str:
    """One `@misc{key, …}` entry; fields without a value are left out."""
    paper = ref.paper
    fields: list[tuple[str, str]] = [("title", escape(paper.title))]
    if ref.authors:
        fields.append(("author", " and ".join(_name(n) for n in ref.authors)))
    if ref.date_parts:
        fields.append(("year", str(ref.date_parts[0])))
        if len(ref.date_parts) > 1:
            fields.append(("month", str(ref.date_parts[1])))
        fields.append(("date", "-".join(f"{p:02d}" for p in ref.date_parts)))
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        primary = paper.primary_category or (paper.categories[0] if paper.categories else None)
        if primary:
            fields.append(("primaryClass", escape(primary)))
    if paper.doi:
        fields.append(("doi", escape_url(paper.doi)))
    if ref.url:
        fields.append(("url", escape_url(ref.url)))
    if paper.abstract.strip():
        fields.append(("abstract", escape(paper.abstract)))
    if ref.keywords:
        fields.append(("keywords", escape(", ".join(ref.keywords))))
    links = [rf"{what}: \url{{{escape_url(url)}}}" for what, url in ref.links]
    if paper.upvotes is not None:
        links.append(f"Hugging Face upvotes: {paper.upvotes}")
    if paper.journal_ref:
        links.append(f"Published in: {escape(paper.journal_ref)}")
    if links:
        fields.append(("note", "; ".join(links)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{ref.key},\n{body}\n}}\n"


def to_bibtex(refs: Iterable[Reference]) -> str:
    """A .bib file: entries in the order given, separated by a blank line."""
    return "\n".join(entry(r) for r in refs)
