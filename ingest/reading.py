"""Reading source files line by line, so an undecodable line is rejected, not the whole file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def decoded_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(1-based line number, text without line end) per physical line; text is None when the
    line is not valid UTF-8. CRLF and CR line ends are handled; a UTF-8 BOM is dropped."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
