"""`serve`, `mcp`, `find` and `ui`: the agent API and the browser."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from hierograph.cli.common import app, console, fail, open_store_or_fail, state


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Run the REST API (OpenAPI at /docs); requests are logged to <home>/logs/api.log."""
    from hierograph.api.rest import serve as run_rest

    console.print(f"serving http://{host}:{port} (docs at /docs)")
    run_rest(state.settings, host, port)


class McpTransport(StrEnum):
    stdio = "stdio"
    streamable_http = "streamable-http"


@app.command()
def mcp(
    transport: Annotated[McpTransport, typer.Option(help="stdio or streamable-http.")] = (
        McpTransport.stdio
    ),
    host: Annotated[str, typer.Option(help="Interface (streamable-http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port (streamable-http).")] = 8001,
) -> None:
    """Run the MCP server (tools: search_papers, get_paper, browse_topic, find_paper,
    code_for_concept); streamable HTTP serves at /mcp."""
    from hierograph.api.mcp_server import run_mcp

    run_mcp(state.settings, transport.value, host, port)


@app.command()
def find(
    description: Annotated[str, typer.Argument(help="What the paper is about.")],
    k: Annotated[int, typer.Option(min=1, max=50, help="Papers to list.")] = 5,
    strategy: Annotated[
        str,
        typer.Option(
            help="hybrid (default, the best measured): vector and full-text search fused; "
            "tree: walk the tree from the root; flat: plain hybrid search."
        ),
    ] = "hybrid",
) -> None:
    """Find a paper from a description; prints each hit with its topic path(s)."""
    from hierograph.api import queries
    from hierograph.api.context import api_context
    from hierograph.graph.store import StoreError

    if strategy not in ("hybrid", "tree", "flat"):
        fail(f"unknown strategy {strategy!r}: use hybrid, tree or flat")
    try:
        with api_context(state.settings) as ctx:
            answer = queries.find(ctx, description, k, strategy)  # type: ignore[arg-type]
    except (queries.QueryError, StoreError) as e:
        fail(str(e))
    if answer.path and strategy == "tree":
        console.print("route: " + " › ".join(t.label for t in answer.path), highlight=False)
    for hit in answer.results:
        console.print(f"{hit.score:.3f} {hit.id} {hit.title}", highlight=False, markup=False)
        for path in hit.topic_paths:
            console.print("      " + " › ".join(t.label for t in path), highlight=False)
    if not answer.results:
        fail("nothing found: is there a built tree? (`hierograph build`)")


# --- the Streamlit browser (issue 8) ---
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def ui(ctx: typer.Context) -> None:
    """Browse the tree in Streamlit (read-only unless settings.ui_editor_key is set). Streamlit's
    own options pass through: hierograph ui --server.port 8502 --server.headless true"""
    from hierograph.ui.launch import LaunchError, run_app, streamlit_command

    try:
        streamlit_command(ctx.args)
    except LaunchError as e:
        fail(str(e))
    with open_store_or_fail():  # a store that cannot be opened fails here, with the store's message
        pass
    run_app(state.settings, ctx.args)
