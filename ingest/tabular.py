"""JSONL and CSV records (the shape of arXiv listing exports)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hierograph.ingest.reading import decoded_lines
from hierograph.ingest.records import Parsed, RecordError, paper_from_fields
from hierograph.ingest.rejects import Reject


def _add(parsed: Parsed, path: Path, number: int, fields: object, excerpt: str) -> None:
    if not isinstance(fields, dict):
        parsed.rejects.append(Reject(str(path), number, "record is not a JSON object", excerpt))
        return
    try:
        parsed.papers.append((number, paper_from_fields(fields, source=path.suffix.lstrip("."))))
    except (RecordError, ValueError) as err:  # pydantic's ValidationError is a ValueError
        parsed.rejects.append(Reject(str(path), number, str(err), excerpt))
    except Exception as err:  # noqa: BLE001 - one odd record must not cost the others
        reason = f"unreadable record ({type(err).__name__}: {err})"
        parsed.rejects.append(Reject(str(path), number, reason, excerpt))


def parse_jsonl(path: Path) -> Parsed:
    parsed = Parsed()
    for number, text in decoded_lines(path):
        if text is None:
            parsed.rejects.append(Reject(str(path), number, "unreadable encoding (not UTF-8)"))
            continue
        if not text.strip():
            continue
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as err:
            parsed.rejects.append(Reject(str(path), number, f"broken JSON: {err.msg}", text[:200]))
            continue
        except RecursionError:
            reason = "JSON nested too deeply to read (a record is a flat object)"
            parsed.rejects.append(Reject(str(path), number, reason, text[:200]))
            continue
        except ValueError as err:  # e.g. an integer of more than 4,300 digits
            parsed.rejects.append(Reject(str(path), number, f"unreadable JSON: {err}", text[:200]))
            continue
        _add(parsed, path, number, fields, text[:200])
    return parsed


def parse_csv(path: Path) -> Parsed:
    parsed = Parsed()
    good_lines: list[str] = []
    for number, text in decoded_lines(path):
        if text is None:
            parsed.rejects.append(Reject(str(path), number, "unreadable encoding (not UTF-8)"))
            text = ""  # keeps csv's line count aligned with the file's
        good_lines.append(text + "\n")
    reader = csv.DictReader(good_lines)
    _ = reader.fieldnames  # reads the header now, so line_num counts it
    start = reader.line_num + 1
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                parsed.rejects.append(
                    Reject(str(path), start, "more fields than the header has", str(row)[:200])
                )
            else:
                _add(parsed, path, start, row, ",".join(str(v) for v in row.values())[:200])
            start = reader.line_num + 1
    except csv.Error as err:
        parsed.rejects.append(Reject(str(path), reader.line_num, f"broken CSV: {err}"))
    return parsed
