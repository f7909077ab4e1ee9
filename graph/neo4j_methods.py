"""Methods, implementations, paper/topic→method links, code links and repositories on Neo4j
(issue 6): one part of Neo4jStore, which supplies the driver plumbing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from neo4j import ManagedTransaction

from hierograph.graph.method_models import (
    CodeLink,
    Implementation,
    Method,
    MethodLink,
    Repository,
    TopicMethod,
)
from hierograph.graph.neo4j_schema import batches


class Neo4jMethodGraph:
    """The method graph's store operations (their contract is in graph/store.py); a mixin of
    Neo4jStore, whose managed transactions (`_write`, `_read`, `_run`) and `batch_size` they
    use."""

    batch_size: int
    _write: Callable[..., Any]
    _read: Callable[..., list[Any]]
    _run: Callable[..., None]

    def replace_methods(self, methods: Sequence[Method]) -> None:
        rows = [
            {
                "props": m.model_dump(exclude={"implementations"}, exclude_none=True),
                "impls": [
                    {"id": i.id, "record": i.model_dump_json(), "position": n}
                    for n, i in enumerate(m.implementations)
                ],
            }
            for m in methods
        ]

        def work(tx: ManagedTransaction) -> None:
            ids = [r["props"]["id"] for r in rows]
            tx.run("MATCH (m:Method) WHERE NOT m.id IN $ids DETACH DELETE m", ids=ids).consume()
            tx.run("MATCH (:Method)-[r:IMPLEMENTED_BY]->() DELETE r").consume()
            for batch in batches(rows, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MERGE (m:Method {id: row.props.id}) SET m = row.props "
                    "WITH m, row UNWIND row.impls AS impl "
                    "MERGE (i:Implementation {id: impl.id}) SET i.record = impl.record "
                    "CREATE (m)-[:IMPLEMENTED_BY {position: impl.position}]->(i)",
                    rows=batch,
                ).consume()
            tx.run(
                "MATCH (i:Implementation) WHERE NOT ()-[:IMPLEMENTED_BY]->(i) DELETE i"
            ).consume()

        self._write(work)

    def methods(self) -> list[Method]:
        rows = self._read(
            "MATCH (m:Method) OPTIONAL MATCH (m)-[r:IMPLEMENTED_BY]->(i:Implementation) "
            "WITH m, r, i ORDER BY r.position "
            "RETURN m {.*} AS m, [x IN collect(i.record) WHERE x IS NOT NULL] AS impls "
            "ORDER BY m.id"
        )
        return [
            Method(
                **r["m"],
                implementations=[Implementation.model_validate_json(x) for x in r["impls"]],
            )
            for r in rows
        ]

    def replace_method_links(self, links: Iterable[MethodLink]) -> None:
        # One edge per (paper, method): the last link given wins, as in SQLite.
        rows = list({(x.paper_id, x.method_id): x.model_dump() for x in links}.values())

        def work(tx: ManagedTransaction) -> None:
            tx.run("MATCH (:Paper)-[r:PROPOSES|USES]->(:Method) DELETE r").consume()
            for relation in ("PROPOSES", "USES"):
                chosen = [r for r in rows if r["relation"] == relation]
                for batch in batches(chosen, self.batch_size):
                    tx.run(
                        "UNWIND $rows AS row MATCH (p:Paper {id: row.paper_id}), "
                        f"(m:Method {{id: row.method_id}}) CREATE (p)-[:{relation} "
                        "{evidence: row.evidence}]->(m)",
                        rows=batch,
                    ).consume()

        self._write(work)

    def method_links(
        self, *, paper_id: str | None = None, method_id: str | None = None
    ) -> list[MethodLink]:
        rows = self._read(
            "MATCH (p:Paper)-[r:PROPOSES|USES]->(m:Method) "
            "WHERE ($paper IS NULL OR p.id = $paper) AND ($method IS NULL OR m.id = $method) "
            "RETURN p.id AS paper_id, m.id AS method_id, type(r) AS relation, "
            "r.evidence AS evidence ORDER BY method_id, relation = 'USES', paper_id",
            paper=paper_id,
            method=method_id,
        )
        return [MethodLink(**r.data()) for r in rows]

    def replace_topic_methods(self, rows: Iterable[TopicMethod]) -> None:
        data = [r.model_dump() for r in rows]

        def work(tx: ManagedTransaction) -> None:
            tx.run("MATCH (:Topic)-[r:ABOUT]->(:Method) DELETE r").consume()
            for batch in batches(data, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MATCH (t:Topic {id: row.topic_id}), "
                    "(m:Method {id: row.method_id}) "
                    "MERGE (t)-[r:ABOUT]->(m) SET r.score = row.score, r.papers = row.papers",
                    rows=batch,
                ).consume()

        self._write(work)

    def topic_methods(
        self, *, topic_id: str | None = None, method_id: str | None = None
    ) -> list[TopicMethod]:
        rows = self._read(
            "MATCH (t:Topic)-[r:ABOUT]->(m:Method) "
            "WHERE ($topic IS NULL OR t.id = $topic) AND ($method IS NULL OR m.id = $method) "
            "RETURN t.id AS topic_id, m.id AS method_id, r.score AS score, r.papers AS papers "
            "ORDER BY topic_id, score DESC, method_id",
            topic=topic_id,
            method=method_id,
        )
        return [TopicMethod(**r.data()) for r in rows]

    def replace_code_links(self, links: Iterable[CodeLink]) -> None:
        data = [x.model_dump() for x in links]

        def work(tx: ManagedTransaction) -> None:
            tx.run("MATCH (:Paper)-[r:HAS_CODE]->(:Repository) DELETE r").consume()
            for batch in batches(data, self.batch_size):
                tx.run(
                    "UNWIND $rows AS row MATCH (p:Paper {id: row.paper_id}) "
                    "MERGE (r:Repository {url: row.url}) MERGE (p)-[:HAS_CODE]->(r)",
                    rows=batch,
                ).consume()

        self._write(work)

    def code_links(self, *, paper_id: str | None = None, url: str | None = None) -> list[CodeLink]:
        rows = self._read(
            "MATCH (p:Paper)-[:HAS_CODE]->(r:Repository) "
            "WHERE ($paper IS NULL OR p.id = $paper) AND ($url IS NULL OR r.url = $url) "
            "RETURN p.id AS paper_id, r.url AS url ORDER BY paper_id, url",
            paper=paper_id,
            url=url,
        )
        return [CodeLink(**r.data()) for r in rows]

    def repositories(self) -> list[Repository]:
        rows = self._read(
            "MATCH (r:Repository) RETURN r.url AS url, r.status AS status, r.ok AS ok, "
            "r.checked_at AS checked_at, r.error AS error ORDER BY url"
        )
        return [Repository(**r.data()) for r in rows]

    def record_link_checks(self, repos: Iterable[Repository]) -> None:
        rows = [r.model_dump() for r in repos]
        for batch in batches(rows, self.batch_size):
            self._run(
                "UNWIND $rows AS row MERGE (r:Repository {url: row.url}) "
                "SET r.status = row.status, r.ok = row.ok, r.checked_at = row.checked_at, "
                "r.error = row.error",
                rows=batch,
            )
