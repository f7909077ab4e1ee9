"""Polite HTTP for the live sources: one client per source, a fixed gap between requests, a
descriptive User-Agent, retries with exponential backoff on 429, 5xx and timeouts, and a
wall-clock deadline per request (the read timeout alone restarts with every byte, so a server
that drips its answer could stall a refresh for hours)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from hierograph.settings import Settings

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class SourceError(RuntimeError):
    """A source could not be read; the message says which URL failed and what to check."""


class Retryable(Exception):
    """A response or condition worth another try (429, 5xx, an empty page before the end)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class DeadlineExceeded(Retryable):
    """An answer that took longer than `http_deadline_seconds` from request to last byte."""


class _WaitRetryAfter:
    """The server's Retry-After when it sent one, else exponential backoff; both capped."""

    def __init__(self, base: float, cap: float) -> None:
        self.cap = cap
        self.backoff = wait_exponential(multiplier=base, max=cap)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return self.backoff(state)


class PoliteClient:
    """GETs with at least `delay` seconds between the starts of consecutive requests (retries
    included), so a source's rate limit holds whatever the caller does."""

    def __init__(self, settings: Settings, delay: float, name: str) -> None:
        self.settings = settings
        self.delay = delay
        self.name = name
        self._last_start: float | None = None
        self._client = httpx.Client(
            headers={"User-Agent": settings.http_user_agent},
            timeout=settings.http_timeout_seconds,
            follow_redirects=True,
        )

    def _pace(self) -> None:
        if self._last_start is not None:
            gap = self.delay - (time.monotonic() - self._last_start)
            if gap > 0:
                time.sleep(gap)
        self._last_start = time.monotonic()

    def retrying(self) -> Retrying:
        s = self.settings
        return Retrying(
            # TimeoutException is a TransportError: timeouts and dropped connections retry alike.
            retry=retry_if_exception_type((Retryable, httpx.TransportError)),
            wait=_WaitRetryAfter(s.http_backoff_seconds, s.http_max_backoff_seconds),
            stop=stop_after_attempt(s.http_max_attempts),
            reraise=True,
        )

    def get_once(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """One paced GET, read within the deadline; 429, 5xx and a missed deadline raise
        Retryable, other errors SourceError."""
        self._pace()
        limit = self.settings.http_deadline_seconds
        deadline = time.monotonic() + limit
        with self._client.stream("GET", url, params=params) as streamed:
            if streamed.status_code in RETRY_STATUS:
                raise Retryable(
                    f"{self.name} answered {streamed.status_code}",
                    retry_after_seconds(streamed.headers.get("Retry-After")),
                )
            raw = bytearray()
            for chunk in streamed.iter_raw():
                raw += chunk
                if time.monotonic() > deadline:
                    raise DeadlineExceeded(
                        f"{self.name} took longer than {limit:g} s to answer "
                        f"({len(raw)} bytes so far; http_deadline_seconds)"
                    )
        # A complete response built from the raw bytes, decoded (gzip etc.) once on access.
        return httpx.Response(
            streamed.status_code,
            headers=streamed.headers,
            content=bytes(raw),
            request=streamed.request,
        )

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """A GET retried on 429/5xx/timeouts; raises SourceError once the tries are spent."""
        try:
            for attempt in self.retrying():
                with attempt:
                    return self.get_once(url, params)
        except (Retryable, httpx.HTTPError) as e:
            raise SourceError(
                f"{self.name} at {url} failed after {self.settings.http_max_attempts} tries "
                f"({e}); check the network and the URL setting, or try again later."
            ) from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
