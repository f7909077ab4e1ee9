"""Phrase labels, the default without an LLM: each topic is named by one noun phrase of 1-4
words from its papers ("Jailbreak attacks", "Machine translation"), not a list of keywords.

Scoring step of the phrase labeler (candidates come from `phrases.py`):
1. Class-based TF-IDF among siblings: the share of the topic's papers that use a phrase (a
   paper counts once, a title use counts again) times the share of the phrase's use among the
   siblings that falls in this topic, times the phrase's idf in the whole collection: what is
   common here and rare next door.
   A parent's score is weighted by how many of its children use the phrase, so a parent is
   named from what its children share.
2. The best candidates are embedded (KeyBERT-style) and scored again by cosine to the topic's
   centroid: a phrase that sounds like the topic's papers beats a frequent side remark.
3. Siblings get distinct names (larger topics choose first); no child repeats its parent's
   name; keywords are picked with maximal marginal relevance, so they are not five
   spellings of one idea.
Words that are common across the whole collection ("alignment" in an alignment corpus, "results",
"scores") are never a name on their own. Summaries quote the two most representative titles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from hierograph.graph.models import Paper
from hierograph.hierarchy.cluster import unit_rows
from hierograph.hierarchy.injection import strip_instructions, titles_and_label_texts
from hierograph.hierarchy.label import ACADEMIC_STOP_WORDS, Label
from hierograph.hierarchy.phrases import PhraseCounts, PhraseExtractor
from hierograph.hierarchy.tree import Node

Embed = Callable[[list[str]], np.ndarray]
# A single word is too common to name a topic when more than `generic_share` of the papers and
# more than this many use it (in a small collection a few uses are no sign of genericity).
GENERIC_MIN_PAPERS = 5

# Nouns every field uses; a name made only of them says nothing about a topic. Phrases built
# from them ("reward model", "language model alignment") remain candidates.
GENERIC_WORDS = ACADEMIC_STOP_WORDS | frozenset(
    [
        "model",
        "models",
        "task",
        "tasks",
        "data",
        "datum",
        "analysis",
        "evaluation",
        "problem",
        "system",
        "systems",
        "technique",
        "techniques",
        "methodology",
        "score",
        "scores",
        "positive",
        "negative",
        "level",
        "levels",
        "way",
        "ways",
        "setting",
        "settings",
        "insight",
        "insights",
        "effect",
        "effects",
        "impact",
        "case",
        "cases",
        "example",
        "examples",
        "number",
        "set",
        "sets",
        "type",
        "types",
        "part",
        "parts",
        "form",
        "forms",
        "step",
        "steps",
        "term",
        "terms",
        "aspect",
        "aspects",
        "issue",
        "issues",
        "challenge",
        "challenges",
        "capability",
        "capabilities",
        "ability",
        "abilities",
        "solution",
        "solutions",
        "strategy",
        "strategies",
        "process",
        "processes",
        "application",
        "applications",
        "field",
        "area",
        "domain",
        "approach",
        "paradigm",
        "goal",
        "goals",
        "output",
        "outputs",
        "input",
        "inputs",
        "quality",
        "improvement",
        "improvements",
        "highlight",
        "support",
        "need",
        "needs",
        "end",
        "base",
        "target",
        "context",
        "scratch",
        "survey",
        "benchmark",
        "dataset",
        "llm",
        "llms",
        "language",
        "ai",
        # Indefinite pronouns, which taggers read as nouns: "Prompting Aligned LLMs with
        # Nothing" gave a topic named "Nothing".
        "nothing",
        "something",
        "anything",
        "everything",
        "nobody",
        "somebody",
        "anybody",
        "everybody",
        "someone",
        "anyone",
        "everyone",
        "none",
    ]
)


class PhraseLabeler:
    """Names every node of a tree with a phrase; `fit(papers, vectors)` learns the phrases and
    the papers' (unit) vectors, `label_tree(root)` labels top-down."""

    def __init__(
        self,
        embed: Embed | None = None,
        n_keywords: int = 5,
        shortlist: int = 8,
        similarity_weight: float = 1.0,
        generic_share: float = 0.05,
        extractor: PhraseExtractor | None = None,
        min_papers: int = 2,
        expand_share: float = 0.5,
    ) -> None:
        self.embed = embed
        self.min_papers = min_papers
        self.expand_share = expand_share
        self.n_keywords = n_keywords
        self.shortlist = shortlist
        self.similarity_weight = similarity_weight
        self.generic_share = generic_share
        self.extractor = extractor or PhraseExtractor()

    def fit(self, papers: Iterable[Paper], vectors: np.ndarray) -> PhraseLabeler:
        """`papers` are read once, for their titles and abstracts only (a store-backed stream
        is never held whole: graph.paper_source)."""
        # Planted text cannot name a topic: instruction-like sentences are not counted, and a
        # sentence repeated nearly verbatim across papers counts once (hierarchy.injection).
        self.titles_, abstracts = titles_and_label_texts(papers)
        self.counts_: PhraseCounts = self.extractor.fit(
            [strip_instructions(t) for t in self.titles_], abstracts
        )
        self.text_ = self.counts_.in_text.tocsr()
        self.title_ = self.counts_.in_title.tocsr()
        n = max(len(self.titles_), 1)
        df = np.asarray(self.text_.sum(axis=0)).ravel()
        self.idf_ = np.log((1.0 + n) / (1.0 + df)) + 1e-3
        self.eligible_ = np.array(
            [self._nameable(k, d / n, d) for k, d in zip(self.counts_.keys, df, strict=True)],
            dtype=bool,
        )
        self.key_words_ = [frozenset(k.split()) for k in self.counts_.keys]
        self.with_word_: dict[str, set[int]] = {}
        for i, words in enumerate(self.key_words_):
            for w in words:
                self.with_word_.setdefault(w, set()).add(i)
        self.vectors_ = unit_rows(np.asarray(vectors, dtype=np.float32))
        self._phrase_vectors: dict[int, np.ndarray] = {}
        return self

    def _nameable(self, key: str, share: float, count: float) -> bool:
        words = key.split()
        if all(w in GENERIC_WORDS or w.isdigit() for w in words):
            return False
        # A single word most papers use names nothing ("alignment" in an alignment corpus).
        return len(words) > 1 or share <= self.generic_share or count <= GENERIC_MIN_PAPERS

    # --- the tree ---
    def label_tree(self, root: Node) -> dict[int, Label]:
        """Labels keyed by id(node); a parent is labeled before its children."""
        labels: dict[int, Label] = {id(root): Label("All papers", self._summary(root.members), [])}
        taken_by: dict[int, set[int]] = {id(root): set()}
        # Names already given anywhere in the tree: a reader meets "AI safety" once, not under
        # four parents (on an-dev 27 of 199 topics shared a name with a cousin).
        named: set[str] = {labels[id(root)].label.lower()}
        self._prefetch(root)
        for node, _, _ in root.walk():
            if node.children:
                chosen = self._label_siblings(node.children, taken_by[id(node)], named)
                for child, (label, keys) in zip(node.children, chosen, strict=True):
                    labels[id(child)] = label
                    taken_by[id(child)] = taken_by[id(node)] | keys
                    named.add(label.label.lower())
        return labels

    def _summary(self, members: Sequence[int]) -> str:
        """Extractive: the two titles closest to the topic's centroid."""
        rows = np.asarray(members)
        X = self.vectors_[rows]
        sims = X @ unit_rows(X.mean(axis=0, keepdims=True))[0]
        picked = rows[np.argsort(-sims, kind="stable")[:2]]
        return "Includes: " + "; ".join(f"“{self.titles_[i].strip()}”" for i in picked) + "."

    def _coverage(self, nodes: Sequence[Node]) -> np.ndarray:
        """Share of each node's papers using each phrase, a title use counting again."""
        rows = []
        for n in nodes:
            hits = self.text_[n.members].sum(axis=0) + self.title_[n.members].sum(axis=0)
            rows.append(np.asarray(hits).ravel() / max(len(n.members), 1))
        return np.vstack(rows)

    def _prefetch(self, root: Node) -> None:
        """Embed, in one call, the phrases every sibling group would shortlist if no name were
        taken yet: nearly all that naming the tree asks for (a taken name brings in a few more,
        embedded when asked for, so the labels do not depend on this). One model pass in
        length-sorted batches instead of one call per sibling group, each a cache round trip
        and a pass over a few dozen phrases."""
        if self.embed is None:
            return
        keys: set[int] = set()
        for node, _, _ in root.walk():
            if node.children:
                _, stat = self._stats(node.children, set())
                for row in stat:
                    top = np.argsort(-row, kind="stable")[: self.shortlist]
                    keys.update(int(j) for j in top if row[j] > 0)
        self._phrase_matrix(sorted(keys))

    def _label_siblings(
        self, siblings: Sequence[Node], taken: set[int], named: set[str]
    ) -> list[tuple[Label, set[int]]]:
        cov, stat = self._stats(siblings, taken)
        fragments: list[set[int]] = [set() for _ in siblings]
        orders = [
            self._expand(
                [int(j) for j in np.argsort(-row, kind="stable")[: self.shortlist] if row[j] > 0],
                cov[i],
                row,
                taken,
                fragments[i],
            )
            for i, row in enumerate(stat)
        ]
        self._phrase_matrix(sorted({k for order in orders for k in order}))  # one embed call
        scored = [self._score(stat[i], order, siblings[i]) for i, order in enumerate(orders)]
        return self._assign(siblings, scored, fragments, named)

    def _stats(self, siblings: Sequence[Node], taken: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """Per sibling and phrase: the share of the sibling's papers using it (coverage), and how
        well it names that sibling among the others."""
        cov = self._coverage(siblings)
        # Exclusivity: the share of the phrase's use (among siblings) that falls in this topic.
        exclusive = cov / np.maximum(cov.sum(axis=0, keepdims=True), 1e-9)
        stat = cov * exclusive * self.idf_
        stat[:, ~self.eligible_] = 0.0
        # A name must be spread over several of the topic's papers, not one paper's words.
        for i, node in enumerate(siblings):
            used_by = np.asarray((self.text_[node.members] + self.title_[node.members] > 0).sum(0))
            stat[i, used_by.ravel() < min(self.min_papers, len(node.members))] = 0.0
        if taken:
            stat[:, sorted(taken)] = 0.0
        for i, node in enumerate(siblings):
            if node.children:  # a parent is named from what its children share
                used = (self._coverage(node.children) > 0.05).sum(axis=0)
                shared = stat[i] * used / len(node.children)
                # A phrase only one child uses would be that child's name, not the parent's.
                shared[used < 2] = 0.0
                stat[i] = shared if shared.max() > 0 else stat[i] / len(node.children)
        return cov, stat

    def _expand(
        self,
        order: list[int],
        cov: np.ndarray,
        stat: np.ndarray,
        taken: set[int],
        fragments: set[int],
    ) -> list[int]:
        """A phrase stands for the longer term most of its uses in the topic belong to ("Mesa"
        -> "mesa optimizer", "inverse reinforcement" -> "inverse reinforcement learning"): a
        name that is a fragment of a term says less than the term. The longer term inherits
        the fragment's rank; the fragment stays a keyword but is never the name (`fragments`
        collects it)."""
        if self.expand_share <= 0:
            return order
        out: list[int] = []
        for j in order:
            while True:
                words = self.key_words_[j]
                longer = set.intersection(*(self.with_word_.get(w, set()) for w in words))
                longer = {
                    k
                    for k in longer
                    if len(self.key_words_[k]) > len(words) and self.eligible_[k] and k not in taken
                }
                if not longer:
                    break
                best = max(longer, key=lambda k: (cov[k], -k))
                if cov[best] < self.expand_share * cov[j]:
                    break
                stat[best] = max(stat[best], stat[j])
                fragments.add(j)
                j = best
            if j not in out:
                out.append(j)
        return out + [k for k in order if k in fragments and k not in out]

    def _score(self, row: np.ndarray, order: list[int], node: Node) -> list[tuple[int, float]]:
        """A topic's shortlist rescored by cosine to its centroid (KeyBERT-style), best first."""
        if not order:
            return []
        scores = row[order] / row[order[0]]
        if self.embed is not None:
            centroid = unit_rows(self.vectors_[node.members].mean(axis=0, keepdims=True))
            scores = scores + self.similarity_weight * (self._phrase_matrix(order) @ centroid[0])
        return sorted(zip(order, scores.tolist(), strict=True), key=lambda kv: -kv[1])

    def _phrase_matrix(self, keys: Sequence[int]) -> np.ndarray:
        if not keys:
            return np.zeros((0, self.vectors_.shape[1]), dtype=np.float32)
        missing = [k for k in keys if k not in self._phrase_vectors]
        if missing and self.embed is not None:
            vecs = unit_rows(np.asarray(self.embed([self.counts_.display[k] for k in missing])))
            self._phrase_vectors.update(zip(missing, vecs, strict=True))
        return np.vstack([self._phrase_vectors[k] for k in keys])

    def _assign(
        self,
        siblings: Sequence[Node],
        scored: list[list[tuple[int, float]]],
        fragments: list[set[int]],
        named: set[str],
    ) -> list[tuple[Label, set[int]]]:
        """Distinct names: larger siblings choose first, each its best phrase that no sibling
        has taken, preferring one not `named` elsewhere in the tree (a name a cousin has is
        still better than "Other papers")."""
        out: list[tuple[Label, set[int]] | None] = [None] * len(siblings)
        used: set[str] = set()  # by siblings
        for i in sorted(range(len(siblings)), key=lambda i: -len(siblings[i].members)):
            ranked = scored[i]
            free = [
                k
                for k, _ in ranked
                if k not in fragments[i] and self._display(k).lower() not in used
            ]
            fresh = (k for k in free if self._display(k).lower() not in named)
            name_key = next(fresh, free[0] if free else None)
            if name_key is None:
                name = self._fallback(siblings[i], used)
                keys: set[int] = set()
            else:
                name = self._display(name_key)
                keys = self._parts(name_key)
            used.add(name.lower())
            keywords = self._keywords(ranked, name_key) or [name]
            out[i] = (
                Label(name, self._summary(siblings[i].members), keywords),
                keys,
            )
        return [o for o in out if o is not None]

    def _parts(self, key: int) -> set[int]:
        """The phrase and every phrase made of its words: a child named "Jailbreak" under
        "Jailbreak attacks" would tell the reader nothing new."""
        words = self.key_words_[key]
        near = set().union(*(self.with_word_.get(w, set()) for w in words))
        return {k for k in near if self.key_words_[k] <= words}

    def _keywords(self, ranked: list[tuple[int, float]], first: int | None) -> list[str]:
        """Maximal marginal relevance over the shortlist: relevant, and unlike those picked."""
        pool = [k for k, _ in ranked]
        if not pool:
            return []
        score = dict(ranked)
        picked = [first if first is not None else pool[0]]
        vectors = self._phrase_matrix(pool) if self.embed is not None else None
        where = {k: r for r, k in enumerate(pool)}
        while len(picked) < min(self.n_keywords, len(pool)):
            rest = [k for k in pool if k not in picked]
            if vectors is None:
                picked.append(rest[0])
                continue
            chosen = vectors[[where[k] for k in picked]]
            redundancy = (vectors[[where[k] for k in rest]] @ chosen.T).max(axis=1)
            mmr = [score[k] - 0.7 * r for k, r in zip(rest, redundancy.tolist(), strict=True)]
            picked.append(rest[int(np.argmax(mmr))])
        return [self.counts_.display[k] for k in picked]

    def _fallback(self, node: Node, used: set[str]) -> str:
        """No phrase left for this topic: the nameable phrase most of its papers use, else
        "Other papers", numbered if taken."""
        hits = np.asarray(self.text_[node.members].sum(axis=0)).ravel() * self.eligible_
        base = self._display(int(np.argmax(hits))) if hits.size and hits.max() > 0 else ""
        base = base if base and base.lower() not in used else "Other papers"
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base} ({n})", n + 1
        return name

    def _display(self, key: int) -> str:
        """As authors write it, first letter capitalized unless it is an acronym's."""
        text = self.counts_.display[key]
        return text[:1].upper() + text[1:] if text[:1].islower() else text
