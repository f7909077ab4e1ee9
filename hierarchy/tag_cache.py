"""Part-of-speech tags of titles, kept between builds: spaCy's tagger is the phrase labeler's
costliest step (about 2.5 ms a title on 2 cores, minutes at 100k papers), and a rebuild or a
refresh sees the same titles again. One SQLite table in the home, keyed by the tagging model
and a hash of the exact text the tagger read; the value is the (word, tag, lemma) list the
labeler made of it, so a cached title gives exactly what tagging it again would."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hierograph.hierarchy.embed import text_hash
from hierograph.hierarchy.keyed_cache import KeyedCache

Words = list[tuple[str, str, str]]


class TagCache(KeyedCache):
    """(word, tag, lemma) lists per (model, text)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "tags", "words", "TEXT")

    def tagged(
        self, model: str, texts: Sequence[str], tag: Callable[[Iterable[str]], Iterable[Words]]
    ) -> list[Words]:
        """Each text's words: from the cache, or from `tag` (called once, on the texts the
        cache lacks, each distinct text once), which are then stored."""
        hashes = [text_hash(t) for t in texts]
        found: dict[str, Words] = {}
        for h, words in self._rows(model, sorted(set(hashes))):
            found[h] = [tuple(w) for w in json.loads(words)]  # type: ignore[misc]
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found:
                todo.setdefault(h, t)
        if todo:
            fresh = dict(zip(todo, tag(todo.values()), strict=True))
            self._put(model, ((h, json.dumps(words)) for h, words in fresh.items()))
            found.update(fresh)
        return [found[h] for h in hashes]
