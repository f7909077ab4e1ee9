"""The servers under hostile requests (issue 18, items 8-12): `hierograph serve` itself limits
a chunked body while it streams in, ignores forged proxy headers, keeps API keys out of
api.log and takes them only from the header; ids with a slash reach REST, MCP and the UI in
both stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from hierograph.api.context import open_context
from hierograph.api.mcp_server import create_mcp_server
from hierograph.api.rest import create_app
from hierograph.graph.factory import open_store
from hierograph.graph.models import Assignment, Paper
from hierograph.settings import Settings
from tests.stores import BACKENDS
from tests.test_api_support import API_KEY, copy_built_home, free_port, running

SLASHED = "hep-th/9901001"


class Served:
    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home

    def log(self) -> str:
        return (self.home / "logs" / "api.log").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def served_cli(
    built_corpus: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`hierograph serve` as users run it, over a copy of the built corpus; a strict rate
    limit (3 requests, then 1 per 100 s) shows which client address the server believes."""
    home = tmp_path_factory.mktemp("serve-guard")
    copy_built_home(built_corpus, home, "sqlite")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIEROGRAPH_")}
    env.update(
        HIEROGRAPH_HOME=str(home),
        HF_HUB_OFFLINE="1",
        HIEROGRAPH_API_KEY=API_KEY,
        HIEROGRAPH_API_RATE_BURST="3",
        HIEROGRAPH_API_RATE_PER_SECOND="0.01",
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hierograph.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.3)
        yield Served(url, home)
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_chunked_body_is_refused_at_the_limit_not_after_it(served_cli: Served) -> None:
    port = int(served_cli.url.rsplit(":", 1)[1])
    chunk = b"x" * 16_384
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(
            b"POST /find HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # 256 KB against the 64 KB limit, and the body never ends: a server that waits for
        # all of it never answers.
        try:
            for _ in range(16):
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server answered and closed while the body was still coming
        answer = b""
        while b"\r\n\r\n" not in answer or b"}}" not in answer:
            part = conn.recv(65_536)
            if not part:
                break
            answer += part
    assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
    assert b'"too_large"' in answer


def test_forged_proxy_headers_fool_neither_the_limiter_nor_the_log(served_cli: Served) -> None:
    codes = [
        httpx.get(
            f"{served_cli.url}/topics/root", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(5)
    ]
    # One bucket for all of them (the peer's): the burst of 3, shared with the other tests'
    # requests, runs out, whatever address each request claims.
    assert codes[-2:] == [429, 429] and codes.count(200) <= 3, codes
    log = served_cli.log()
    assert "203.0.113." not in log
    assert "127.0.0.1 GET /topics/root 429" in log


def test_a_key_in_the_url_is_refused_and_never_logged(served_cli: Served) -> None:
    rename = {"kind": "rename_topic", "topic_id": "root", "label": "x"}
    for param in ("api_key", "key", "token"):
        refused = httpx.post(f"{served_cli.url}/corrections", params={param: API_KEY}, json=rename)
        assert refused.status_code in (401, 429), refused.text
    httpx.get(f"{served_cli.url}/healthz", params={"x-api-key": API_KEY, "q": "dpo"})
    log = served_cli.log()
    assert API_KEY not in log
    assert "api_key=REDACTED" in log and "x-api-key=REDACTED&q=dpo" in log


@pytest.mark.parametrize("kind", BACKENDS)
def test_ids_with_a_slash_are_reachable(
    kind: str, built_corpus: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = copy_built_home(built_corpus, tmp_path_factory.mktemp(f"slash-{kind}"), kind)
    with open_store(settings) as store:
        leaf = next(t for t in store.topics() if not store.children(t.id))
        store.upsert_papers(
            [
                Paper(
                    id=SLASHED,
                    arxiv_id=SLASHED,
                    title="Old-style identifiers in string theory",
                    abstract="A paper from before 2007, with an archive name in its id.",
                )
            ]
        )
        store.upsert_assignments(
            [Assignment(paper_id=SLASHED, topic_id=leaf.id, score=0.5, origin="human")]
        )
    ctx = open_context(settings)
    try:
        with running(create_app(settings, ctx)) as url, httpx.Client(base_url=url) as http:
            for path in (f"/papers/{SLASHED}", "/papers/hep-th%2F9901001"):
                answer = http.get(path)
                assert answer.status_code == 200, (path, answer.text)
                assert answer.json()["id"] == SLASHED
            assert http.get("/papers/hep-th/0000000").status_code == 404

        async def via_mcp() -> dict:
            async with Client(create_mcp_server(settings, ctx)) as client:
                result = await client.call_tool("get_paper", {"paper_id": SLASHED})
                assert not result.is_error, result.content
                return result.structured_content

        assert anyio.run(via_mcp)["id"] == SLASHED
    finally:
        ctx.close()
