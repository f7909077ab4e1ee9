"""Part-of-speech tags of titles, kept between builds: spaCy's tagger is the phrase labeler's
costliest step (about 2.5 ms a title on 2 cores, minutes at 100k papers), and a rebuild or a
refresh sees the same titles again. One SQLite table in the home, keyed by the tagging model
and a hash of the exact text the tagger read; the value is the (word, tag, lemma) list the
labeler made of it, so a cached title gives exactly what tagging it again would."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hierograph.hierarchy.embed import text_hash

Words = list[tuple[str, str, str]]


class TagCache:
    """(word, tag, lemma) lists per (model, text)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tags (model TEXT, text_hash TEXT, words TEXT, "
            "PRIMARY KEY (model, text_hash))"
        )

    def tagged(
        self, model: str, texts: Sequence[str], tag: Callable[[Iterable[str]], Iterable[Words]]
    ) -> list[Words]:
        """Each text's words: from the cache, or from `tag` (called once, on the texts the
        cache lacks, each distinct text once), which are then stored."""
        hashes = [text_hash(t) for t in texts]
        found: dict[str, Words] = {}
        unique = sorted(set(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for h, words in self._db.execute(
                f"SELECT text_hash, words FROM tags WHERE model = ? AND text_hash IN ({marks})",
                [model, *chunk],
            ):
                found[h] = [tuple(w) for w in json.loads(words)]  # type: ignore[misc]
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found:
                todo.setdefault(h, t)
        if todo:
            fresh = dict(zip(todo, tag(todo.values()), strict=True))
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                    [(model, h, json.dumps(words)) for h, words in fresh.items()],
                )
            found.update(fresh)
        return [found[h] for h in hashes]

    def close(self) -> None:
        self._db.close()
