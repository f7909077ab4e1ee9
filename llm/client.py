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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel


# litellm fetches a price list from the internet at import unless told to use its bundled copy;
# this machine (and many deployments) cannot reach it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Messages = list[dict[str, str]]
MockResponder = Callable[[Messages], str]
# How JSON answers are requested: "schema" sends response_format {"type": "json_object",
# "schema": <the answer's JSON schema>} (llama.cpp servers constrain generation with it; they
# answer HTTP 500 to {"type": "json_schema", ...}), "json_object" the plain JSON mode (hosted
# providers that reject the extra key), "off" nothing (a provider without a JSON mode).
JsonMode = Literal["schema", "json_object", "off"]


class LlmError(RuntimeError):
    """The provider failed (no key, network, quota); callers fall back to keyword labels."""


def describe_error(e: BaseException) -> str:
    """A provider error as one short line: its kind and the first line of its message, without
    litellm's provider prefixes."""
    text = (str(e).strip().splitlines() or [""])[0]
    text = re.sub(r"^(litellm\.\w+:\s*)+", "", text)
    text = re.sub(r"^(\w+Error:\s*)+", "", text)
    return f"{type(e).__name__}: {text[:200]}".rstrip(": ")


@dataclass
class LlmUsage:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0  # wall time of the provider calls (cache hits excluded)
    first_asks: int = 0  # conversations asked for the first time (ask_until_valid)
    first_valid: int = 0  # ... whose first answer was valid
    last_error: str | None = None  # the last provider error, one line

    def summary(self) -> str:
        line = (
            f"LLM: {self.calls} calls, {self.cache_hits} cache hits, {self.failures} failures, "
            f"{self.prompt_tokens + self.completion_tokens} tokens, ~${self.cost_usd:.4f}"
        )
        if self.first_asks:
            line += f", {self.first_valid}/{self.first_asks} valid on the first try"
        return line


def unreachable_note(client: LlmClient | None) -> str | None:
    """One line when the client got no answer at all (no server, no key, no network): what
    could not be reached, why, and what the build kept; None when it answered or was unused."""
    if client is None or client.usage.calls or client.usage.cache_hits:
        return None
    if not client.usage.failures:
        return None
    where = f" at {client.api_base}" if client.api_base else ""
    return (
        f"LLM {client.model}{where} could not be reached ({client.usage.last_error}); the "
        "build kept its labels made without an LLM. Check the model name, llm_api_base and key."
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
    it sees the messages, so answers can depend on the prompt. `api_base` and `api_key` go to
    litellm as given (an Ollama, vLLM or llama.cpp server, a hosted provider's gateway); left
    None, litellm reads its own environment variables (OPENAI_API_KEY, ...)."""

    def __init__(
        self,
        model: str,
        cache_path: Path | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        mock: MockResponder | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        json_mode: JsonMode = "schema",
        max_tokens: int | None = 1024,
        retry_temperature: float = 0.7,
    ) -> None:
        self.model = model
        self.cache_path = cache_path
        self.concurrency = concurrency
        self.timeout = timeout
        self.mock = mock
        self.api_base = api_base
        self.api_key = api_key
        self.json_mode = json_mode
        # A bound on each answer: under a JSON grammar a small model can loop inside a string
        # or an array (2,206 tokens, 14 minutes for one topic label on a 2-core CPU).
        self.max_tokens = max_tokens
        # First asks are greedy (temperature 0: reproducible, cacheable). A re-ask (the
        # conversation holds the model's own invalid answer) samples: at temperature 0 the
        # 0.5B model returned the same invalid answer word for word, whatever the error said.
        self.retry_temperature = retry_temperature
        self.usage = LlmUsage()
        self._cache = ResponseCache(cache_path) if cache_path else None
        self._semaphore: asyncio.Semaphore | None = None

    def response_format(self, schema: type[BaseModel] | None) -> dict[str, Any] | None:
        """What to send as response_format for an answer of this shape (see JsonMode)."""
        if schema is None or self.json_mode == "off":
            return None
        if self.json_mode == "json_object":
            return {"type": "json_object"}
        return {"type": "json_object", "schema": schema.model_json_schema()}

    async def complete(self, messages: Messages, schema: type[BaseModel] | None = None) -> str:
        """The model's answer to `messages`; with `schema`, a JSON answer of that shape is
        requested (the caller still validates it)."""
        key = ResponseCache.key(self.model, messages)
        if self._cache and (hit := self._cache.get(key)) is not None:
            self.usage.cache_hits += 1
            return hit
        import litellm

        from hierograph.noise import tame_litellm

        tame_litellm(litellm)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        extra: dict[str, Any] = {"mock_response": self.mock(messages)} if self.mock else {}
        if (response_format := self.response_format(schema)) is not None:
            extra["response_format"] = response_format
        if self.api_base:
            extra["api_base"] = self.api_base
        if self.api_key:
            extra["api_key"] = self.api_key
        if self.max_tokens:
            extra["max_tokens"] = self.max_tokens
        async with self._semaphore:
            started = time.perf_counter()
            try:
                response = await litellm.acompletion(
                    model=self.model,
                    messages=messages,
                    temperature=self.retry_temperature
                    if any(m["role"] == "assistant" for m in messages)
                    else 0,
                    timeout=self.timeout,
                    # A provider without response_format gets the request without it.
                    drop_params=True,
                    **extra,
                )
            except Exception as e:  # any provider error: the caller falls back, never crashes
                self.usage.failures += 1
                self.usage.last_error = describe_error(e)
                raise LlmError(f"{self.model}: {self.usage.last_error}") from e
            finally:
                self.usage.seconds += time.perf_counter() - started
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

    def run_all(
        self, conversations: Sequence[Messages], schema: type[BaseModel] | None = None
    ) -> list[str | LlmError]:
        """Complete many prompts concurrently (bounded); failures come back as LlmError."""

        async def gather() -> list[str | LlmError]:
            self._semaphore = asyncio.Semaphore(self.concurrency)
            results = await asyncio.gather(
                *(self.complete(m, schema) for m in conversations), return_exceptions=True
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


_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
# A field that repeats a prompt's description ("<one sentence>") instead of filling it in.
_PLACEHOLDER = re.compile(r"^\s*<[^<>]{1,80}>\s*$")


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a model's answer: inside a markdown fence when there is one,
    else the first `{` that starts a decodable object (prose around it is ignored). Raw
    newlines and tabs inside strings are accepted (strict=False): small models write them."""
    decoder = json.JSONDecoder(strict=False)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        for start in (m.start() for m in re.finditer(r"\{", candidate)):
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError as e:
                error = error or e
                continue
            if isinstance(value, dict):
                return value
    if error is not None:
        raise ValueError(f"invalid JSON: {error.msg}")
    raise ValueError("no JSON object in the answer")


def _placeholders(value: object, path: str = "") -> list[str]:
    """Fields whose value is a copied placeholder such as "<one sentence>"."""
    if isinstance(value, str):
        return [path or "answer"] if _PLACEHOLDER.match(value) else []
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _placeholders(v, f"{path}.{k}".strip("."))]
    if isinstance(value, list):
        return [f for v in value for f in _placeholders(v, path)]
    return []


def parse_json_answer(text: str, model: type[M]) -> M:
    """The JSON object in a model's answer, validated; ValueError says what is wrong, in words
    meant for the re-ask."""
    from pydantic import ValidationError

    data = extract_json_object(text)
    if copied := _placeholders(data):
        raise ValueError(
            f"{', '.join(dict.fromkeys(copied))}: write the actual content, not a placeholder "
            "in angle brackets"
        )
    try:
        return model.model_validate(data)
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
    schema: type[BaseModel] | Callable[[K], type[BaseModel]] | None = None,
) -> Asked[K, T]:
    """Every conversation answered and `parse`d (it raises ValueError, pydantic's
    ValidationError included, on an invalid answer); an invalid answer is re-asked with the
    error, up to `max_attempts` asks and `budget` conversations sent in all. A provider error
    is not re-asked: the key goes unanswered, and a round of nothing but errors ends it all.
    `schema` (one model, or one per key) is the answer's shape, requested as JSON mode."""
    from pydantic import BaseModel

    def shape(key: K) -> type[BaseModel] | None:
        if schema is None or (isinstance(schema, type) and issubclass(schema, BaseModel)):
            return schema
        return schema(key)

    result: Asked[K, T] = Asked(answers={}, unanswered={})
    pending = dict(conversations)
    asked = dict.fromkeys(pending, 0)
    last_error: dict[K, str] = {}
    for _ in range(max_attempts):
        room = len(pending) if budget is None else budget - result.calls
        if not pending or room <= 0 or result.provider_down:
            break
        keys = list(pending)[:room]
        replies: dict[K, str | LlmError] = {}
        for kind in dict.fromkeys(shape(k) for k in keys):  # one batch per answer shape
            same = [k for k in keys if shape(k) is kind]
            replies.update(zip(same, client.run_all([pending[k] for k in same], kind), strict=True))
        result.calls += len(keys)
        result.provider_down = all(isinstance(r, LlmError) for r in replies.values())
        for key in keys:
            reply = replies[key]
            asked[key] += 1
            first = asked[key] == 1
            conversation = pending.pop(key)
            if isinstance(reply, LlmError):
                result.unanswered[key] = f"LLM error: {reply}"
                continue
            client.usage.first_asks += first
            try:
                result.answers[key] = parse(key, reply)
                client.usage.first_valid += first
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
