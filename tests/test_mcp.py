"""The MCP server, started as `hierograph mcp` and driven by the SDK's own client: over stdio,
and once over streamable HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from hierograph.graph.sqlite_store import SqliteStore
from hierograph.settings import Settings
from tests.test_api_support import free_port

TOOLS = {"search_papers", "get_paper", "browse_topic", "find_paper", "code_for_concept"}


def _env(home: Path) -> dict[str, str]:
    return {
        "HIEROGRAPH_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "HIEROGRAPH_MCP_MAX_RESULTS": "4",
        "HIEROGRAPH_MCP_ABSTRACT_CHARS": "200",
    }


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hierograph.cli", *args]


async def _exercise(client: Client, store: SqliteStore) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    assert all(t.description and len(t.description) <= 300 for t in tools)

    paper = next(p for p in store.iter_papers() if len(p.title.split()) >= 5)
    page = await client.call_tool("search_papers", {"query": paper.title, "limit": 50})
    assert not page.is_error, page.content
    first = page.structured_content
    assert len(first["results"]) == 4  # limit capped at mcp_max_results
    assert first["results"][0]["id"] == paper.id and first["next_cursor"]
    nxt = await client.call_tool(
        "search_papers", {"query": paper.title, "limit": 4, "cursor": first["next_cursor"]}
    )
    second = [r["id"] for r in nxt.structured_content["results"]]
    assert second and not set(second) & {r["id"] for r in first["results"]}

    detail = (await client.call_tool("get_paper", {"paper_id": paper.id})).structured_content
    assert detail["title"] == paper.title and len(detail["abstract"]) <= 200
    assert paper.abstract.startswith(detail["abstract"].rstrip("…"))
    missing = await client.call_tool("get_paper", {"paper_id": "no-such-paper"})
    assert missing.is_error and "not_found" in missing.content[0].text

    root = (await client.call_tool("browse_topic", {})).structured_content
    assert root["id"] == store.root().id and len(root["top_papers"]) <= 4
    child = root["children"][0]["id"]
    sub = (await client.call_tool("browse_topic", {"topic_id": child})).structured_content
    assert [t["id"] for t in sub["path"]] == [root["id"], child]

    found = await client.call_tool("find_paper", {"description": paper.title, "k": 3})
    body = found.structured_content
    assert paper.id in [r["id"] for r in body["results"]] and body["path"][0]["id"] == root["id"]
    assert body["strategy"] == "hybrid" and body["results"][0]["id"] == paper.id
    for hit in body["results"]:
        paths = [[t["id"] for t in p] for p in hit["topic_paths"]]
        best_first = sorted(
            store.assignments(paper_id=hit["id"]), key=lambda a: (-a.score, a.topic_id)
        )
        assert paths and [p[-1] for p in paths] == [a.topic_id for a in best_first]
        assert all(p[0] == root["id"] for p in paths)
    tree = await client.call_tool(
        "find_paper", {"description": paper.title, "k": 3, "strategy": "tree"}
    )
    assert tree.structured_content["strategy"] == "tree"
    bad = await client.call_tool("find_paper", {"description": "x" * 5000})
    assert bad.is_error

    method = (
        store.methods()[0]
        if not store.method_links()
        else next(m for m in store.methods() if m.id == store.method_links()[0].method_id)
    )
    code = await client.call_tool("code_for_concept", {"concept": method.name, "papers": 50})
    answer = code.structured_content
    assert answer["methods"][0]["method"]["id"] == method.id
    assert all(len(m["papers"]) <= 4 for m in answer["methods"])


def test_mcp_over_stdio(built_corpus: Settings) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hierograph.cli", "mcp"],
        env=_env(built_corpus.home),
    )

    async def main() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            with SqliteStore(built_corpus.db_path()) as store:
                await _exercise(client, store)

    anyio.run(main)


def test_mcp_over_streamable_http(built_corpus: Settings) -> None:
    port = free_port()
    proc = subprocess.Popen(
        _command("mcp", "--transport", "streamable-http", "--port", str(port)),
        env={**os.environ, **_env(built_corpus.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("`hierograph mcp --transport streamable-http` did not start")
                time.sleep(0.3)

        async def main() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as c:
                res = await c.call_tool("browse_topic", {"papers": 2})
                assert not res.is_error and len(res.structured_content["top_papers"]) == 2

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(30)
