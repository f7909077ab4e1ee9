"""One SQLite table of values keyed by (model, text hash): the embedding cache and the title tag
cache both keep a model's output per exact text this way, so a second build with the same texts
recomputes nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

CHUNK = 500  # hashes per query: below SQLite's bound on host parameters


class KeyedCache:
    """Rows (model, text_hash, value) in `table`; `value` is of SQL type `value_type`."""

    def __init__(self, path: Path, table: str, value: str, value_type: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Several processes (a build beside a server, parallel tasks) may write one cache.
        self._db = sqlite3.connect(path, timeout=60)
        self._table, self._value = table, value
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (model TEXT, text_hash TEXT, "
            f"{value} {value_type}, PRIMARY KEY (model, text_hash))"
        )

    def _rows(self, model: str, hashes: Sequence[str]) -> Iterator[tuple[str, Any]]:
        """(text_hash, value) of the cached ones among `hashes`."""
        for start in range(0, len(hashes), CHUNK):
            chunk = list(hashes[start : start + CHUNK])
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(
                f"SELECT text_hash, {self._value} FROM {self._table} "
                f"WHERE model = ? AND text_hash IN ({marks})",
                [model, *chunk],
            )

    def _put(self, model: str, rows: Iterable[tuple[str, Any]]) -> None:
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?, ?)",
                [(model, h, v) for h, v in rows],
            )

    def close(self) -> None:
        self._db.close()
