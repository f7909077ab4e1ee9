"""Connection problems give one line that names the URI and what to check."""

import os
import socket
import subprocess
import sys

import pytest

from hierograph.graph.factory import open_store
from hierograph.graph.store import StoreError
from hierograph.settings import load_settings

from .stores import neo4j_wanted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_says_where_and_what_to_do(tmp_path):
    uri = f"bolt://127.0.0.1:{_free_port()}"
    with pytest.raises(StoreError) as info:
        open_store(load_settings(home=tmp_path, store="neo4j", neo4j_uri=uri))
    assert uri in str(info.value) and "hierograph db start" in str(info.value)

    env = {
        **os.environ,
        "HIEROGRAPH_HOME": str(tmp_path),
        "HIEROGRAPH_STORE": "neo4j",
        "HIEROGRAPH_NEO4J_URI": uri,
    }
    shown = subprocess.run(
        [sys.executable, "-m", "hierograph.cli", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 1
    assert "Traceback" not in shown.stderr
    assert shown.stderr.strip().count("\n") == 0 and uri in shown.stderr


@pytest.mark.skipif(not neo4j_wanted(), reason="runs under `make test`")
def test_wrong_password_names_the_settings_to_check(tmp_path):
    settings = load_settings(home=tmp_path, store="neo4j", neo4j_password="wrong")
    with pytest.raises(StoreError) as info:
        open_store(settings)
    message = str(info.value)
    assert settings.neo4j_uri in message and "HIEROGRAPH_NEO4J_PASSWORD" in message
