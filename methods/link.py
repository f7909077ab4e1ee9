"""Method mentions in titles and abstracts, and the graph edges built from them.

`link_methods(store, registry)` writes the registry's methods and implementations, then
(:Paper)-[:PROPOSES|USES]->(:Method), (:Topic)-[:ABOUT]->(:Method) and
(:Paper)-[:HAS_CODE]->(:Repository) from scratch each run, so it is idempotent.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from hierograph.graph.ids import title_key
from hierograph.graph.method_models import CodeLink, Method, MethodLink, TopicMethod
from hierograph.graph.models import Paper
from hierograph.graph.paper_source import StoredPapers
from hierograph.graph.store import GraphStore
from hierograph.methods.registry import Registry, load_registry
from hierograph.settings import Settings

# A hyphen before an alias means it is part of a longer name ("LN-DPO" is not "DPO"); after
# it, it is a compound ("DPO-based" still mentions DPO).
_LEFT = r"(?<![A-Za-z0-9\-])"
_RIGHT = r"(?![A-Za-z0-9])"
_LEFT_AFTER_FIRST = r"(?<![A-Za-z0-9\-].)"  # _LEFT, tested after the first character
_INTRO = re.compile(
    r"\b(?:we|this (?:paper|work)|our (?:method|approach|framework))\b(?:\s+\w+){0,2}?\s+"
    r"(?:propose|introduce|present|develop|name|call|dub)[sd]?\b",
    re.IGNORECASE,
)
# Between "we propose" and the name, these words say the name is what the work builds on
# ("an extension to the DPO algorithm"), not what it introduces.
_NOT_INTRODUCED = re.compile(
    r"\b(?:to|of|on|over|than|from|like|beyond|with|upon|via|using|based|for)\b", re.IGNORECASE
)
_DERIVED = re.compile(r"[\s-]*(?:based|style|like|variant|variants|extension)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_INTRO_WINDOW = 120
_INTRO_SPAN = 80


def is_acronym_like(alias: str) -> bool:
    """One token with a capital ("PRO", "DeAL", "SimPO", "I-SHEEP", "Magpie"): such a name
    only matches with its exact case, so the word "pro" or "deal" is no mention."""
    return " " not in alias and any(c.isupper() for c in alias)


def _left_after_first(body: str) -> str:
    """`_LEFT + body`, written as body's first character, then the same test one character
    further back: a pattern that starts with a literal lets the regex engine skip ahead to
    that character instead of trying the look-behind at every position (5× faster scans)."""
    return re.escape(body[0]) + _LEFT_AFTER_FIRST


def alias_pattern(alias: str) -> re.Pattern[str]:
    if is_acronym_like(alias):
        return re.compile(_left_after_first(alias) + re.escape(alias[1:]) + _RIGHT)
    # Phrases: any case, space or hyphen between words, an optional plural.
    words = [w for w in re.split(r"[\s\-]+", alias.strip()) if w]
    body = r"[\s\-]+".join([re.escape(words[0][1:]), *map(re.escape, words[1:])])
    return re.compile(_left_after_first(words[0]) + body + r"(?:s|es)?" + _RIGHT, re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    method_id: str
    start: int
    end: int
    text: str


_TOKEN = re.compile(r"[a-z0-9]+")


def _alias_key(alias: str) -> str | None:
    """A word every match of the alias holds as a whole token of the lowercased text, perhaps
    with a plural ending (a phrase's last word takes "s"/"es"): each alphanumeric run of the
    alias is bounded in a match by _LEFT/_RIGHT or by the alias's own separators, so any will
    do; the longest is the rarest ("optimization", not "policy"). None: no word, always try."""
    tokens = _TOKEN.findall(alias.lower())
    return max(tokens, key=len) if tokens else None


class MethodMatcher:
    """Finds registry methods in text; overlapping matches keep the longest.

    One pass over the text's words picks the few aliases that can match (a dict lookup per
    word), and only their patterns run: the same mentions as running every alias's pattern,
    without a regex scan per alias per text (thousands of aliases × every paper)."""

    def __init__(self, methods: Iterable[Method]) -> None:
        methods = list(methods)
        names = [(m.id, name) for m in methods for name in m.names()]
        # Canonical papers by arXiv id and by title key: one lookup per paper, not a
        # title_key() per method per paper.
        self._canonical: dict[str, list[str]] = defaultdict(list)
        for m in methods:
            if m.arxiv_id:
                self._canonical["arxiv:" + m.arxiv_id].append(m.id)
            if m.paper_title:
                self._canonical["title:" + title_key(m.paper_title)].append(m.id)
        self.patterns_ = [(method_id, alias_pattern(name)) for method_id, name in names]
        self._by_word: dict[str, list[int]] = defaultdict(list)
        self._always: list[int] = []
        for i, (_, name) in enumerate(names):
            key = _alias_key(name)
            if key is None:
                self._always.append(i)
            else:
                self._by_word[key].append(i)

    def canonical(self, paper: Paper) -> list[str]:
        """Ids of the methods this paper is the canonical paper of (by arXiv id or title)."""
        keys = ["title:" + title_key(paper.title)]
        if paper.arxiv_id:
            keys.append("arxiv:" + paper.arxiv_id.split("v")[0])
        return [method_id for key in keys for method_id in self._canonical.get(key, ())]

    def candidates(self, text: str) -> list[int]:
        """Indices into patterns_ of the aliases whose key word is in the text, in order."""
        picked = set(self._always)
        for word in set(_TOKEN.findall(text.lower())):
            # "reward models" must pick the alias "reward model": try the word without a plural.
            for stem in (word, word[:-1], word[:-2]) if word.endswith("s") else (word,):
                picked.update(self._by_word.get(stem, ()))
        return sorted(picked)

    def find(self, text: str) -> list[Mention]:
        found = [
            Mention(method_id, match.start(), match.end(), match.group(0))
            for method_id, pattern in (self.patterns_[i] for i in self.candidates(text))
            for match in pattern.finditer(text)
        ]
        found.sort(key=lambda x: (x.start, -(x.end - x.start)))
        kept: list[Mention] = []
        for mention in found:
            if kept and mention.start < kept[-1].end:
                continue
            kept.append(mention)
        return kept


def _introduced(text: str, mention: Mention, mentions: list[Mention]) -> bool:
    """True when the sentence says the work introduces this name ("we propose DeAL, …")."""
    sentence_start = 0
    for end in _SENTENCE_END.finditer(text, 0, mention.start):
        sentence_start = end.end()
    prefix = text[max(sentence_start, mention.start - _INTRO_WINDOW) : mention.start]
    verbs = list(_INTRO.finditer(prefix))
    if not verbs:
        return False
    between_start = mention.start - len(prefix) + verbs[-1].end()
    between = text[between_start : mention.start]
    others = any(
        m.method_id != mention.method_id and between_start <= m.start < mention.start
        for m in mentions
    )
    derived = _DERIVED.match(text, mention.end) is not None
    # A new clause ("…: we let the model be …") means the verb's object was something else.
    new_clause = re.search(r"[:;]|\bwe\b", between, re.IGNORECASE) is not None
    return (
        not others
        and not derived
        and not new_clause
        and len(between) <= _INTRO_SPAN
        and _NOT_INTRODUCED.search(between) is None
    )


def _names_title(title: str, mention: Mention) -> bool:
    """The title is "<name>: subtitle", the usual way a paper names its own method."""
    return mention.start == 0 and title[mention.end :].lstrip().startswith(":")


def paper_links(
    paper: Paper, methods: dict[str, Method], matcher: MethodMatcher
) -> list[MethodLink]:
    """One link per method the paper mentions or is the canonical paper of."""
    links: dict[str, MethodLink] = {}

    def add(method_id: str, relation: str, evidence: str) -> None:
        current = links.get(method_id)
        if current is None or (current.relation == "USES" and relation == "PROPOSES"):
            links[method_id] = MethodLink(
                paper_id=paper.id, method_id=method_id, relation=relation, evidence=evidence
            )

    for method_id in matcher.canonical(paper):
        if method_id in methods:
            add(method_id, "PROPOSES", "canonical paper")
    title_mentions = matcher.find(paper.title)
    for mention in title_mentions:
        relation = "PROPOSES" if _names_title(paper.title, mention) else "USES"
        add(mention.method_id, relation, f"title: {mention.text}")
    abstract_mentions = matcher.find(paper.abstract)
    for mention in abstract_mentions:
        relation = "PROPOSES" if _introduced(paper.abstract, mention, abstract_mentions) else "USES"
        add(mention.method_id, relation, f"abstract: {mention.text}")
    return sorted(links.values(), key=lambda x: x.method_id)


def repository_url(url: str) -> str:
    """The repository a code URL points into: GitHub links to files, branches or issues all
    name one repository (https://github.com/owner/repo); other hosts keep their cleaned URL."""
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "github.com" and len(segments) >= 2:
        return urlunsplit(("https", host, "/" + "/".join(segments[:2]), "", ""))
    if host == "gitlab.com" and "-" in segments:
        segments = segments[: segments.index("-")]
        return urlunsplit(("https", host, "/" + "/".join(segments), "", ""))
    if host == "anonymous.4open.science" and len(segments) >= 2 and segments[0] == "r":
        return urlunsplit(("https", host, "/" + "/".join(segments[:2]), "", ""))
    return urlunsplit((parts.scheme or "https", parts.netloc, parts.path, parts.query, ""))


def topic_method_scores(
    store: GraphStore, links: list[MethodLink], per_topic: int, min_papers: int
) -> list[TopicMethod]:
    """The methods most characteristic of each topic: frequent among the topic's papers and
    rare elsewhere (share in the topic × log inverse share in the corpus)."""
    topics = store.topics()
    if not topics or per_topic == 0:
        return []
    by_paper: dict[str, set[str]] = defaultdict(set)
    for link in links:
        by_paper[link.paper_id].add(link.method_id)
    members: dict[str, set[str]] = defaultdict(set)
    for a in store.assignments():
        members[a.topic_id].add(a.paper_id)
    # Topics come ordered by level: walking them backwards adds each child before its parent.
    for t in reversed(topics):
        if t.parent is not None:
            members[t.parent] |= members[t.id]
    total = max(store.paper_count(), 1)
    overall = Counter(m for methods in by_paper.values() for m in methods)
    rows: list[TopicMethod] = []
    for t in topics:
        papers = members[t.id]
        if not papers:
            continue
        counts = Counter(m for p in papers for m in by_paper.get(p, ()))
        scored = [
            TopicMethod(
                topic_id=t.id,
                method_id=m,
                papers=n,
                score=round(n / len(papers) * math.log(1 + total / overall[m]), 6),
            )
            for m, n in counts.items()
            if n >= min_papers
        ]
        scored.sort(key=lambda r: (-r.score, r.method_id))
        rows.extend(scored[:per_topic])
    return rows


@dataclass(frozen=True)
class LinkReport:
    methods: int
    implementations: int
    papers_linked: int
    proposes: int
    uses: int
    about: int
    repositories: int
    code_links: int

    def summary(self) -> str:
        return (
            f"{self.methods} methods ({self.implementations} implementations); "
            f"{self.papers_linked} papers linked ({self.proposes} PROPOSES, {self.uses} USES); "
            f"{self.about} ABOUT edges; {self.code_links} code links to "
            f"{self.repositories} repositories"
        )


def link_methods(
    store: GraphStore,
    registry: Registry,
    *,
    about_per_topic: int = 3,
    about_min_papers: int = 1,
) -> LinkReport:
    methods = {m.id: m for m in registry.methods}
    store.replace_methods(registry.methods)
    matcher = MethodMatcher(registry.methods)
    links: list[MethodLink] = []
    code: list[CodeLink] = []
    for paper in StoredPapers(store):  # streamed, a chunk at a time
        links.extend(paper_links(paper, methods, matcher))
        # code_urls is the one source of code links: ingest fills it from abstracts and
        # comments, and the Hugging Face ingester adds the repository HF links to a paper.
        repos = dict.fromkeys(repository_url(u) for u in paper.code_urls)
        code.extend(CodeLink(paper_id=paper.id, url=u) for u in repos)
    store.replace_method_links(links)
    about = topic_method_scores(store, links, about_per_topic, about_min_papers)
    store.replace_topic_methods(about)
    store.replace_code_links(code)
    return LinkReport(
        methods=len(methods),
        implementations=len({i.id for m in registry.methods for i in m.implementations}),
        papers_linked=len({x.paper_id for x in links}),
        proposes=sum(x.relation == "PROPOSES" for x in links),
        uses=sum(x.relation == "USES" for x in links),
        about=len(about),
        repositories=len({c.url for c in code}),
        code_links=len(code),
    )


def link_registry(store: GraphStore, settings: Settings) -> LinkReport:
    """`link_methods` with the registry and limits that `settings` name."""
    return link_methods(
        store,
        load_registry(settings.methods_registry),
        about_per_topic=settings.about_methods_per_topic,
        about_min_papers=settings.about_min_papers,
    )
