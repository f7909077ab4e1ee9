"""Opening the store that the settings name; features never pick a backend themselves."""

from __future__ import annotations

from hierograph.graph.store import GraphStore
from hierograph.settings import Settings


def open_store(settings: Settings, kind: str | None = None) -> GraphStore:
    """The configured store (`kind` overrides settings.store, e.g. for `sync`)."""
    kind = kind or settings.store
    if kind == "sqlite":
        from hierograph.graph.sqlite_store import SqliteStore

        return SqliteStore(settings.db_path())
    if kind == "neo4j":
        from hierograph.graph.neo4j_password import neo4j_password
        from hierograph.graph.neo4j_store import Neo4jStore

        return Neo4jStore(
            uri=settings.neo4j_uri,
            user=settings.neo4j_user,
            password=neo4j_password(settings),
            database=settings.neo4j_database,
            batch_size=settings.neo4j_batch_size,
            retry_seconds=settings.neo4j_retry_seconds,
        )
    raise ValueError(f"unknown store {kind!r}; use 'sqlite' or 'neo4j'")
