"""The repository's own text files hold no unresolved merge: a conflict left in docs/ once
shipped half of two sections between markers, and no other check reads those files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)
TEXT_SUFFIXES = {".md", ".py", ".toml", ".cfg", ".txt", ".yaml", ".yml", ".json", ".sh", ""}


def tracked_text_files() -> list[Path]:
    """Tracked files with a text suffix (or the Makefile and friends, which have none)."""
    try:
        out = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        names = out.splitlines()
    except (OSError, subprocess.CalledProcessError):  # an exported tree with no .git
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if ".venv" not in p.parts]
    paths = [ROOT / name for name in names]
    return [p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES]


def conflicted(path: Path) -> list[int]:
    """Line numbers of merge-conflict markers in a file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [text.count("\n", 0, m.start()) + 1 for m in MARKER.finditer(text)]


def test_marker_pattern_finds_a_conflict(tmp_path: Path) -> None:
    sample = tmp_path / "x.md"
    sample.write_text("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> branch\n")
    assert conflicted(sample) == [2, 4, 6]


def test_no_merge_conflict_markers_in_tracked_files() -> None:
    files = tracked_text_files()
    assert len(files) > 50  # the walk found the repository
    found = {str(p.relative_to(ROOT)): lines for p in files if (lines := conflicted(p))}
    assert not found, f"unresolved merge conflicts (file: lines): {found}"
