"""The REST service (FastAPI, OpenAPI 3): thin routes over api/queries.py.

`create_app(settings)` builds the app; the store and the embedding model are opened once, in
the lifespan. Every route but POST /corrections is read-only; that one needs the API key from
settings (HIEROGRAPH_API_KEY) in the X-API-Key header. Errors are JSON
`{"error": {"code", "message"}}`, each client IP has a token bucket, and every request is logged
to `<home>/logs/api.log` (credentials in a query string redacted). Bodies are limited while they
stream in; proxy headers count only from `api_trusted_proxies` (api/guard.py).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and the `Ctx` dependency alias is local to create_app.

import hmac
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from logging.handlers import RotatingFileHandler
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Path, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hierograph.api import queries
from hierograph.api.context import ApiContext, one_thread_per_request, open_context
from hierograph.api.guard import BodyLimit, BodyTooLarge, loggable_target, uvicorn_options
from hierograph.api.models import (
    MAX_CURSOR_CHARS,
    MAX_ID_CHARS,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    CodeAnswer,
    CorrectionRequest,
    CorrectionResponse,
    ErrorResponse,
    FindRequest,
    FindResponse,
    Health,
    MethodDetail,
    PaperDetail,
    SearchPage,
    TopicDetail,
)
from hierograph.api.ratelimit import TokenBuckets
from hierograph.settings import Settings

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_input",
    429: "rate_limited",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse, "description": c} for s, c in _CODES.items() if s in (404, 422, 429)
}
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Needed by POST /corrections."
)


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class GuardAndLog:
    """ASGI middleware, the outermost of ours: the per-client rate limit, the Content-Length
    limit, and one api.log line per request (a request that raises is logged as 500). Plain
    ASGI rather than Starlette's `BaseHTTPMiddleware`, whose extra task and stream per
    request cost about 0.5 ms of a 3-ms request (bench/bench_find_latency.py)."""

    def __init__(
        self, app: ASGIApp, settings: Settings, buckets: TokenBuckets, secrets: tuple[str, ...]
    ) -> None:
        self.app = app
        self.limit = settings.api_max_body_bytes
        self.buckets = buckets
        self.secrets = secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        client = scope["client"][0] if scope.get("client") else "unknown"
        wait = 0.0 if scope["path"] == "/healthz" else self.buckets.take(client)
        length = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), ""
        )
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if wait:
                refusal: Response | None = error_response(
                    429,
                    f"too many requests from {client}; retry in {wait:.1f} s",
                    headers={"Retry-After": str(math.ceil(wait))},
                )
            elif length.isdigit() and int(length) > self.limit:
                refusal = error_response(
                    422,
                    f"request body is {length} bytes; the limit is {self.limit}",
                    code="too_large",
                )
            else:
                refusal = None
            if refusal is not None:
                await refusal(scope, receive, send_noting_status)
            else:
                await self.app(scope, receive, send_noting_status)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            scope["app"].state.log.info(
                "%s %s %s %d %.1fms",
                client,
                scope["method"],
                loggable_target(scope["path"], query, self.secrets),
                status,
                (time.perf_counter() - start) * 1000,
            )


def _request_logger(settings: Settings) -> logging.Logger:
    """A logger of this app's own (not in the global registry), so two apps in one process,
    e.g. tests against two stores, write to their own homes."""
    folder = settings.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    logger = logging.Logger("hierograph.api.requests", logging.INFO)
    handler = RotatingFileHandler(
        folder / "api.log", maxBytes=10_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
        details.append(
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
        )
        parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts[:5]), details


def create_app(settings: Settings, context: ApiContext | None = None) -> FastAPI:
    """The REST app over the configured store (or over `context`, which the caller owns)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.log = _request_logger(settings)
        ctx = context or open_context(settings)
        app.state.ctx = ctx
        try:
            yield
        finally:
            if context is None:
                ctx.close()
            for handler in list(app.state.log.handlers):
                handler.close()

    app = FastAPI(
        title="Hierograph agent API",
        version="1",
        description="Find papers, see where they sit in the topic tree, and get their code.",
        lifespan=lifespan,
    )
    buckets = TokenBuckets(settings.api_rate_per_second, settings.api_rate_burst)
    # Inside the logging middleware below, so a refused body is still logged.
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    secrets = (settings.api_key.get_secret_value(),) if settings.api_key else ()

    app.add_middleware(GuardAndLog, settings=settings, buckets=buckets, secrets=secrets)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette answers an unparsable body with 400; to clients it is invalid input like
        # any other, so it gets the same 422.
        status = 422 if exc.status_code == 400 else exc.status_code
        code = "too_large" if isinstance(exc, BodyTooLarge) else None
        return error_response(status, str(exc.detail), code=code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _validation_message(jsonable_encoder(exc.errors(), exclude={"input"}))
        return error_response(422, message, details=details)

    @app.exception_handler(queries.QueryError)
    async def query_error(request: Request, exc: queries.QueryError) -> JSONResponse:
        return error_response(exc.status, exc.message, code=exc.code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        app.state.log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500, f"internal error ({type(exc).__name__}); see api.log", "internal"
        )

    def ctx(request: Request) -> ApiContext:
        return request.app.state.ctx

    Ctx = Annotated[ApiContext, Depends(ctx)]

    def need_key(key: Annotated[str | None, Security(_api_key)] = None) -> None:
        expected = settings.api_key.get_secret_value() if settings.api_key else ""
        if not expected:
            raise StarletteHTTPException(
                403, "writes are disabled: the server has no API key (set HIEROGRAPH_API_KEY)"
            )
        if not key or not hmac.compare_digest(key.encode(), expected.encode()):
            # Only the header counts: a key in the URL would end up in logs and histories.
            raise StarletteHTTPException(
                401, "missing or wrong API key: send it in the X-API-Key header (never in the URL)"
            )

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz(c: Ctx) -> Health:
        """Liveness and a count of what the store holds."""
        return queries.health(c)

    @app.get("/papers/search", response_model=SearchPage, responses=_ERRORS, tags=["papers"])
    def search(
        c: Ctx,
        q: Annotated[
            str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Search words.")
        ],
        limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE)] = None,
        cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
        published_from: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
        published_to: Annotated[date | None, Query(description="YYYY-MM-DD, inclusive")] = None,
        topic: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description="Topic id: its subtree only.")
        ] = None,
        method: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description="Method id, name or alias.")
        ] = None,
        has_code: Annotated[bool | None, Query(description="Only papers with(out) code.")] = None,
    ) -> SearchPage:
        """Hybrid search (vector + full text, fused by z-score), filtered, paginated."""
        if published_from and published_to and published_from > published_to:
            raise queries.InvalidInput("published_from is after published_to")
        filters = queries.SearchFilters(published_from, published_to, topic, method, has_code)
        return queries.search_papers(c, q, filters, limit or settings.api_page_size, cursor)

    # `:path` ids: old-style arXiv ids (hep-th/9901001) hold a slash, sent as is or as %2F.
    @app.get(
        "/papers/{paper_id:path}", response_model=PaperDetail, responses=_ERRORS, tags=["papers"]
    )
    def paper(
        c: Ctx,
        paper_id: Annotated[str, Path(max_length=MAX_ID_CHARS)],
        similar: Annotated[int | None, Query(ge=0, le=MAX_PAGE_SIZE)] = None,
    ) -> PaperDetail:
        """A paper with its topic paths, methods, code and similar papers."""
        return queries.paper_detail(c, paper_id, similar)

    @app.get("/topics/root", response_model=TopicDetail, responses=_ERRORS, tags=["topics"])
    def root_topic(
        c: Ctx, papers: Annotated[int, Query(ge=0, le=MAX_PAGE_SIZE)] = 10
    ) -> TopicDetail:
        """The root of the topic tree: start browsing here."""
        return queries.topic_detail(c, None, papers)

    @app.get(
        "/topics/{topic_id:path}", response_model=TopicDetail, responses=_ERRORS, tags=["topics"]
    )
    def topic(
        c: Ctx,
        topic_id: Annotated[str, Path(max_length=MAX_ID_CHARS)],
        papers: Annotated[int, Query(ge=0, le=MAX_PAGE_SIZE)] = 10,
    ) -> TopicDetail:
        """A topic: label, summary, keywords, path to the root, children, top papers."""
        return queries.topic_detail(c, topic_id, papers)

    @app.get("/methods/{name:path}", response_model=MethodDetail, responses=_ERRORS, tags=["code"])
    def method(
        c: Ctx,
        name: Annotated[str, Path(max_length=MAX_ID_CHARS)],
        papers: Annotated[int, Query(ge=0, le=MAX_PAGE_SIZE)] = 10,
    ) -> MethodDetail:
        """A registry method (by id, name or alias): papers, topics, implementations."""
        return queries.method_detail(c, name, papers)

    @app.get("/code", response_model=CodeAnswer, responses=_ERRORS, tags=["code"])
    def code(
        c: Ctx,
        concept: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
        papers: Annotated[int, Query(ge=0, le=MAX_PAGE_SIZE)] = 5,
    ) -> CodeAnswer:
        """Methods for a method name or topic, with papers and ranked implementations."""
        return queries.code_answer(c, concept, papers)

    @app.post("/find", response_model=FindResponse, responses=_ERRORS, tags=["papers"])
    def find(c: Ctx, request: FindRequest) -> FindResponse:
        """Find a paper from a description: hybrid search, vector and full-text scores fused (the
        default), the tree route, or flat search; every hit carries its topic paths."""
        return queries.find(c, request.description, request.k, request.strategy)

    @app.post(
        "/corrections",
        response_model=CorrectionResponse,
        status_code=201,
        responses={
            **_ERRORS,
            401: {"model": ErrorResponse},
            403: {"model": ErrorResponse},
            409: {"model": ErrorResponse},
        },
        dependencies=[Depends(need_key)],
        tags=["corrections"],
    )
    def correct(c: Ctx, request: Annotated[CorrectionRequest, Body()]) -> CorrectionResponse:
        """Correct the tree (logged, undoable, replayed onto rebuilds). Needs X-API-Key."""
        return queries.apply_correction(c, request)

    return app


def server_config(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, app: FastAPI | None = None
) -> "uvicorn.Config":  # noqa: F821 - uvicorn is imported late, as serve needs it
    """The uvicorn configuration `serve` runs (`app` defaults to this settings' app)."""
    import uvicorn

    return uvicorn.Config(
        app or create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        **uvicorn_options(settings),
    )


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    one_thread_per_request()

    uvicorn.Server(server_config(settings, host, port)).run()
