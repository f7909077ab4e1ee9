"""The embedded default backend: one SQLite file, FTS5 for full text, numpy for vectors."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from hierograph.graph.ids import title_key
from hierograph.graph.method_models import (
    CodeLink,
    Implementation,
    Method,
    MethodLink,
    Repository,
    TopicMethod,
)
from hierograph.graph.models import (
    Assignment,
    Correction,
    Facet,
    Hierarchy,
    Paper,
    PaperSummary,
    Topic,
)
from hierograph.graph.store import (
    SCHEMA_VERSION,
    GraphStore,
    StoreError,
    UpsertResult,
    rank_by_cosine,
)

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
-- methods, implementations and code links (issue 6)
CREATE TABLE IF NOT EXISTS methods (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS implementations (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS method_implementations (
    method_id TEXT NOT NULL, implementation_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (method_id, implementation_id)
);
CREATE TABLE IF NOT EXISTS method_links (
    paper_id TEXT NOT NULL, method_id TEXT NOT NULL, relation TEXT NOT NULL,
    evidence TEXT NOT NULL, PRIMARY KEY (paper_id, method_id)
);
CREATE TABLE IF NOT EXISTS topic_methods (
    topic_id TEXT NOT NULL, method_id TEXT NOT NULL, score REAL NOT NULL,
    papers INTEGER NOT NULL, PRIMARY KEY (topic_id, method_id)
);
CREATE TABLE IF NOT EXISTS repositories (
    url TEXT PRIMARY KEY, status INTEGER, ok INTEGER, checked_at TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS code_links (
    paper_id TEXT NOT NULL, url TEXT NOT NULL, PRIMARY KEY (paper_id, url)
);
-- the paper map's 2-D coordinates (issue 21)
CREATE TABLE IF NOT EXISTS layout (paper_id TEXT PRIMARY KEY, x REAL NOT NULL, y REAL NOT NULL);
CREATE TABLE IF NOT EXISTS facets (
    paper_id TEXT NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL, score REAL NOT NULL,
    origin TEXT NOT NULL, PRIMARY KEY (paper_id, dimension, value)
);
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
        if self.get_meta("fts_rowids") != "paper":
            self._reindex_fulltext()

    def _reindex_fulltext(self) -> None:
        """Early files keyed FTS rows by their own rowids; rows now share the paper's rowid."""
        with self._tx():
            self._db.execute("DELETE FROM papers_fts")
            self._db.execute(
                "INSERT INTO papers_fts(rowid, id, title, abstract) SELECT rowid, id, "
                "json_extract(record, '$.title'), json_extract(record, '$.abstract') FROM papers"
            )
            self.set_meta("fts_rowids", "paper")

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
                self._write_paper(merged, existed=old is not None)
        return UpsertResult(new, updated, unchanged)

    def _write_paper(self, paper: Paper, existed: bool) -> None:
        """The paper row and its full-text row, inside the caller's transaction."""
        (rowid,) = self._db.execute(
            "INSERT INTO papers(id, title_key, record) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET title_key=excluded.title_key, "
            "record=excluded.record RETURNING rowid",
            (paper.id, title_key(paper.title), paper.model_dump_json()),
        ).fetchone()
        # The FTS row shares the paper's rowid: replacing it is an indexed lookup, where
        # matching on the unindexed id column would scan the whole FTS table.
        if existed:
            self._db.execute("DELETE FROM papers_fts WHERE rowid = ?", (rowid,))
        self._db.execute(
            "INSERT INTO papers_fts(rowid, id, title, abstract) VALUES (?, ?, ?, ?)",
            (rowid, paper.id, paper.title, paper.abstract),
        )

    def get_paper(self, paper_id: str) -> Paper | None:
        row = self._db.execute("SELECT record FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    def iter_papers(self) -> Iterator[Paper]:
        for (record,) in self._db.execute("SELECT record FROM papers ORDER BY id"):
            yield Paper.model_validate_json(record)

    def paper_ids(self, *, embedded: bool | None = None) -> list[str]:
        where = {None: "", True: " WHERE embedding IS NOT NULL", False: " WHERE embedding IS NULL"}
        query = f"SELECT id FROM papers{where[embedded]} ORDER BY id"
        return [pid for (pid,) in self._db.execute(query)]

    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        records: dict[str, str] = {}
        ids = list(paper_ids)
        # Chunks below SQLite's bound on host parameters (32,766 since 3.32; 999 before).
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            records.update(
                self._db.execute(f"SELECT id, record FROM papers WHERE id IN ({marks})", chunk)
            )
        return [Paper.model_validate_json(records[pid]) for pid in ids if pid in records]

    def paper_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM papers").fetchone()[0]

    def find_paper_by_title_key(self, key: str) -> Paper | None:
        row = self._db.execute(
            "SELECT record FROM papers WHERE title_key = ? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    def set_paper_summaries(self, summaries: Mapping[str, PaperSummary | None]) -> int:
        written = 0
        with self._tx():
            for paper_id, summary in summaries.items():
                paper = self.get_paper(paper_id)
                if paper is None:
                    continue
                paper = paper.model_copy(update=_summary_fields(paper, summary))
                # Title and abstract are unchanged, so the full-text row stays as it is.
                self._db.execute(
                    "UPDATE papers SET record = ? WHERE id = ?",
                    (paper.model_dump_json(), paper_id),
                )
                written += 1
        return written

    # --- embeddings ---
    def set_embeddings(self, vectors: Mapping[str, np.ndarray]) -> None:
        with self._tx():
            # A generator: one row's bytes at a time, not a second copy of every vector.
            self._db.executemany(
                "UPDATE papers SET embedding = ? WHERE id = ?",
                ((np.asarray(v, dtype=np.float32).tobytes(), pid) for pid, v in vectors.items()),
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
        return rank_by_cosine(ids, np.stack([stored[i] for i in ids]), vector, k)

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

    def change_token(self) -> object | None:
        # data_version moves when another connection commits; total_changes counts this
        # connection's own writes. Together: any write, read in microseconds.
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        return (version, self._db.total_changes)

    # --- hierarchy ---
    def replace_hierarchy(
        self, hierarchy: Hierarchy, meta: Mapping[str, str] | None = None
    ) -> None:
        with self._tx():
            for key, value in sorted((meta or {}).items()):
                self.set_meta(key, value)
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

    # --- the paper map ---
    def set_layout(self, points: Mapping[str, tuple[float, float]], replace: bool = False) -> None:
        known = {pid for (pid,) in self._db.execute("SELECT id FROM papers")}
        with self._tx():
            if replace:
                self._db.execute("DELETE FROM layout")
            self._db.executemany(
                "INSERT INTO layout(paper_id, x, y) VALUES (?, ?, ?) "
                "ON CONFLICT(paper_id) DO UPDATE SET x = excluded.x, y = excluded.y",
                [(pid, float(x), float(y)) for pid, (x, y) in points.items() if pid in known],
            )

    def layout(self) -> dict[str, tuple[float, float]]:
        rows = self._db.execute("SELECT paper_id, x, y FROM layout ORDER BY paper_id")
        return {pid: (x, y) for pid, x, y in rows}

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

    # --- facets (issue 10) ---
    def replace_facets(self, facets: Iterable[Facet]) -> None:
        rows = list(facets)
        with self._tx():
            self._db.executemany(
                "DELETE FROM facets WHERE paper_id = ? AND dimension = ?",
                sorted({(f.paper_id, f.dimension) for f in rows}),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO facets VALUES (?, ?, ?, ?, ?)",
                [(f.paper_id, f.dimension, f.value, f.score, f.origin) for f in rows],
            )

    def facets(self, *, paper_id: str | None = None, dimension: str | None = None) -> list[Facet]:
        rows = self._db.execute(
            "SELECT paper_id, dimension, value, score, origin FROM facets "
            "WHERE (?1 IS NULL OR paper_id = ?1) AND (?2 IS NULL OR dimension = ?2) "
            "ORDER BY paper_id, dimension, score DESC, value",
            (paper_id, dimension),
        )
        return [
            Facet(paper_id=p, dimension=d, value=v, score=sc, origin=o) for p, d, v, sc, o in rows
        ]

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    # --- live sources / refresh (issue 4) ---
    def replace_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        new = updated = unchanged = 0
        with self._tx():
            for paper in papers:
                old = self.get_paper(paper.id)
                if old == paper:
                    unchanged += 1
                    continue
                new, updated = (new + 1, updated) if old is None else (new, updated + 1)
                self._write_paper(paper, existed=old is not None)
        return UpsertResult(new, updated, unchanged)

    # --- methods, implementations and code links (issue 6) ---
    def replace_methods(self, methods: Sequence[Method]) -> None:
        keep = [m.id for m in methods]
        with self._tx():
            marks = ",".join("?" * len(keep))
            for table in ("methods", "method_links", "topic_methods"):
                column = "id" if table == "methods" else "method_id"
                self._db.execute(f"DELETE FROM {table} WHERE {column} NOT IN ({marks})", keep)
            self._db.execute("DELETE FROM method_implementations")
            for m in methods:
                self._db.execute(
                    "INSERT INTO methods(id, record) VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET record=excluded.record",
                    (m.id, m.model_dump_json(exclude={"implementations"})),
                )
                for position, impl in enumerate(m.implementations):
                    self._db.execute(
                        "INSERT INTO implementations(id, record) VALUES (?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET record=excluded.record",
                        (impl.id, impl.model_dump_json()),
                    )
                    self._db.execute(
                        "INSERT OR IGNORE INTO method_implementations VALUES (?, ?, ?)",
                        (m.id, impl.id, position),
                    )
            self._db.execute(
                "DELETE FROM implementations WHERE id NOT IN "
                "(SELECT implementation_id FROM method_implementations)"
            )

    def methods(self) -> list[Method]:
        impls: dict[str, list[Implementation]] = {}
        for method_id, record in self._db.execute(
            "SELECT mi.method_id, i.record FROM method_implementations mi "
            "JOIN implementations i ON i.id = mi.implementation_id ORDER BY mi.method_id, position"
        ):
            impls.setdefault(method_id, []).append(Implementation.model_validate_json(record))
        rows = self._db.execute("SELECT id, record FROM methods ORDER BY id")
        return [
            Method.model_validate_json(record).model_copy(
                update={"implementations": impls.get(method_id, [])}
            )
            for method_id, record in rows
        ]

    def replace_method_links(self, links: Iterable[MethodLink]) -> None:
        with self._tx():
            self._db.execute("DELETE FROM method_links")
            self._db.executemany(
                "INSERT OR REPLACE INTO method_links SELECT ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM papers WHERE id = ?) "
                "AND EXISTS (SELECT 1 FROM methods WHERE id = ?)",
                [
                    (x.paper_id, x.method_id, x.relation, x.evidence, x.paper_id, x.method_id)
                    for x in links
                ],
            )

    def method_links(
        self, *, paper_id: str | None = None, method_id: str | None = None
    ) -> list[MethodLink]:
        rows = self._db.execute(
            "SELECT paper_id, method_id, relation, evidence FROM method_links "
            "WHERE (?1 IS NULL OR paper_id = ?1) AND (?2 IS NULL OR method_id = ?2) "
            "ORDER BY method_id, relation = 'USES', paper_id",
            (paper_id, method_id),
        )
        return [MethodLink(paper_id=p, method_id=m, relation=r, evidence=e) for p, m, r, e in rows]

    def replace_topic_methods(self, rows: Iterable[TopicMethod]) -> None:
        with self._tx():
            self._db.execute("DELETE FROM topic_methods")
            self._db.executemany(
                "INSERT OR REPLACE INTO topic_methods SELECT ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM topics WHERE id = ?) "
                "AND EXISTS (SELECT 1 FROM methods WHERE id = ?)",
                [
                    (r.topic_id, r.method_id, r.score, r.papers, r.topic_id, r.method_id)
                    for r in rows
                ],
            )

    def topic_methods(
        self, *, topic_id: str | None = None, method_id: str | None = None
    ) -> list[TopicMethod]:
        # Only edges to topics of the current tree: a rebuild may have removed the topic.
        rows = self._db.execute(
            "SELECT topic_id, method_id, score, papers FROM topic_methods "
            "WHERE topic_id IN (SELECT id FROM topics) "
            "AND (?1 IS NULL OR topic_id = ?1) AND (?2 IS NULL OR method_id = ?2) "
            "ORDER BY topic_id, score DESC, method_id",
            (topic_id, method_id),
        )
        return [TopicMethod(topic_id=t, method_id=m, score=s, papers=n) for t, m, s, n in rows]

    def replace_code_links(self, links: Iterable[CodeLink]) -> None:
        links = list(links)
        with self._tx():
            self._db.execute("DELETE FROM code_links")
            self._db.executemany(
                "INSERT OR IGNORE INTO repositories(url) SELECT ? "
                "WHERE EXISTS (SELECT 1 FROM papers WHERE id = ?)",
                [(x.url, x.paper_id) for x in links],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO code_links SELECT ?, ? "
                "WHERE EXISTS (SELECT 1 FROM papers WHERE id = ?)",
                [(x.paper_id, x.url, x.paper_id) for x in links],
            )

    def code_links(self, *, paper_id: str | None = None, url: str | None = None) -> list[CodeLink]:
        rows = self._db.execute(
            "SELECT paper_id, url FROM code_links WHERE (?1 IS NULL OR paper_id = ?1) "
            "AND (?2 IS NULL OR url = ?2) ORDER BY paper_id, url",
            (paper_id, url),
        )
        return [CodeLink(paper_id=p, url=u) for p, u in rows]

    def repositories(self) -> list[Repository]:
        rows = self._db.execute(
            "SELECT url, status, ok, checked_at, error FROM repositories ORDER BY url"
        )
        return [
            Repository(url=u, status=s, ok=None if ok is None else bool(ok), checked_at=c, error=e)
            for u, s, ok, c, e in rows
        ]

    def record_link_checks(self, repos: Iterable[Repository]) -> None:
        with self._tx():
            self._db.executemany(
                "INSERT INTO repositories(url, status, ok, checked_at, error) VALUES (?,?,?,?,?) "
                "ON CONFLICT(url) DO UPDATE SET status=excluded.status, ok=excluded.ok, "
                "checked_at=excluded.checked_at, error=excluded.error",
                [(r.url, r.status, r.ok, r.checked_at, r.error) for r in repos],
            )


def _summary_fields(paper: Paper, summary: PaperSummary | None) -> dict[str, str | None]:
    if summary is None:
        return {"problem": None, "method": None, "results": None, "summary_of": None}
    return {**summary.model_dump(), "summary_of": paper.text_hash()}


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
