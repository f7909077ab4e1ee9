"""The MCP server (official `mcp` SDK): the agent API's read routes as tools, over stdio or
streamable HTTP. Tools call the same api/queries.py functions as the REST routes; results are
bounded (`mcp_max_results` items, abstracts cut at `mcp_abstract_chars`) and search pages with a
cursor, so an agent's context is not flooded."""

# No `from __future__ import annotations`: the SDK reads the tools' signatures at run time to
# build their input schemas.

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from hierograph.api import queries
from hierograph.api.context import ApiContext, one_thread_per_request, open_context
from hierograph.api.models import (
    MAX_CURSOR_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_ID_CHARS,
    MAX_QUERY_CHARS,
    CodeAnswer,
    FindResponse,
    FindStrategy,
    PaperDetail,
    SearchPage,
    TopicDetail,
)
from hierograph.settings import Settings

T = TypeVar("T")

INSTRUCTIONS = (
    "Hierograph: a topic tree over research papers, with methods and code. Use search_papers "
    "or find_paper to get paper ids, get_paper for one paper, browse_topic to walk the tree "
    "from the root, code_for_concept for implementations of a method."
)


def create_mcp_server(settings: Settings, context: ApiContext | None = None) -> MCPServer:
    holder: dict[str, ApiContext] = {}
    cap = settings.mcp_max_results

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[None]:
        ctx = context or await anyio.to_thread.run_sync(open_context, settings)
        holder["ctx"] = ctx
        try:
            yield
        finally:
            if context is None:
                ctx.close()

    mcp = MCPServer("hierograph", instructions=INSTRUCTIONS, lifespan=lifespan)

    async def call(fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking query off the event loop; expected failures become tool errors."""
        try:
            return await anyio.to_thread.run_sync(fn, holder["ctx"], *args)
        except queries.QueryError as e:
            raise ToolError(f"{e.code}: {e.message}") from e

    @mcp.tool(
        description=f"Hybrid search over papers; at most {cap} per page, pass next_cursor "
        "to page on. Filters: published date range, topic subtree, method, has_code."
    )
    async def search_papers(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)],
        limit: Annotated[int, Field(ge=1, le=50, description=f"Capped at {cap}.")] = 5,
        cursor: Annotated[str | None, Field(max_length=MAX_CURSOR_CHARS)] = None,
        published_from: Annotated[date | None, Field(description="YYYY-MM-DD")] = None,
        published_to: Annotated[date | None, Field(description="YYYY-MM-DD")] = None,
        topic_id: Annotated[str | None, Field(max_length=MAX_ID_CHARS)] = None,
        method: Annotated[str | None, Field(max_length=MAX_ID_CHARS)] = None,
        has_code: bool | None = None,
    ) -> SearchPage:
        filters = queries.SearchFilters(published_from, published_to, topic_id, method, has_code)
        return await call(queries.search_papers, query, filters, min(limit, cap), cursor)

    @mcp.tool(
        description="One paper by id: abstract (shortened), topic paths, methods, code "
        "links and a few similar papers."
    )
    async def get_paper(
        paper_id: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)],
        similar: Annotated[int, Field(ge=0, le=50, description=f"Capped at {cap}.")] = 3,
    ) -> PaperDetail:
        return await call(
            queries.paper_detail, paper_id, min(similar, cap), settings.mcp_abstract_chars
        )

    @mcp.tool(
        description="A topic of the tree (the root when topic_id is omitted): label, "
        "summary, keywords, path to the root, child topics with sizes, top papers."
    )
    async def browse_topic(
        topic_id: Annotated[str | None, Field(max_length=MAX_ID_CHARS)] = None,
        papers: Annotated[int, Field(ge=0, le=50, description=f"Capped at {cap}.")] = 5,
    ) -> TopicDetail:
        return await call(queries.topic_detail, topic_id, min(papers, cap))

    @mcp.tool(
        description="Find a paper from a description of it (in your own words): hybrid "
        "search by default: vector and full-text scores fused, with the tree's re-ranking "
        "weights as settings (strategy 'tree' walks the tree from "
        "the root, 'flat' is plain search); every hit carries its topic paths."
    )
    async def find_paper(
        description: Annotated[str, Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)],
        k: Annotated[int, Field(ge=1, le=50, description=f"Capped at {cap}.")] = 5,
        strategy: FindStrategy = "hybrid",
    ) -> FindResponse:
        return await call(queries.find, description, min(k, cap), strategy)

    @mcp.tool(
        description="Code for a method name/alias (e.g. DPO) or a topic label: methods, "
        "their papers and ranked implementations (official, library, other repos)."
    )
    async def code_for_concept(
        concept: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)],
        papers: Annotated[int, Field(ge=0, le=50, description=f"Capped at {cap}.")] = 3,
    ) -> CodeAnswer:
        return await call(queries.code_answer, concept, min(papers, cap), cap)

    return mcp


def run_mcp(
    settings: Settings,
    transport: Literal["stdio", "streamable-http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8001,
) -> None:
    one_thread_per_request()
    server = create_mcp_server(settings)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
