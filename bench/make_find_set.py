"""Make a find-rate development set: (description, target paper id) pairs from an arXiv JSONL
corpus, with descriptions that do not copy the abstract's sentences.

How a description is made (deterministic for a seed):
- the title loses a leading system name ("DeAL: …" → "…"), acronym-like and digit-bearing tokens
  (model and method names such as "GRPO", "GPT-4o"), stop words, and its single rarest word
  (highest inverse document frequency over the corpus: the most identifying keyword);
- up to three distinctive abstract *words* (highest TF-IDF, not in the title, used by at least
  three papers of the corpus so no system name slips in) are added in alphabetical order, never
  a phrase in the abstract's order;
- both go into a fixed template with a generic phrase for the primary arXiv category:
  "A natural language processing paper on <title words>; it involves <w1>, <w2> and <w3>."
A pair is dropped if any four consecutive words of its description occur in the abstract.

    python bench/make_find_set.py --corpus corpus.jsonl --out find-dev.jsonl --n 300
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

from hierograph.graph.ids import arxiv_id_of, paper_id

CATEGORY_PHRASES = {
    "cs.CL": "natural language processing",
    "cs.LG": "machine learning",
    "cs.AI": "artificial intelligence",
    "cs.CV": "computer vision",
    "cs.RO": "robotics",
    "cs.CR": "security",
    "cs.HC": "human-computer interaction",
    "cs.CY": "computers and society",
    "cs.SE": "software engineering",
    "cs.IR": "information retrieval",
    "cs.MA": "multi-agent systems",
    "cs.NE": "neural and evolutionary computing",
    "stat.ML": "statistical machine learning",
}
STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "and",
        "or",
        "in",
        "on",
        "to",
        "with",
        "via",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "be",
        "into",
        "using",
        "towards",
        "toward",
        "through",
        "their",
        "its",
        "our",
        "we",
        "this",
        "that",
        "these",
        "those",
        "can",
        "how",
        "what",
        "why",
        "when",
        "do",
        "does",
        "not",
        "beyond",
        "under",
        "over",
        "about",
        "your",
        "you",
        "it",
        "new",
        "more",
        "than",
    ]
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z\-]+", text.lower())


def title_words(title: str, idf: dict[str, float]) -> list[str]:
    head, sep, rest = title.partition(":")
    if sep and len(head.split()) <= 3:
        title = rest
    kept = []
    for token in re.findall(r"[\w\-]+", title):
        if re.search(r"\d", token) or sum(ch.isupper() for ch in token) >= 2:
            continue  # names of models and methods: exactly what a searcher may not know
        w = token.lower()
        if w not in STOP and len(w) > 2:
            kept.append(w)
    if len(kept) > 2:
        rarest = max(kept, key=lambda w: (idf.get(w, 0.0), w))
        kept = [w for w in kept if w != rarest]
    return list(dict.fromkeys(kept))


def abstract_keywords(
    abstract: str, exclude: set[str], idf: dict[str, float], max_idf: float, n: int = 3
) -> list[str]:
    """Distinctive words of the abstract, but none so rare that it names the paper (a system
    name used by only one or two papers would give the answer away)."""
    counts = Counter(
        w
        for w in words(abstract)
        if w not in STOP and len(w) > 3 and not w.endswith("-") and idf.get(w, 99) <= max_idf
    )
    scored = sorted(counts, key=lambda w: (-counts[w] * idf.get(w, 0.0), w))
    return sorted([w for w in scored if w not in exclude][:n])


def shares_four_words(description: str, abstract: str) -> bool:
    d, a = words(description), " ".join(words(abstract))
    return any(" ".join(d[i : i + 4]) in a for i in range(len(d) - 3))


def describe(record: dict, idf: dict[str, float], max_idf: float) -> str | None:
    tw = title_words(record["title"], idf)
    if len(tw) < 2:
        return None
    title_tokens = {t.lower() for t in re.findall(r"[\w\-]+", record["title"])}
    kws = abstract_keywords(record["abstract"], set(tw) | title_tokens, idf, max_idf)
    cats = record.get("categories") or []
    field = CATEGORY_PHRASES.get(cats[0] if cats else "", "AI")
    article = "An" if field[0] in "aeiou" else "A"
    text = f"{article} {field} paper on {' '.join(tw)}"
    if kws:
        tail = kws[0] if len(kws) == 1 else ", ".join(kws[:-1]) + f" and {kws[-1]}"
        text += f"; it involves {tail}"
    return None if shares_four_words(text, record["abstract"]) else text + "."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="arXiv JSONL (the ingested set)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=300, help="pairs to write")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    records = [json.loads(line) for line in args.corpus.open(encoding="utf-8") if line.strip()]
    records = [r for r in records if r.get("title") and r.get("abstract")]
    df = Counter(w for r in records for w in set(words(f"{r['title']} {r['abstract']}")))
    idf = {w: math.log(len(records) / c) for w, c in df.items()}
    max_idf = math.log(len(records) / 3)  # abstract words must occur in at least 3 papers
    random.Random(args.seed).shuffle(records)
    pairs, dropped = [], 0
    for r in records:
        if len(pairs) >= args.n:
            break
        text = describe(r, idf, max_idf)
        if text is None:
            dropped += 1
            continue
        pid = paper_id(arxiv_id_of(r.get("arxiv_id") or r.get("id")), r["title"])
        pairs.append({"description": text, "paper_id": pid, "title": r["title"]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(f"wrote {len(pairs)} pairs to {args.out} ({dropped} papers skipped)")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
