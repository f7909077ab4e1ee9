"""The rejects file: every record that could not be read, with where it was and why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from hierograph.graph.models import utc_now


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    reason: str
    excerpt: str = ""


class RejectsFile:
    """Append-only JSONL; a reject already recorded (same file, line, reason) is not repeated,
    so re-running an ingest leaves the file as it was."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _known(self) -> set[tuple[str, int, str]]:
        if not self.path.exists():
            return set()
        known = set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                known.add((row["file"], row["line"], row["reason"]))
            except (ValueError, KeyError):
                continue
        return known

    def add(self, rejects: list[Reject]) -> int:
        """Record `rejects`; returns how many were new."""
        known = self._known()
        fresh = [r for r in rejects if (r.file, r.line, r.reason) not in known]
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                for r in fresh:
                    out.write(json.dumps({**asdict(r), "at": utc_now()}, ensure_ascii=False) + "\n")
        return len(fresh)
