"""Make a gold file for `hierograph corrector eval` from the shared arXiv corpus: each paper's
expert category path is its arXiv primary category (the first of `categories`) under its archive,
e.g. ["cs", "cs.CL"]. Also writes the same papers as a JSONL corpus to ingest, so the tree and the
gold labels cover the same records.

    python bench/make_gold.py [--corpus FILE] [--limit 2500] [--out-dir bench/out]

The corpus is already shuffled, so the first N records are a fair sample; records without a
category are skipped (they have no gold label).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

CORPUS = Path("/work/shared/corpus/arxiv-ai-2025.jsonl")
OUT_DIR = Path(__file__).resolve().parent / "out"


def gold_line(record: dict) -> dict | None:
    categories = record.get("categories") or []
    if not categories or not record.get("title"):
        return None
    primary = str(categories[0])
    archive = primary.split(".")[0]
    return {
        "arxiv_id": record["arxiv_id"],
        "title": record["title"],
        "category_path": [archive, primary],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=2500)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    gold_path = args.out_dir / f"gold-{args.limit}.jsonl"
    corpus_path = args.out_dir / f"corpus-{args.limit}.jsonl"
    counts: Counter[str] = Counter()
    written = 0
    with (
        args.corpus.open(encoding="utf-8") as src,
        gold_path.open("w", encoding="utf-8") as gold,
        corpus_path.open("w", encoding="utf-8") as corpus,
    ):
        for line in src:
            if written >= args.limit:
                break
            record = json.loads(line)
            label = gold_line(record)
            if label is None:
                continue
            gold.write(json.dumps(label, ensure_ascii=False) + "\n")
            corpus.write(json.dumps(record, ensure_ascii=False) + "\n")
            counts[label["category_path"][-1]] += 1
            written += 1
    top = ", ".join(f"{c} {n}" for c, n in counts.most_common(6))
    print(f"{written} gold lines -> {gold_path} (corpus: {corpus_path}); top categories: {top}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
