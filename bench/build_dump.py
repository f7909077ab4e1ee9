"""What a build wrote, as one JSON file without timestamps, to check that two versions of the
code build the same thing from the same input (a refactor that must not change output).

    python bench/build_dump.py --home HOME --out A.json      # after `hierograph build`
    python bench/build_dump.py --compare A.json B.json       # exit 1 and list what differs

The dump holds the topics (ids, parents, levels, sizes, labels, summaries, keywords), every
paper→topic assignment with its score and origin, facets, method, topic→method and code links,
the stored embeddings' hash and the paper map's coordinates (rounded to 1e-5).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any


def dump(home: Path) -> dict[str, Any]:
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.settings import load_settings

    settings = load_settings(home=home)
    with SqliteStore(settings.db_path()) as store:
        vectors = store.get_embeddings()
        digest = hashlib.sha256()
        for pid in sorted(vectors):
            digest.update(pid.encode() + vectors[pid].tobytes())
        return {
            "papers": store.paper_count(),
            "topics": [t.model_dump(exclude={"built_at"}) for t in store.topics()],
            "assignments": [
                a.model_dump(exclude={"at"})
                for a in sorted(store.assignments(), key=lambda a: (a.paper_id, a.topic_id))
            ],
            "facets": [f.model_dump() for f in store.facets()],
            "method_links": [m.model_dump() for m in store.method_links()],
            "topic_methods": [m.model_dump() for m in store.topic_methods()],
            "code_links": [c.model_dump() for c in store.code_links()],
            "embeddings_sha256": digest.hexdigest(),
            "layout": {k: [round(x, 5), round(y, 5)] for k, (x, y) in store.layout().items()},
        }


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The parts that differ, with the first differing entry of each."""
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        left, right = a.get(key), b.get(key)
        if isinstance(left, list) and isinstance(right, list):
            first = next(
                (i for i, (x, y) in enumerate(zip(left, right, strict=False)) if x != y),
                min(len(left), len(right)),
            )
            out.append(
                f"{key}: {len(left)} vs {len(right)} entries; first difference at {first}: "
                f"{left[first] if first < len(left) else '-'} vs "
                f"{right[first] if first < len(right) else '-'}"
            )
        else:
            out.append(f"{key}: differs")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--home", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        diffs = compare(a, b)
        for line in diffs:
            print(line)
        print("same build" if not diffs else f"{len(diffs)} parts differ")
        sys.exit(1 if diffs else 0)
    if args.home is None or args.out is None:
        ap.error("--home and --out, or --compare A B")
    args.out.write_text(json.dumps(dump(args.home), indent=1, sort_keys=True))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
