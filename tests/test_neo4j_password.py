"""The local Neo4j's password (issue 18, item 13): generated per home on the first `db start`,
kept with 0600 permissions, never a built-in default; a password the user sets wins."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner

from hierograph.cli import app
from hierograph.graph import neo4j_server
from hierograph.graph.neo4j_password import neo4j_password, password_file
from hierograph.graph.store import StoreError
from hierograph.settings import load_settings


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """`neo4j_server.start` recorded instead of run (the real one is exercised by `make test`,
    which starts the test server through this very command)."""
    calls: list[dict] = []

    def fake_start(home, user="neo4j", password="", port=7687, **_: object) -> int:
        calls.append({"home": home, "user": user, "password": password, "port": port})
        return 4242

    monkeypatch.setattr(neo4j_server, "start", fake_start)
    monkeypatch.delenv("HIEROGRAPH_NEO4J_PASSWORD", raising=False)
    return calls


def _db_start(home, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["--home", str(home), "db", "start"], env=env)


def test_first_db_start_generates_a_private_password_per_home(started, tmp_path):
    assert load_settings(home=tmp_path / "a").neo4j_password is None  # no built-in default
    for home in (tmp_path / "a", tmp_path / "b"):
        result = _db_start(home)
        assert result.exit_code == 0, result.output
    first, second = (c["password"] for c in started)
    assert first and second and first != second and "hierograph-dev" not in (first, second)
    path = password_file(tmp_path / "a")
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Later starts, and every store connection, use the same one.
    assert _db_start(tmp_path / "a").exit_code == 0
    assert started[-1]["password"] == first
    assert neo4j_password(load_settings(home=tmp_path / "a")) == first


def test_a_password_the_user_sets_wins(started, tmp_path):
    result = _db_start(tmp_path, env={"HIEROGRAPH_NEO4J_PASSWORD": "mine-123"})
    assert result.exit_code == 0, result.output
    assert started[-1]["password"] == "mine-123"
    assert not password_file(tmp_path).exists()


def test_without_any_password_the_store_says_what_to_do(started, tmp_path):
    with pytest.raises(StoreError, match="hierograph db start.*HIEROGRAPH_NEO4J_PASSWORD"):
        neo4j_password(load_settings(home=tmp_path, store="neo4j"))
