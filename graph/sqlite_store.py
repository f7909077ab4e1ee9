"""The embedded default backend: one SQLite file, FTS5 for full text, numpy for vectors."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from hierograph.graph.models import Assignment, Correction, Hierarchy, Paper, Topic
from hierograph.graph.store import SCHEMA_VERSION, GraphStore, StoreError, UpsertResult
from hierograph.ingest.ids import title_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY, title_key TEXT NOT NULL, record TEXT NOT NULL, embedding BLOB
);
CREATE INDEX IF NOT EXISTS papers_title_key ON papers(title_key);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(id UNINDEXED, title, abstract);
CREATE TABLE IF NOT EXISTS topics (
    id TEXT PRIMARY KEY, parent TEXT, level INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    paper_id TEXT NOT NULL, topic_id TEXT NOT NULL, score REAL NOT NULL,
    origin TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (paper_id, topic_id)
);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, actor TEXT NOT NULL,
    at TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS corrections_no_delete BEFORE DELETE ON corrections
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS corrections_no_update BEFORE UPDATE ON corrections
BEGIN SELECT RAISE(ABORT, 'the corrections log is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SqliteStore(GraphStore):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN … COMMIT) where atomicity matters.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._check_schema()

    def _check_schema(self) -> None:
        found = int(self.get_meta("schema_version") or 0)
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {found}, newer than this Hierograph "
                f"({SCHEMA_VERSION}); upgrade Hierograph or point HIEROGRAPH_HOME elsewhere."
            )
        # _SCHEMA is idempotent (IF NOT EXISTS) and has just run: an older file is now current.
        if found < SCHEMA_VERSION:
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    # --- papers ---
    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        new = updated = unchanged = 0
        with self._tx():
            for paper in papers:
                old = self.get_paper(paper.id)
                merged = paper if old is None else old.merged_with(paper)
                if old is not None and merged == old:
                    unchanged += 1
                    continue
                if old is None:
                    new += 1
                else:
                    updated += 1
                self._db.execute(
                    "INSERT INTO papers(id, title_key, record) VALUES (?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET title_key=excluded.title_key, "
                    "record=excluded.record",
                    (merged.id, title_key(merged.title), merged.model_dump_json()),
                )
                self._db.execute("DELETE FROM papers_fts WHERE id = ?", (merged.id,))
                self._db.execute(
                    "INSERT INTO papers_fts(id, title, abstract) VALUES (?, ?, ?)",
                    (merged.id, merged.title, merged.abstract),
                )
        return UpsertResult(new, updated, unchanged)

    def get_paper(self, paper_id: str) -> Paper | None:
        row = self._db.execute("SELECT record FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    def iter_papers(self) -> Iterator[Paper]:
        for (record,) in self._db.execute("SELECT record FROM papers ORDER BY id"):
            yield Paper.model_validate_json(record)

    def paper_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM papers").fetchone()[0]

    def find_paper_by_title_key(self, key: str) -> Paper | None:
        row = self._db.execute(
            "SELECT record FROM papers WHERE title_key = ? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    # --- embeddings ---
    def set_embeddings(self, vectors: Mapping[str, np.ndarray]) -> None:
        with self._tx():
            self._db.executemany(
                "UPDATE papers SET embedding = ? WHERE id = ?",
                [(np.asarray(v, dtype=np.float32).tobytes(), pid) for pid, v in vectors.items()],
            )

    def get_embeddings(self, paper_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        rows = self._db.execute(
            "SELECT id, embedding FROM papers WHERE embedding IS NOT NULL ORDER BY id"
        )
        wanted = None if paper_ids is None else set(paper_ids)
        return {
            pid: np.frombuffer(blob, dtype=np.float32)
            for pid, blob in rows
            if wanted is None or pid in wanted
        }

    def semantic_search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        stored = self.get_embeddings()
        if not stored:
            return []
        ids = list(stored)
        matrix = np.stack([stored[i] for i in ids])
        matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        sims = matrix @ query
        order = np.lexsort((np.array(ids), -sims))[:k]
        return [(ids[i], float(sims[i])) for i in order]

    def fulltext_search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        words = re.findall(r"\w+", query.lower())
        if not words:
            return []
        # Quoted terms joined by OR: user text can never be parsed as FTS5 syntax.
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self._db.execute(
            "SELECT id, bm25(papers_fts) AS rank FROM papers_fts WHERE papers_fts MATCH ? "
            "ORDER BY rank, id LIMIT ?",
            (match, k),
        )
        return [(pid, -float(rank)) for pid, rank in rows]

    # --- hierarchy ---
    def replace_hierarchy(self, hierarchy: Hierarchy) -> None:
        with self._tx():
            self._db.execute("DELETE FROM assignments")
            self._db.execute("DELETE FROM topics")
            self._db.executemany(
                "INSERT INTO topics(id, parent, level, record) VALUES (?, ?, ?, ?)",
                [(t.id, t.parent, t.level, t.model_dump_json()) for t in hierarchy.topics],
            )
            self._insert_assignments(hierarchy.assignments)

    def topics(self) -> list[Topic]:
        rows = self._db.execute("SELECT record FROM topics ORDER BY level, id")
        return [Topic.model_validate_json(r[0]) for r in rows]

    def upsert_topics(self, topics: Iterable[Topic]) -> None:
        with self._tx():
            self._db.executemany(
                "INSERT INTO topics(id, parent, level, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET parent=excluded.parent, level=excluded.level, "
                "record=excluded.record",
                [(t.id, t.parent, t.level, t.model_dump_json()) for t in topics],
            )

    def delete_topic(self, topic_id: str) -> None:
        with self._tx():
            if self._db.execute("SELECT 1 FROM topics WHERE parent = ?", (topic_id,)).fetchone():
                raise StoreError(f"topic {topic_id} has subtopics; move or delete them first")
            self._db.execute("DELETE FROM assignments WHERE topic_id = ?", (topic_id,))
            self._db.execute("DELETE FROM topics WHERE id = ?", (topic_id,))

    def get_topic(self, topic_id: str) -> Topic | None:
        row = self._db.execute("SELECT record FROM topics WHERE id = ?", (topic_id,)).fetchone()
        return Topic.model_validate_json(row[0]) if row else None

    def assignments(
        self, *, topic_id: str | None = None, paper_id: str | None = None
    ) -> list[Assignment]:
        sql = "SELECT paper_id, topic_id, score, origin, at FROM assignments WHERE 1=1"
        params: list[str] = []
        if topic_id is not None:
            sql += " AND topic_id = ?"
            params.append(topic_id)
        if paper_id is not None:
            sql += " AND paper_id = ?"
            params.append(paper_id)
        sql += " ORDER BY topic_id, score DESC, paper_id"
        return [
            Assignment(paper_id=p, topic_id=t, score=s, origin=o, at=a)
            for p, t, s, o, a in self._db.execute(sql, params)
        ]

    def upsert_assignments(self, assignments: Iterable[Assignment]) -> None:
        with self._tx():
            self._insert_assignments(assignments)

    def _insert_assignments(self, assignments: Iterable[Assignment]) -> None:
        self._db.executemany(
            "INSERT INTO assignments(paper_id, topic_id, score, origin, at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(paper_id, topic_id) DO UPDATE SET score=excluded.score, "
            "origin=excluded.origin, at=excluded.at",
            [(a.paper_id, a.topic_id, a.score, a.origin, a.at) for a in assignments],
        )

    def remove_assignment(self, paper_id: str, topic_id: str) -> bool:
        cur = self._db.execute(
            "DELETE FROM assignments WHERE paper_id = ? AND topic_id = ?", (paper_id, topic_id)
        )
        return cur.rowcount > 0

    # --- corrections ---
    def append_correction(self, correction: Correction) -> Correction:
        cur = self._db.execute(
            "INSERT INTO corrections(kind, actor, at, payload) VALUES (?, ?, ?, ?)",
            (correction.kind, correction.actor, correction.at, json.dumps(correction.payload)),
        )
        return correction.model_copy(update={"id": cur.lastrowid})

    def corrections(self) -> list[Correction]:
        rows = self._db.execute("SELECT id, kind, actor, at, payload FROM corrections ORDER BY id")
        return [
            Correction(id=i, kind=k, actor=a, at=t, payload=json.loads(p)) for i, k, a, t, p in rows
        ]

    # --- meta ---
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def all_meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
