"""The Neo4j backend's schema: index names and the migrations that bring a graph to the current
schema version, and the batching every bulk write uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

VECTOR_INDEX = "paper_embedding"
FULLTEXT_INDEX = "paper_text"

# Version n's statements bring a version n-1 graph to n. All are idempotent.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE CONSTRAINT paper_id IF NOT EXISTS FOR (p:Paper) REQUIRE p.id IS UNIQUE",
        "CREATE CONSTRAINT topic_id IF NOT EXISTS FOR (t:Topic) REQUIRE t.id IS UNIQUE",
        "CREATE CONSTRAINT correction_seq IF NOT EXISTS FOR (c:Correction) REQUIRE c.seq IS UNIQUE",
        "CREATE CONSTRAINT meta_key IF NOT EXISTS FOR (m:Meta) REQUIRE m.key IS UNIQUE",
        "CREATE INDEX paper_title_key IF NOT EXISTS FOR (p:Paper) ON (p.title_key)",
        f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS "
        "FOR (p:Paper) ON EACH [p.title, p.abstract]",
        # methods, implementations and code links (issue 6)
        "CREATE CONSTRAINT method_id IF NOT EXISTS FOR (m:Method) REQUIRE m.id IS UNIQUE",
        "CREATE CONSTRAINT implementation_id IF NOT EXISTS "
        "FOR (i:Implementation) REQUIRE i.id IS UNIQUE",
        "CREATE CONSTRAINT repository_url IF NOT EXISTS FOR (r:Repository) REQUIRE r.url IS UNIQUE",
        "CREATE CONSTRAINT facet_value IF NOT EXISTS "
        "FOR (f:FacetValue) REQUIRE (f.dimension, f.value) IS UNIQUE",
    ],
    # Paper summaries (p.problem, p.method, p.results, p.summary_of) and structured topic
    # summaries are plain optional properties: nodes written before read as unsummarized, so
    # the graph needs no rewrite. Papers still to summarize are found by this index.
    2: [
        "CREATE INDEX paper_summary_of IF NOT EXISTS FOR (p:Paper) ON (p.summary_of)",
    ],
}


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """`items` in lists of at most `size`: one UNWIND statement per list."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
