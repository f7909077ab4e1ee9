"""The paper map's coordinates in Neo4j: `map_x` and `map_y` properties on each (:Paper).
A mixin of Neo4jStore, kept apart so the store module stays within its size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Neo4jLayout:
    """Needs the store's `_read`, `_run` and `batch_size`."""

    batch_size: int

    def _read(self, query: str, **params: Any) -> list[Any]: ...  # provided by Neo4jStore

    def _run(self, query: str, **params: Any) -> None: ...  # provided by Neo4jStore

    def set_layout(self, points: Mapping[str, tuple[float, float]], replace: bool = False) -> None:
        if replace:
            self._run("MATCH (p:Paper) WHERE p.map_x IS NOT NULL REMOVE p.map_x, p.map_y")
        rows = [{"id": pid, "x": float(x), "y": float(y)} for pid, (x, y) in points.items()]
        for start in range(0, len(rows), self.batch_size):
            self._run(
                "UNWIND $rows AS row MATCH (p:Paper {id: row.id}) SET p.map_x = row.x, "
                "p.map_y = row.y",
                rows=rows[start : start + self.batch_size],
            )

    def layout(self) -> dict[str, tuple[float, float]]:
        rows = self._read(
            "MATCH (p:Paper) WHERE p.map_x IS NOT NULL "
            "RETURN p.id AS id, p.map_x AS x, p.map_y AS y ORDER BY id"
        )
        return {r["id"]: (r["x"], r["y"]) for r in rows}
