"""Papers read from the store as a sequence, chunk by chunk, instead of one list in memory.

A build's stages index papers by row (row i of the embedding matrix is paper i), and most of
them only pass over the papers once or twice for their text. `StoredPapers` is that sequence
without the objects: it holds the paper ids (fixed when it is made, so every pass sees the
same rows even if an ingest runs meanwhile) and reads the records through the store contract
(`get_papers`, one round trip per chunk) each time a stage iterates. A pass holds one chunk of
`Paper` objects; what a stage keeps (titles, facets, counts) is its own choice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from hierograph.graph.models import Paper
from hierograph.graph.store import GraphStore

CHUNK = 1000  # papers read per round trip: big enough to amortise it, small next to 100k


class StoredPapers(Sequence[Paper]):
    """The store's papers with the given ids (default: all, ordered by id), read lazily.

    Iteration streams them in chunks of `chunk`; `papers[i]` reads one paper and a slice reads
    its chunk. A paper removed from the store after the ids were taken is skipped by
    iteration and raises KeyError by index (papers are never deleted by Hierograph itself)."""

    def __init__(
        self, store: GraphStore, paper_ids: Sequence[str] | None = None, chunk: int = CHUNK
    ) -> None:
        self.store = store
        self.ids = list(store.paper_ids() if paper_ids is None else paper_ids)
        self.chunk = max(1, chunk)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Paper: ...

    @overload
    def __getitem__(self, index: slice) -> list[Paper]: ...

    def __getitem__(self, index: int | slice) -> Paper | list[Paper]:
        if isinstance(index, slice):
            return self.store.get_papers(self.ids[index])
        paper_id = self.ids[index]
        found = self.store.get_papers([paper_id])
        if not found:
            raise KeyError(f"paper {paper_id} is no longer in the store")
        return found[0]

    def __iter__(self) -> Iterator[Paper]:
        for start in range(0, len(self.ids), self.chunk):
            yield from self.store.get_papers(self.ids[start : start + self.chunk])

    def texts(self) -> PaperTexts:
        """Each paper's embedded text (`Paper.text()`), by row, read as lazily."""
        return PaperTexts(self)


class PaperTexts(Sequence[str]):
    """`Paper.text()` of every paper of a sequence, by row, computed when read: iteration
    streams, an index reads one paper. What the embedder hashes and embeds."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = papers

    def __len__(self) -> int:
        return len(self.papers)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [p.text() for p in self.papers[index]]
        return self.papers[index].text()

    def __iter__(self) -> Iterator[str]:
        return (p.text() for p in self.papers)
