"""Running the real REST service for tests: uvicorn on 127.0.0.1, a free port, in a thread,
over a copy of the built corpus in either store."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from hierograph.graph.factory import open_store
from hierograph.graph.sync import copy_graph
from hierograph.methods.link import link_registry
from hierograph.settings import Settings, load_settings
from tests.stores import open_empty_store

API_KEY = "test-key-7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_built_home(built: Settings, home: Path, kind: str, **overrides: object) -> Settings:
    """A home holding the built corpus in store `kind` (writes there leave `built` alone)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(built.embedding_cache_path(), home / "embeddings.sqlite")
    if kind == "sqlite":
        shutil.copy(built.db_path(), home / "hierograph.sqlite")
    else:
        with open_store(built) as src, open_empty_store(kind, home) as dst:
            copy_graph(src, dst)
            # `sync` copies papers and the tree, not the method links: link them as a build does.
            link_registry(dst, built)
    defaults: dict[str, object] = {"api_key": API_KEY, "api_rate_burst": 10_000}
    return load_settings(home=home, store=kind, **{**defaults, **overrides})


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
