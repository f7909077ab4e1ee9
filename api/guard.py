"""What the REST service does before a route runs: a body limit enforced while the body
streams in (Content-Length alone misses chunked uploads), credentials kept out of the request
log, and the uvicorn settings that decide which client address the limits and the log see."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hierograph.settings import Settings

# Query parameters that carry credentials by name; their values never reach api.log.
_SECRET_PARAM = re.compile(r"(api[-_]?key|key|token|secret|password|passwd|auth)", re.I)
REDACTED = "REDACTED"


class BodyTooLarge(HTTPException):
    """A request body past `api_max_body_bytes`; answered 422 `too_large`."""

    def __init__(self, limit: int) -> None:
        super().__init__(422, f"request body is larger than the limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: counts the body's bytes as they arrive and stops reading at `limit`,
    so a chunked or lying upload is refused after `limit` bytes, not after all of them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def loggable_target(path: str, query: str, secrets: tuple[str, ...] = ()) -> str:
    """The request target for the log: values of credential-like parameters, and any value
    equal to a configured secret, replaced by REDACTED."""
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    cleaned = [
        (k, REDACTED if _SECRET_PARAM.search(k) or (v and v in secrets) else v) for k, v in pairs
    ]
    return f"{path}?{urlencode(cleaned)}"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Proxy headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the proxies
    `api_trusted_proxies` names; with none, the peer address is the client, whatever a request
    claims, so neither the rate limiter nor api.log can be spoofed."""
    trusted = settings.api_trusted_proxies
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted)}
