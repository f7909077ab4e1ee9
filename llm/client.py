"""Calling an LLM through litellm: any provider by model string, a response cache on disk,
bounded concurrency, and a running account of calls, tokens and cost."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel


# litellm fetches a price list from the internet at import unless told to use its bundled copy;
# this machine (and many deployments) cannot reach it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Messages = list[dict[str, str]]
MockResponder = Callable[[Messages], str]


class LlmError(RuntimeError):
    """The provider failed (no key, network, quota); callers fall back to keyword labels."""


@dataclass
class LlmUsage:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def summary(self) -> str:
        return (
            f"LLM: {self.calls} calls, {self.cache_hits} cache hits, {self.failures} failures, "
            f"{self.prompt_tokens + self.completion_tokens} tokens, ~${self.cost_usd:.4f}"
        )


class ResponseCache:
    """Responses keyed by model and prompt: a rebuild over the same tree costs nothing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT)")

    @staticmethod
    def key(model: str, messages: Messages) -> str:
        return hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT text FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, text))

    def close(self) -> None:
        self._db.close()


class LlmClient:
    """`mock` answers instead of a provider, through litellm's own `mock_response` (tests);
    it sees the messages, so answers can depend on the prompt."""

    def __init__(
        self,
        model: str,
        cache_path: Path | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        mock: MockResponder | None = None,
    ) -> None:
        self.model = model
        self.cache_path = cache_path
        self.concurrency = concurrency
        self.timeout = timeout
        self.mock = mock
        self.usage = LlmUsage()
        self._cache = ResponseCache(cache_path) if cache_path else None
        self._semaphore: asyncio.Semaphore | None = None

    async def complete(self, messages: Messages) -> str:
        key = ResponseCache.key(self.model, messages)
        if self._cache and (hit := self._cache.get(key)) is not None:
            self.usage.cache_hits += 1
            return hit
        import litellm

        from hierograph.noise import tame_litellm

        tame_litellm(litellm)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        extra = {"mock_response": self.mock(messages)} if self.mock else {}
        async with self._semaphore:
            try:
                response = await litellm.acompletion(
                    model=self.model,
                    messages=messages,
                    temperature=0,
                    timeout=self.timeout,
                    **extra,
                )
            except Exception as e:  # any provider error: the caller falls back, never crashes
                self.usage.failures += 1
                raise LlmError(f"{self.model}: {type(e).__name__}: {e}".splitlines()[0]) from e
        self.usage.calls += 1
        usage = getattr(response, "usage", None)
        if usage:
            self.usage.prompt_tokens += usage.prompt_tokens or 0
            self.usage.completion_tokens += usage.completion_tokens or 0
        # An unknown price for this model leaves the cost estimate as it was.
        with contextlib.suppress(Exception):
            self.usage.cost_usd += float(litellm.completion_cost(completion_response=response))
        text = response.choices[0].message.content or ""
        if self._cache:
            self._cache.put(key, text)
        return text

    def run_all(self, conversations: Sequence[Messages]) -> list[str | LlmError]:
        """Complete many prompts concurrently (bounded); failures come back as LlmError."""

        async def gather() -> list[str | LlmError]:
            self._semaphore = asyncio.Semaphore(self.concurrency)
            results = await asyncio.gather(
                *(self.complete(m) for m in conversations), return_exceptions=True
            )
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, LlmError):
                    raise r
            return list(results)  # type: ignore[arg-type]

        return asyncio.run(gather())

    def close(self) -> None:
        if self._cache:
            self._cache.close()


M = TypeVar("M", bound="BaseModel")


def _validation_reason(err: dict) -> str:
    """A validation error as the model should read it: which field, what is wrong."""
    msg = str(err["msg"]).removeprefix("Value error, ")
    field = ".".join(str(x) for x in err.get("loc", ()))
    return msg if not field or msg.startswith(field) else f"{field}: {msg}"


def parse_json_answer(text: str, model: type[M]) -> M:
    """The JSON object in a model's answer, validated; ValueError says what is wrong, in words
    meant for the re-ask."""
    from pydantic import ValidationError

    found = re.search(r"\{.*\}", text, re.DOTALL)
    if not found:
        raise ValueError("no JSON object in the answer")
    try:
        return model.model_validate(json.loads(found.group(0)))
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg}") from e
    except ValidationError as e:
        raise ValueError("; ".join(_validation_reason(err) for err in e.errors())) from e


K = TypeVar("K")
T = TypeVar("T")


@dataclass
class Asked(Generic[K, T]):
    """What `ask_until_valid` got: valid answers, why the others have none, and the cost."""

    answers: dict[K, T]
    unanswered: dict[K, str]
    calls: int = 0  # conversations sent (cache hits included)
    provider_down: bool = False  # a whole round failed: no key, no network


def ask_until_valid(
    client: LlmClient,
    conversations: dict[K, Messages],
    parse: Callable[[K, str], T],
    max_attempts: int,
    budget: int | None = None,
) -> Asked[K, T]:
    """Every conversation answered and `parse`d (it raises ValueError, pydantic's
    ValidationError included, on an invalid answer); an invalid answer is re-asked with the
    error, up to `max_attempts` asks and `budget` conversations sent in all. A provider error
    is not re-asked: the key goes unanswered, and a round of nothing but errors ends it all."""
    result: Asked[K, T] = Asked(answers={}, unanswered={})
    pending = dict(conversations)
    asked = dict.fromkeys(pending, 0)
    last_error: dict[K, str] = {}
    for _ in range(max_attempts):
        room = len(pending) if budget is None else budget - result.calls
        if not pending or room <= 0 or result.provider_down:
            break
        keys = list(pending)[:room]
        replies = client.run_all([pending[k] for k in keys])
        result.calls += len(keys)
        result.provider_down = all(isinstance(r, LlmError) for r in replies)
        for key, reply in zip(keys, replies, strict=True):
            asked[key] += 1
            conversation = pending.pop(key)
            if isinstance(reply, LlmError):
                result.unanswered[key] = f"LLM error: {reply}"
                continue
            try:
                result.answers[key] = parse(key, reply)
            except ValueError as e:
                # pydantic's own text spans lines of URLs; its messages are what a model needs.
                errors = getattr(e, "errors", None)
                last_error[key] = "; ".join(x["msg"] for x in errors()) if errors else str(e)
                pending[key] = [
                    *conversation,
                    {"role": "assistant", "content": reply},
                    {
                        "role": "user",
                        "content": f"That answer is invalid: {last_error[key]}. "
                        "Reply with the corrected JSON object only.",
                    },
                ]
    for key in pending:
        cut = f"no valid answer in {max_attempts} attempts"
        if asked[key] < max_attempts:
            cut = "budget spent before a valid answer"
        result.unanswered[key] = cut + (
            f"; the last was invalid: {last_error[key]}" if key in last_error else ""
        )
    return result
