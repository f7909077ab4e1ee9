"""Make a realistic find set: descriptions of papers as a researcher would give them from memory
(no title, no system names or acronyms, paraphrased), written by a local instruct model.

A fixed-seed sample of the corpus is described one paper at a time through litellm against an
OpenAI-compatible server (bench/llm/serve.sh or /work/llm-setup/serve.sh). The model is not
shown the abstract's sentences: a 0.5B model copies them (prompt v1, which did, kept 2 of 36
papers). It sees the title without its system name and acronyms, and the abstract's ten most
distinctive words (TF-IDF, each used by at least three papers so none is a name) in alphabetical
order, so any sentence it writes is its own, as a researcher's recollection would be. An answer
is refused when it shares any four consecutive words with the paper's title or abstract, or
carries an acronym or a system name (a token with two or more capitals, or a capitalised title
word that is not a common word of the corpus); a refused paper is asked once more at temperature
0.7 and is dropped if that answer is refused too. Every paper asked goes to a ledger (kept or
dropped, the reasons, seconds per call), so a restart resumes where the last run stopped, and
the kept pairs go to the output file as they come:

    python bench/make_realistic_find_set.py --corpus ../shared/corpus/arxiv-ai-2025.jsonl \
        --api-base http://127.0.0.1:8091/v1 --model openai/qwen2.5-coder-0.5b-instruct-q4_k_m
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

from hierograph.graph.ids import arxiv_id_of, paper_id

PROMPT_VERSION = "realistic-v2"
SYSTEM = "You recall research papers from memory in plain words."
ASK = "Describe it in two short sentences without its title, names or acronyms."
# One worked example: a 0.5B model copies the abstract unless it is shown what a paraphrase is.
EXAMPLE_USER = (
    "Title: Attention Is All You Need\nKey words: attention, convolutional, machine, "
    f"mechanisms, quality, recurrence, recurrent, sequence, transduction, translation\n\n{ASK}"
)
EXAMPLE_ANSWER = json.dumps(
    {
        "description": "A sequence model for translation that drops recurrence and convolutions "
        "and relies only on attention between tokens. It trains faster and translates better "
        "than the older recurrent networks."
    }
)
SCHEMA = {
    "type": "object",
    "properties": {"description": {"type": "string", "maxLength": 320}},
    "required": ["description"],
}
STOP = set(
    """
    a an the of for and or in on to with via by from at as is are be into using towards
    toward through their its our we this that these those can how what why when do does not
    beyond under over about your you it new more than which such both also while based has
    have been show shows paper propose proposed approach method results
    """.split()  # noqa: SIM905 (a word list, easier to read than 70 quoted strings)
)


def words(text: str) -> list[str]:
    """Lower-case word tokens, the unit of the four-word overlap check."""
    return re.findall(r"[a-z0-9][a-z0-9\-]*", text.lower())


def shares_four_words(description: str, source: str) -> bool:
    """True when any four consecutive words of the description occur in the source."""
    d, s = words(description), f" {' '.join(words(source))} "
    return any(f" {' '.join(d[i : i + 4])} " in s for i in range(len(d) - 3))


def reject_reasons(description: str, record: dict, common: set[str]) -> list[str]:
    """Why an answer is not a from-memory description of this paper (empty when it is)."""
    reasons = []
    if len(words(description)) < 8:
        reasons.append("too short")
    if shares_four_words(description, record["abstract"]):
        reasons.append("4-word overlap with abstract")
    if shares_four_words(description, record["title"]):
        reasons.append("4-word overlap with title")
    tokens = re.findall(r"[\w\-]+", description)
    if any(sum(ch.isupper() for ch in t) >= 2 for t in tokens):
        reasons.append("acronym or system name")
    title_names = {
        t
        for t in re.findall(r"[\w\-]+", record["title"])
        if t[:1].isupper() and t.lower() not in common
    }
    if title_names & set(tokens):
        reasons.append("title name")
    return reasons


def plain_title(title: str) -> str:
    """The title without a leading system name ("DeAL: ...") and acronym or digit tokens."""
    head, sep, rest = title.partition(":")
    if sep and len(head.split()) <= 3:
        title = rest
    kept = [
        t for t in title.split() if not re.search(r"\d", t) and sum(ch.isupper() for ch in t) < 2
    ]
    return " ".join(kept).strip(" -:,")


def key_words(record: dict, idf: dict[str, float], max_idf: float, n: int = 10) -> list[str]:
    """The abstract's n most distinctive words (TF-IDF), none rarer than max_idf, sorted."""
    counts = Counter(
        w
        for w in re.findall(r"[a-z][a-z\-]+", record["abstract"].lower())
        if w not in STOP and len(w) > 3 and not w.endswith("-") and idf.get(w, 99) <= max_idf
    )
    return sorted(sorted(counts, key=lambda w: (-counts[w] * idf.get(w, 0.0), w))[:n])


def ask(
    record: dict, keys: list[str], model: str, api_base: str, temperature: float
) -> tuple[str, float]:
    """One call to the model: (description or "" when the answer is not the JSON asked, seconds)."""
    import litellm  # imported here: the module's helpers are used without an LLM

    title = plain_title(record["title"])
    prompt = f"Title: {title}\nKey words: {', '.join(keys)}\n\n{ASK}"
    start = time.perf_counter()
    response = litellm.completion(
        model=model,
        api_base=api_base,
        api_key="sk-local",
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": EXAMPLE_USER},
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": prompt},
        ],
        response_format={"type": "json_object", "schema": SCHEMA},
        max_tokens=90,
        temperature=temperature,
    )
    seconds = time.perf_counter() - start
    try:
        text = json.loads(response.choices[0].message.content or "")["description"]
    except (ValueError, KeyError, TypeError):
        return "", seconds  # cut off at max_tokens or not the JSON asked: a refusal
    return " ".join(str(text).split()), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("bench/data/find-realistic.jsonl"))
    ap.add_argument("--ledger", type=Path, default=Path("bench/data/find-realistic.ledger.jsonl"))
    ap.add_argument("--api-base", default="http://127.0.0.1:8091/v1")
    ap.add_argument("--model", default="openai/qwen2.5-coder-0.5b-instruct-q4_k_m")
    ap.add_argument("--n", type=int, default=340, help="papers in the sample")
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    records = [json.loads(line) for line in args.corpus.open(encoding="utf-8") if line.strip()]
    records = [r for r in records if r.get("title") and r.get("abstract")]
    df = Counter(w for r in records for w in set(words(f"{r['title']} {r['abstract']}")))
    common = {w for w, c in df.items() if c >= 50}  # a word in 50+ papers names nothing
    idf = {w: math.log(len(records) / c) for w, c in df.items()}
    max_idf = math.log(len(records) / 3)  # key words occur in at least 3 papers
    sample = random.Random(args.seed).sample(records, args.n)
    done = set()
    if args.ledger.exists():
        done = {json.loads(line)["paper_id"] for line in args.ledger.open() if line.strip()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for i, record in enumerate(sample):
        pid = paper_id(arxiv_id_of(record.get("arxiv_id") or record.get("id")), record["title"])
        if pid in done:
            continue
        attempts = []
        for temperature in (0.0, 0.7):
            keys = key_words(record, idf, max_idf)
            text, seconds = ask(record, keys, args.model, args.api_base, temperature)
            reasons = reject_reasons(text, record, common) if text else ["not the JSON asked"]
            attempts.append(
                {
                    "temperature": temperature,
                    "seconds": round(seconds, 2),
                    "reasons": reasons,
                    "text": text,
                }
            )
            if not reasons:
                break
        kept = not attempts[-1]["reasons"]
        if kept:
            with args.out.open("a", encoding="utf-8") as f:
                row = {
                    "paper_id": pid,
                    "arxiv_id": record.get("arxiv_id"),
                    "description": attempts[-1]["text"],
                    "title": record["title"],
                    "model": args.model,
                    "prompt_version": PROMPT_VERSION,
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with args.ledger.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"paper_id": pid, "kept": kept, "attempts": attempts}) + "\n")
        print(
            f"{i + 1}/{len(sample)} {'kept' if kept else 'dropped'} "
            f"{sum(a['seconds'] for a in attempts):.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
