"""The Neo4j backend: the system of record. Same semantics as SqliteStore (one contract suite)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

from hierograph.graph.ids import title_key
from hierograph.graph.models import (
    Assignment,
    Correction,
    Facet,
    Hierarchy,
    Paper,
    PaperSummary,
    Topic,
)
from hierograph.graph.neo4j_layout import Neo4jLayout
from hierograph.graph.neo4j_methods import Neo4jMethodGraph
from hierograph.graph.neo4j_schema import FULLTEXT_INDEX, MIGRATIONS, VECTOR_INDEX, batches
from hierograph.graph.store import (
    SCHEMA_VERSION,
    GraphStore,
    StoreError,
    UpsertResult,
    rank_by_cosine,
)

_PAPER_FIELDS = tuple(Paper.model_fields)


def _paper_props(paper: Paper) -> dict[str, Any]:
    # Neo4j has no null properties: absent optional fields are simply not set.
    props = {k: v for k, v in paper.model_dump().items() if v is not None}
    props["title_key"] = title_key(paper.title)
    return props


def _paper(node: Mapping[str, Any]) -> Paper:
    return Paper(**{k: node[k] for k in _PAPER_FIELDS if k in node})


def _lucene_query(text: str) -> str:
    """Quoted terms joined by OR, so user text is never parsed as Lucene syntax."""
    return " OR ".join(f'"{w}"' for w in re.findall(r"\w+", text.lower()))


class Neo4jStore(Neo4jMethodGraph, Neo4jLayout, GraphStore):
    """The store on a Neo4j server (driver, schema migrations, transactions); the methods
    graph's operations come from Neo4jMethodGraph, the paper map's from Neo4jLayout."""

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        batch_size: int = 1000,
        retry_seconds: float = 30.0,
    ) -> None:
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        self._driver: Driver = GraphDatabase.driver(
            uri, auth=(user, password), max_transaction_retry_time=retry_seconds
        )
        try:
            self._driver.verify_connectivity()
        except AuthError as e:
            self._driver.close()
            raise StoreError(
                f"Neo4j at {uri} refused user {user!r}: check HIEROGRAPH_NEO4J_USER and "
                "HIEROGRAPH_NEO4J_PASSWORD."
            ) from e
        except (ServiceUnavailable, OSError, ValueError) as e:
            self._driver.close()
            raise StoreError(
                f"cannot reach Neo4j at {uri}: start the local server with `hierograph db "
                "start`, or check HIEROGRAPH_NEO4J_URI and that the server is running."
            ) from e
        try:
            self._migrate()
        except BaseException:
            self._driver.close()
            raise

    # --- plumbing ---
    def _write(self, work: Any, *args: Any) -> Any:
        """A managed write transaction: retried by the driver on transient errors."""
        with self._driver.session(database=self.database) as session:
            return session.execute_write(work, *args)

    def _read(self, query: str, **params: Any) -> list[Any]:
        def work(tx: ManagedTransaction) -> list[Any]:
            return list(tx.run(query, **params))

        with self._driver.session(database=self.database) as session:
            return session.execute_read(work)

    def _run(self, query: str, **params: Any) -> None:
        def work(tx: ManagedTransaction) -> None:
            tx.run(query, **params).consume()

        self._write(work)

    def _migrate(self) -> None:
        found = self.get_meta_safe("schema_version")
        current = int(found) if found else 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the graph at {self.uri} has schema version {current}, newer than this "
                f"Hierograph ({SCHEMA_VERSION}); upgrade Hierograph or use another database."
            )
        # Every statement is idempotent (IF NOT EXISTS), so all run at each open: a database
        # at the current version still gets indexes added to its version's list later.
        for version in range(1, SCHEMA_VERSION + 1):
            with self._driver.session(database=self.database) as session:
                for statement in MIGRATIONS[version]:
                    session.run(statement).consume()  # schema statements: auto-commit only
            if version > current:
                self.set_meta("schema_version", str(version))

    def get_meta_safe(self, key: str) -> str | None:
        """get_meta before the schema exists (a fresh database has no Meta label yet)."""
        try:
            return self.get_meta(key)
        except ClientError:
            return None

    # --- papers ---
    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        new = updated = unchanged = 0
        for batch in batches(papers, self.batch_size):
            old = {p.id: p for p in self._papers_by_id([p.id for p in batch])}
            rows = []
            for paper in batch:
                before = old.get(paper.id)
                merged = paper if before is None else before.merged_with(paper)
                if before is not None and merged == before:
                    unchanged += 1
                    continue
                new, updated = (new + 1, updated) if before is None else (new, updated + 1)
                old[paper.id] = merged
                rows.append(_paper_props(merged))
            if rows:
                self._run(
                    "UNWIND $rows AS row MERGE (p:Paper {id: row.id}) SET p += row", rows=rows
                )
        return UpsertResult(new, updated, unchanged)

    def _papers_by_id(self, ids: list[str]) -> list[Paper]:
        rows = self._read(
            "UNWIND $ids AS id MATCH (p:Paper {id: id}) RETURN p {.*, embedding: null} AS p",
            ids=ids,
        )
        return [_paper(r["p"]) for r in rows]

    def get_paper(self, paper_id: str) -> Paper | None:
        found = self._papers_by_id([paper_id])
        return found[0] if found else None

    def iter_papers(self) -> Iterator[Paper]:
        last = ""
        while True:
            rows = self._read(
                "MATCH (p:Paper) WHERE p.id > $last RETURN p {.*, embedding: null} AS p "
                "ORDER BY p.id LIMIT $n",
                last=last,
                n=self.batch_size,
            )
            if not rows:
                return
            for r in rows:
                yield _paper(r["p"])
            last = rows[-1]["p"]["id"]

    def paper_ids(self, *, embedded: bool | None = None) -> list[str]:
        where = {None: "", True: " AND p.embedding IS NOT NULL", False: " AND p.embedding IS NULL"}
        ids: list[str] = []
        last = ""
        while True:  # paged, like iter_papers: one huge result would be held twice
            rows = self._read(
                f"MATCH (p:Paper) WHERE p.id > $last{where[embedded]} "
                "RETURN p.id AS id ORDER BY id LIMIT $n",
                last=last,
                n=self.batch_size * 10,
            )
            if not rows:
                return ids
            ids.extend(r["id"] for r in rows)
            last = ids[-1]

    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        found: dict[str, Paper] = {}
        for batch in batches(list(paper_ids), self.batch_size):
            found.update((p.id, p) for p in self._papers_by_id(list(batch)))
        return [found[pid] for pid in paper_ids if pid in found]

    def paper_count(self) -> int:
        return self._read("MATCH (p:Paper) RETURN count(p) AS n")[0]["n"]

    def find_paper_by_title_key(self, key: str) -> Paper | None:
        rows = self._read(
            "MATCH (p:Paper {title_key: $key}) RETURN p {.*, embedding: null} AS p "
            "ORDER BY p.id LIMIT 1",
            key=key,
        )
        return _paper(rows[0]["p"]) if rows else None

    def set_paper_summaries(self, summaries: Mapping[str, PaperSummary | None]) -> int:
        written = 0
        for batch in batches(list(summaries.items()), self.batch_size):
            papers = {p.id: p for p in self._papers_by_id([pid for pid, _ in batch])}
            rows = []
            for paper_id, summary in batch:
                if paper_id not in papers:
                    continue
                fields = dict.fromkeys(("problem", "method", "results", "summary_of"))
                if summary is not None:  # nulls remove the properties: a cleared summary
                    fields = {**summary.model_dump(), "summary_of": papers[paper_id].text_hash()}
                rows.append({"id": paper_id, **fields})
            if rows:
                self._run(
                    "UNWIND $rows AS row MATCH (p:Paper {id: row.id}) "
                    "SET p.problem = row.problem, p.method = row.method, "
                    "p.results = row.results, p.summary_of = row.summary_of",
                    rows=rows,
                )
            written += len(rows)
        return written

    # --- embeddings ---
    def set_embeddings(self, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        self._ensure_vector_index(len(next(iter(vectors.values()))))
        # Python float lists only for one batch at a time: for every vector at once they would
        # take about six times the float32 matrix.
        for batch in batches(list(vectors), self.batch_size):
            rows = [{"id": k, "v": np.asarray(vectors[k], dtype=float).tolist()} for k in batch]
            self._run(
                "UNWIND $rows AS row MATCH (p:Paper {id: row.id}) "
                "CALL db.create.setNodeVectorProperty(p, 'embedding', row.v)",
                rows=rows,
            )

    def _ensure_vector_index(self, dimensions: int) -> None:
        rows = self._read(
            "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options",
            name=VECTOR_INDEX,
        )
        if rows:
            config = rows[0]["options"]["indexConfig"]
            if config.get("vector.dimensions") == dimensions:
                return
            # Another embedding model: the old index cannot hold the new vectors.
            self._run(f"DROP INDEX {VECTOR_INDEX}")
        with self._driver.session(database=self.database) as session:
            session.run(
                f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (p:Paper) ON (p.embedding) "
                "OPTIONS {indexConfig: {`vector.dimensions`: $d, "
                "`vector.similarity_function`: 'cosine'}}",
                d=dimensions,
            ).consume()
            session.run("CALL db.awaitIndexes(300)").consume()

    def get_embeddings(self, paper_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        if paper_ids is None:
            rows = self._read(
                "MATCH (p:Paper) WHERE p.embedding IS NOT NULL "
                "RETURN p.id AS id, p.embedding AS v ORDER BY id"
            )
        else:
            rows = self._read(
                "UNWIND $ids AS id MATCH (p:Paper {id: id}) WHERE p.embedding IS NOT NULL "
                "RETURN p.id AS id, p.embedding AS v ORDER BY id",
                ids=list(paper_ids),
            )
        return {r["id"]: np.asarray(r["v"], dtype=np.float32) for r in rows}

    def semantic_search(self, vector: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        if not self._read(
            "SHOW VECTOR INDEXES YIELD name WHERE name = $name RETURN name", name=VECTOR_INDEX
        ):
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        # The index is approximate (HNSW): take a wider candidate set, then rank by exact cosine
        # so both backends order the same data the same way.
        rows = self._read(
            "CALL db.index.vector.queryNodes($index, $n, $q) YIELD node "
            "RETURN node.id AS id, node.embedding AS v",
            index=VECTOR_INDEX,
            n=max(4 * k, 50),
            q=query.astype(float).tolist(),
        )
        if not rows:
            return []
        return rank_by_cosine([r["id"] for r in rows], np.asarray([r["v"] for r in rows]), query, k)

    def fulltext_search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        lucene = _lucene_query(query)
        if not lucene:
            return []
        rows = self._read(
            "CALL db.index.fulltext.queryNodes($index, $q) YIELD node, score "
            "RETURN node.id AS id, score ORDER BY score DESC, id LIMIT $k",
            index=FULLTEXT_INDEX,
            q=lucene,
            k=k,
        )
        return [(r["id"], float(r["score"])) for r in rows]

    def change_token(self) -> object | None:
        # Neo4j Community exposes no committed-transaction counter to a client query, so
        # readers re-read (the API server's tree signature, about 10 ms on 9k papers).
        return None

    # --- hierarchy ---
    def replace_hierarchy(
        self, hierarchy: Hierarchy, meta: Mapping[str, str] | None = None
    ) -> None:
        rows = [{"key": k, "value": v} for k, v in sorted((meta or {}).items())]
        topics = [t.model_dump(exclude={"parent"}) for t in hierarchy.topics]
        edges = [{"id": t.id, "parent": t.parent} for t in hierarchy.topics if t.parent]
        assignments = [a.model_dump() for a in hierarchy.assignments]

        def work(tx: ManagedTransaction) -> None:
            # One transaction: a crash or kill before commit leaves the previous tree whole.
            tx.run("MATCH (t:Topic) DETACH DELETE t").consume()
            for batch in batches(topics, self.batch_size):
                tx.run("UNWIND $rows AS row CREATE (t:Topic) SET t = row", rows=batch).consume()
            for batch in batches(edges, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MATCH (c:Topic {id: row.id}), (p:Topic {id: row.parent}) "
                    "CREATE (c)-[:SUBTOPIC_OF]->(p)",
                    rows=batch,
                ).consume()
            for batch in batches(assignments, self.batch_size):
                tx.run(_CREATE_ASSIGNMENTS, rows=batch).consume()
            if rows:
                tx.run(
                    "UNWIND $rows AS row MERGE (m:Meta {key: row.key}) SET m.value = row.value",
                    rows=rows,
                ).consume()

        self._write(work)

    def topics(self) -> list[Topic]:
        rows = self._read(
            "MATCH (t:Topic) OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic) "
            "RETURN t {.*, parent: p.id} AS t ORDER BY t.level, t.id"
        )
        return [Topic(**r["t"]) for r in rows]

    def upsert_topics(self, topics: Iterable[Topic]) -> None:
        rows = [{"props": t.model_dump(exclude={"parent"}), "parent": t.parent} for t in topics]

        def work(tx: ManagedTransaction) -> None:
            for row in rows:  # in order: a parent created earlier in `topics` is found
                tx.run(
                    "MERGE (t:Topic {id: $props.id}) SET t = $props WITH t "
                    "OPTIONAL MATCH (t)-[old:SUBTOPIC_OF]->() DELETE old WITH DISTINCT t "
                    "OPTIONAL MATCH (p:Topic {id: $parent}) "
                    "FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | "
                    "CREATE (t)-[:SUBTOPIC_OF]->(p))",
                    props=row["props"],
                    parent=row["parent"],
                ).consume()

        self._write(work)

    def delete_topic(self, topic_id: str) -> None:
        def work(tx: ManagedTransaction) -> None:
            if tx.run(
                "MATCH (:Topic)-[:SUBTOPIC_OF]->(t:Topic {id: $id}) RETURN 1 LIMIT 1", id=topic_id
            ).single():
                raise StoreError(f"topic {topic_id} has subtopics; move or delete them first")
            tx.run("MATCH (t:Topic {id: $id}) DETACH DELETE t", id=topic_id).consume()

        self._write(work)

    def get_topic(self, topic_id: str) -> Topic | None:
        rows = self._read(
            "MATCH (t:Topic {id: $id}) OPTIONAL MATCH (t)-[:SUBTOPIC_OF]->(p:Topic) "
            "RETURN t {.*, parent: p.id} AS t",
            id=topic_id,
        )
        return Topic(**rows[0]["t"]) if rows else None

    def assignments(
        self, *, topic_id: str | None = None, paper_id: str | None = None
    ) -> list[Assignment]:
        rows = self._read(
            "MATCH (p:Paper)-[r:IN_TOPIC]->(t:Topic) "
            "WHERE ($topic IS NULL OR t.id = $topic) AND ($paper IS NULL OR p.id = $paper) "
            "RETURN p.id AS paper_id, t.id AS topic_id, r.score AS score, r.origin AS origin, "
            "r.at AS at ORDER BY topic_id, score DESC, paper_id",
            topic=topic_id,
            paper=paper_id,
        )
        return [Assignment(**r.data()) for r in rows]

    def upsert_assignments(self, assignments: Iterable[Assignment]) -> None:
        rows = [a.model_dump() for a in assignments]
        for batch in batches(rows, self.batch_size):
            self._run(_MERGE_ASSIGNMENTS, rows=batch)

    def remove_assignment(self, paper_id: str, topic_id: str) -> bool:
        def work(tx: ManagedTransaction) -> int:
            record = tx.run(
                "MATCH (:Paper {id: $p})-[r:IN_TOPIC]->(:Topic {id: $t}) DELETE r "
                "RETURN count(*) AS n",
                p=paper_id,
                t=topic_id,
            ).single()
            return record["n"] if record else 0

        return self._write(work) > 0

    # --- corrections ---
    def append_correction(self, correction: Correction) -> Correction:
        def work(tx: ManagedTransaction) -> int:
            # The counter node's write lock serializes concurrent appends.
            return tx.run(
                "MERGE (m:Meta {key: 'correction_seq'}) "
                "SET m.value = toString(coalesce(toInteger(m.value), 0) + 1) "
                "WITH toInteger(m.value) AS seq "
                "CREATE (c:Correction {seq: seq, kind: $kind, actor: $actor, at: $at, "
                "payload: $payload}) RETURN seq",
                kind=correction.kind,
                actor=correction.actor,
                at=correction.at,
                payload=json.dumps(correction.payload),
            ).single()["seq"]

        return correction.model_copy(update={"id": self._write(work)})

    def corrections(self) -> list[Correction]:
        rows = self._read(
            "MATCH (c:Correction) RETURN c.seq AS id, c.kind AS kind, c.actor AS actor, "
            "c.at AS at, c.payload AS payload ORDER BY id"
        )
        return [Correction(**{**r.data(), "payload": json.loads(r["payload"])}) for r in rows]

    # --- meta ---
    def get_meta(self, key: str) -> str | None:
        rows = self._read("MATCH (m:Meta {key: $key}) RETURN m.value AS v", key=key)
        return rows[0]["v"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._run("MERGE (m:Meta {key: $key}) SET m.value = $value", key=key, value=value)

    def all_meta(self) -> dict[str, str]:
        # The correction counter is this store's internal state, not graph metadata.
        rows = self._read(
            "MATCH (m:Meta) WHERE m.key <> 'correction_seq' RETURN m.key AS k, m.value AS v "
            "ORDER BY k"
        )
        return {r["k"]: r["v"] for r in rows}

    # --- facets (issue 10) ---
    def replace_facets(self, facets: Iterable[Facet]) -> None:
        rows = [f.model_dump() for f in facets]
        pairs = sorted({(r["paper_id"], r["dimension"]) for r in rows})

        def work(tx: ManagedTransaction) -> None:
            for batch in batches(pairs, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MATCH (:Paper {id: row[0]})-[h:HAS_FACET]->"
                    "(f:FacetValue {dimension: row[1]}) DELETE h",
                    rows=batch,
                ).consume()
            for batch in batches(rows, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MATCH (p:Paper {id: row.paper_id}) "
                    "MERGE (f:FacetValue {dimension: row.dimension, value: row.value}) "
                    "MERGE (p)-[h:HAS_FACET]->(f) SET h.score = row.score, h.origin = row.origin",
                    rows=batch,
                ).consume()

        self._write(work)

    def facets(self, *, paper_id: str | None = None, dimension: str | None = None) -> list[Facet]:
        rows = self._read(
            "MATCH (p:Paper)-[h:HAS_FACET]->(f:FacetValue) "
            "WHERE ($paper IS NULL OR p.id = $paper) AND ($dim IS NULL OR f.dimension = $dim) "
            "RETURN p.id AS paper_id, f.dimension AS dimension, f.value AS value, "
            "h.score AS score, h.origin AS origin ORDER BY paper_id, dimension, score DESC, value",
            paper=paper_id,
            dim=dimension,
        )
        return [Facet(**r.data()) for r in rows]

    def close(self) -> None:
        self._driver.close()

    # --- live sources / refresh (issue 4) ---
    def replace_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        new = updated = unchanged = 0
        for batch in batches(papers, self.batch_size):
            old = {p.id: p for p in self._papers_by_id([p.id for p in batch])}
            rows = []
            for paper in batch:
                if old.get(paper.id) == paper:
                    unchanged += 1
                    continue
                new, updated = (new + 1, updated) if paper.id not in old else (new, updated + 1)
                # Nulls kept: `SET p += row` removes a property set to null, so a field the new
                # record lacks is cleared, while the embedding (not a Paper field) stays.
                rows.append({**paper.model_dump(), "title_key": title_key(paper.title)})
            if rows:
                self._run(
                    "UNWIND $rows AS row MERGE (p:Paper {id: row.id}) SET p += row", rows=rows
                )
        return UpsertResult(new, updated, unchanged)


_CREATE_ASSIGNMENTS = (
    "UNWIND $rows AS row MATCH (p:Paper {id: row.paper_id}), (t:Topic {id: row.topic_id}) "
    "CREATE (p)-[:IN_TOPIC {score: row.score, origin: row.origin, at: row.at}]->(t)"
)
_MERGE_ASSIGNMENTS = (
    "UNWIND $rows AS row MATCH (p:Paper {id: row.paper_id}), (t:Topic {id: row.topic_id}) "
    "MERGE (p)-[r:IN_TOPIC]->(t) SET r.score = row.score, r.origin = row.origin, r.at = row.at"
)
