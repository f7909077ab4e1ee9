"""Keyword labels: c-TF-IDF among siblings, so each topic is named by what sets it apart.

The default labeler names topics with phrases instead (`phrase_label.py`); this one stays as
the baseline the label benchmark compares against (bench/bench_labels.py).

Labels cannot be planted: the texts are counted without instruction-like sentences and with
near-copies of a sentence counted once (hierarchy.injection.label_texts), and a keyword must
occur in at least `min_papers` of its topic's papers."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from hierograph.hierarchy.injection import label_texts
from hierograph.hierarchy.tree import Node

# Words every abstract uses; they never tell topics apart.
ACADEMIC_STOP_WORDS = frozenset(
    [
        "paper",
        "propose",
        "proposed",
        "proposes",
        "approach",
        "approaches",
        "method",
        "methods",
        "result",
        "results",
        "show",
        "shows",
        "shown",
        "based",
        "using",
        "use",
        "used",
        "novel",
        "work",
        "study",
        "studies",
        "existing",
        "achieve",
        "achieves",
        "achieved",
        "performance",
        "demonstrate",
        "demonstrates",
        "new",
        "framework",
        "significantly",
        "significant",
        "various",
        "including",
        "different",
        "furthermore",
        "moreover",
        "however",
        "recent",
        "recently",
        "address",
        "introduce",
        "introduces",
        "present",
        "presents",
        "experiments",
        "experimental",
        "extensive",
        "state",
        "art",
    ]
)


@dataclass(frozen=True)
class Label:
    label: str
    summary: str
    keywords: list[str]


class TreeLabeler(Protocol):
    """What the build and the LLM labeler need of a labeler without an LLM."""

    def fit(self, papers: Sequence[Any], vectors: Any) -> Any: ...

    def label_tree(self, root: Node) -> dict[int, Label]: ...


class KeywordLabeler:
    """Labels every node of a tree from its papers' text. `fit` learns the vocabulary."""

    def __init__(self, n_keywords: int = 5, label_words: int = 3, min_papers: int = 2) -> None:
        self.n_keywords = n_keywords
        self.label_words = label_words
        self.min_papers = min_papers

    def fit(self, texts: Sequence[str]) -> KeywordLabeler:
        texts = label_texts(texts)
        self.vectorizer_ = CountVectorizer(
            stop_words=list(ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS),
            ngram_range=(1, 2),
            min_df=2 if len(texts) >= 20 else 1,
            token_pattern=r"(?u)\b[A-Za-z][A-Za-z0-9\-]+\b",
        )
        self.counts_ = self.vectorizer_.fit_transform(texts).tocsr()
        self.presence_ = (self.counts_ > 0).astype(np.int32)
        self.terms_ = self.vectorizer_.get_feature_names_out()
        # Document-level idf over the whole collection: words every paper uses ("alignment"
        # in an alignment corpus) name nothing, however often a topic repeats them.
        df = np.asarray((self.counts_ > 0).sum(axis=0)).ravel()
        self.idf_ = np.log((1.0 + len(texts)) / (1.0 + df)) + 1e-3
        # Counting is case-blind; display uses each word's most common spelling (DPO, not Dpo).
        surface: dict[str, Counter[str]] = {}
        for text in texts:
            for word in re.findall(r"[A-Za-z][A-Za-z0-9\-]+", text):
                surface.setdefault(word.lower(), Counter())[word] += 1
        self.spelling_ = {low: forms.most_common(1)[0][0] for low, forms in surface.items()}
        return self

    def label_tree(self, root: Node) -> dict[int, Label]:
        """Labels keyed by id(node)."""
        labels: dict[int, Label] = {id(root): self._root_label(root)}
        for node, _, _ in root.walk():  # breadth-first: a parent is labeled before its children
            if node.children:
                inherited = set(labels[id(node)].keywords)
                labels.update(self._label_siblings(node.children, inherited))
        return labels

    def _root_label(self, root: Node) -> Label:
        return Label("All papers", f"The whole collection: {len(root.members)} papers.", [])

    def _class_counts(self, nodes: Sequence[Node]) -> np.ndarray:
        return np.vstack([np.asarray(self.counts_[n.members].sum(axis=0)) for n in nodes])

    def _label_siblings(self, siblings: Sequence[Node], inherited: set[str]) -> dict[int, Label]:
        """c-TF-IDF among siblings; the parent's keywords are skipped, since a child named like
        its parent tells the reader nothing new."""
        counts = self._class_counts(siblings).astype(float)
        tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        avg_words = counts.sum() / len(siblings)
        idf = np.log(1.0 + avg_words / np.maximum(counts.sum(axis=0), 1.0))
        weights = tf * idf * self.idf_
        out: dict[int, Label] = {}
        used: set[str] = set()
        for node, row in zip(siblings, weights, strict=True):
            # A word of a single paper (or of one planted sentence) names no topic.
            spread = np.asarray(self.presence_[node.members].sum(axis=0)).ravel()
            row = np.where(spread >= min(self.min_papers, len(node.members)), row, 0.0)
            keywords = self._keywords(row, inherited)
            label = self._name(keywords, used)
            used.add(label.lower())
            summary = f"{len(node.members)} papers about " + ", ".join(keywords) + "."
            out[id(node)] = Label(label, summary, keywords)
        return out

    def _keywords(self, row: np.ndarray, skip: set[str]) -> list[str]:
        picked: list[str] = []
        for index in np.argsort(-row, kind="stable"):
            if row[index] <= 0 or len(picked) >= self.n_keywords:
                break
            term = str(self.terms_[index])
            if term in skip:
                continue
            # A unigram inside a chosen bigram (or the reverse) says the same thing twice.
            if any(term in p.split() or p in term.split() for p in picked):
                continue
            picked.append(term)
        return picked

    def _name(self, keywords: list[str], used: set[str]) -> str:
        if not keywords:
            return "Miscellaneous"
        for count in range(min(self.label_words, len(keywords)), len(keywords) + 1):
            label = ", ".join(self._display(k) for k in keywords[:count])
            if label.lower() not in used:
                return label
        return label + f" ({len(used) + 1})"

    def _display(self, term: str) -> str:
        """Acronyms and mixed case as authors write them (DPO, LLMs), other words capitalized."""
        words = [self.spelling_.get(w, w) for w in term.split()]
        return " ".join(w if any(c.isupper() for c in w[1:]) else w.capitalize() for w in words)
