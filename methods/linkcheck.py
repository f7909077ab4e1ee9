"""`hierograph links check`: visit every repository URL and record whether it still answers.

HEAD first (cheap); hosts that refuse HEAD get a GET whose body is never read. Requests run
concurrently up to a bound, and timeouts, 429 and 5xx answers are retried with backoff.

Only the server itself can say a link is dead: 404 or 410 is `ok=False`. A link that cannot be
reached (DNS, connection, timeout) or answers with another error is unknown (`ok=None`): an
offline run marks nothing dead and keeps what an earlier answer showed, and a later success
clears a dead mark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from hierograph.graph.method_models import Repository
from hierograph.graph.models import utc_now
from hierograph.graph.store import GraphStore

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
# Some hosts answer HEAD with these although GET works.
_HEAD_REFUSED = {403, 405, 501}
# The answers that say the repository is gone; every other failure says nothing about it.
DEAD_STATUS = frozenset({404, 410})


def verdict(status: int) -> bool | None:
    """ok for a final HTTP status: True below 400, False for 404/410, None (unknown) else."""
    if status < 400:
        return True
    return False if status in DEAD_STATUS else None


@dataclass(frozen=True)
class LinkCheckReport:
    checked: list[Repository]

    @property
    def dead(self) -> list[Repository]:
        """Links the server said are gone (404/410) at this check."""
        return [r for r in self.checked if r.ok is False and not r.error]

    @property
    def unknown(self) -> list[Repository]:
        """Links that could not be checked this time (unreachable, 5xx, 403 ...)."""
        return [r for r in self.checked if r.error or (r.ok is None)]


class LinkChecker:
    def __init__(
        self,
        concurrency: int = 8,
        attempts: int = 3,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 15.0,
        user_agent: str = "Hierograph link check",
    ) -> None:
        self.concurrency = concurrency
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.user_agent = user_agent

    def check(
        self, urls: Sequence[str], on_done: Callable[[Repository], None] | None = None
    ) -> list[Repository]:
        return asyncio.run(self._check_all(urls, on_done))

    async def _check_all(
        self, urls: Sequence[str], on_done: Callable[[Repository], None] | None
    ) -> list[Repository]:
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            follow_redirects=True,
            timeout=self.timeout_seconds,
            headers={"User-Agent": self.user_agent},
        ) as client:

            async def one(url: str) -> Repository:
                async with gate:
                    result = await self._check_one(client, url)
                if on_done:
                    on_done(result)
                return result

            return list(await asyncio.gather(*(one(u) for u in urls)))

    async def _check_one(self, client: httpx.AsyncClient, url: str) -> Repository:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=60),
            retry=retry_if_exception_type(httpx.TransportError)
            | retry_if_result(lambda status: status in _RETRY_STATUS),
            retry_error_callback=_last_outcome,
        )
        try:
            status = await retrying(self._status, client, url)
        except httpx.HTTPError as e:
            return Repository(
                url=url, ok=None, checked_at=utc_now(), error=f"{type(e).__name__}: {e}"
            )
        ok = verdict(status)
        error = None if ok is not None else f"HTTP {status}: no verdict"
        return Repository(url=url, status=status, ok=ok, checked_at=utc_now(), error=error)

    async def _status(self, client: httpx.AsyncClient, url: str) -> int:
        response = await client.head(url)
        if response.status_code in _HEAD_REFUSED:
            async with client.stream("GET", url) as streamed:
                return streamed.status_code
        return response.status_code


def _last_outcome(state: RetryCallState) -> int:
    """After the last try: a status still worth retrying (e.g. 503) is the answer; an
    exception propagates and is recorded as the link's error."""
    assert state.outcome is not None
    if state.outcome.failed:
        raise state.outcome.exception()  # type: ignore[misc]
    return state.outcome.result()


def urls_to_check(store: GraphStore) -> list[str]:
    """Every Repository linked from a paper and every URL the method registry cites."""
    urls = {r.url for r in store.repositories()}
    urls |= {i.url for m in store.methods() for i in m.implementations}
    return sorted(u for u in urls if u.startswith(("http://", "https://")))


def _with_history(result: Repository, before: Repository | None) -> Repository:
    """An unknown result keeps the verdict of the last real answer (ok, and its status); an
    old mark without a status (an unreachable link once counted as dead) is cleared."""
    if result.ok is not None:
        return result
    if before is None or before.ok is None or before.status is None:
        return result
    if verdict(before.status) is None:
        return result
    return result.model_copy(update={"ok": before.ok, "status": before.status})


def check_links(
    store: GraphStore,
    checker: LinkChecker,
    on_done: Callable[[Repository], None] | None = None,
) -> LinkCheckReport:
    before = {r.url: r for r in store.repositories()}
    results = [
        _with_history(r, before.get(r.url)) for r in checker.check(urls_to_check(store), on_done)
    ]
    store.record_link_checks(results)
    return LinkCheckReport(checked=sorted(results, key=lambda r: r.url))
