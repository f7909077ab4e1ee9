"""The CLI end to end in a subprocess, as a user runs it, and the export contract."""

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from hierograph.graph.export import export_dict
from hierograph.graph.factory import open_store
from hierograph.settings import load_settings

from .conftest import CORPUS, seeded_home
from .stores import neo4j_wanted, open_empty_store


def run(home: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HIEROGRAPH_HOME": str(home), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "hierograph.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_ingest_build_show_export_from_the_command_line(tmp_path, embedding_cache):
    home = seeded_home(tmp_path / "home", embedding_cache).home
    first = run(home, "ingest", str(CORPUS))
    assert first.returncode == 0, first.stderr
    assert "49 ingested, 0 merged, 0 rejected" in first.stdout
    again = run(home, "ingest", str(CORPUS))
    assert "(0 new, 0 updated, 49 unchanged)" in again.stdout

    built = run(home, "build", "--quiet")
    assert built.returncode == 0, built.stderr
    assert "over 49 papers" in built.stdout

    shown = run(home, "show", "--depth", "1")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("All papers (49)")
    assert all(line.startswith(("├── ", "└── ")) for line in lines[1:])

    out = tmp_path / "tree.json"
    exported = run(home, "export", "--format", "json", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text())
    assert data["version"] == 2 and len(data["papers"]) == 49

    graphml = tmp_path / "tree.graphml"
    assert run(home, "export", "--format", "graphml", "--out", str(graphml)).returncode == 0
    g = nx.read_graphml(graphml)
    kinds = nx.get_node_attributes(g, "kind")
    assert sum(k == "Paper" for k in kinds.values()) == 49
    assert sum(k == "Topic" for k in kinds.values()) == len(data["topics"])


def test_errors_are_one_clear_line_and_nonzero(tmp_path):
    home = tmp_path / "home"
    missing = run(home, "ingest", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1
    assert "file not found" in missing.stderr and "Traceback" not in missing.stderr
    empty = run(home, "build")
    assert empty.returncode == 1 and "hierograph ingest" in empty.stderr
    assert "hierograph build" in run(home, "show").stderr


def test_every_command_has_help(tmp_path):
    for command in [
        "ingest",
        "build",
        "show",
        "export",
        "sync",
        "db start",
        "db stop",
        "db status",
    ]:
        result = run(tmp_path, *command.split(), "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, command


def test_help_texts_flow_as_paragraphs_not_as_the_source_wrapped_them():
    """`--help` shows each command's docstring with the source's 100-column line breaks joined
    (rich wraps to the terminal; the breaks used to cut sentences mid-line in the command
    list), while blank lines, list items and indented lines keep theirs."""
    import re

    from hierograph.cli import app
    from hierograph.cli.common import flowed

    assert flowed("Write the graph, or papers\n    as references.") == (
        "Write the graph, or papers as references."
    )
    kept = "Intro line one\ncontinues.\n\nSteps:\n- first\n- second\n    indented example"
    assert flowed(kept) == (
        "Intro line one continues.\n\nSteps:\n- first\n- second\n    indented example"
    )

    def commands(typer_app):
        yield from typer_app.registered_commands
        for group in typer_app.registered_groups:
            yield from commands(group.typer_instance)

    infos = list(commands(app))
    assert len(infos) > 30
    for info in infos:
        assert info.help, info.name
        for line in info.help.splitlines()[1:]:  # every break kept is one flowed() keeps
            assert not line.strip() or line[:1].isspace() or re.match(r"(-|\*|\d+\.) ", line), (
                info.name or info.callback.__name__,
                line,
            )


def test_json_export_contract(built_store):
    data = export_dict(built_store, version=1)
    assert set(data) == {"version", "papers", "topics"}
    for paper in data["papers"]:
        assert set(paper) == {
            "id",
            "title",
            "arxiv_id",
            "published",
            "code_urls",
            "problem",
            "method",
            "results",
        }
    topics = {t["id"]: t for t in data["topics"]}
    [root] = [t for t in data["topics"] if t["parent"] is None]
    assert root["level"] == 0
    for t in data["topics"]:
        assert set(t) == {
            "id",
            "parent",
            "level",
            "label",
            "keywords",
            "summary",
            "problem",
            "method",
            "results",
            "paper_ids",
        }
        if t["parent"] is not None:
            assert t["level"] == topics[t["parent"]]["level"] + 1
    direct = [pid for t in data["topics"] for pid in t["paper_ids"]]
    assert set(direct) == {p["id"] for p in data["papers"]}, "every paper sits in some topic"
    assert len(direct) == len(built_store.assignments()), "multi-label papers list each topic"
    assert json.loads(json.dumps(data)) == data


@pytest.mark.skipif(not neo4j_wanted(), reason="runs under `make test`")
def test_the_same_commands_work_on_neo4j_and_sync_copies_back(tmp_path, embedding_cache):
    home = seeded_home(tmp_path / "home", embedding_cache).home
    open_empty_store("neo4j", home).close()
    neo = {"HIEROGRAPH_STORE": "neo4j"}
    assert "49 ingested" in run(home, "ingest", str(CORPUS), **neo).stdout
    built = run(home, "build", "--quiet", **neo)
    assert built.returncode == 0, built.stderr
    assert run(home, "show", **neo).stdout.startswith("All papers (49)")
    out = tmp_path / "neo.json"
    assert run(home, "export", "--out", str(out), **neo).returncode == 0

    store = open_store(load_settings(home=home, store="neo4j"))
    rows = store._read("MATCH (t:Topic)<-[:IN_TOPIC]-(p:Paper) RETURN t.label, count(p) AS n")
    papers = store._read("MATCH (:Topic)<-[:IN_TOPIC]-(p:Paper) RETURN count(DISTINCT p) AS n")
    assert sum(r["n"] for r in rows) == len(store.assignments())
    store.close()
    assert papers[0]["n"] == 49

    synced = run(home, "sync", "--from", "neo4j", "--to", "sqlite", **neo)
    assert synced.returncode == 0, synced.stderr
    lite = tmp_path / "lite.json"
    assert run(home, "export", "--out", str(lite)).returncode == 0
    assert json.loads(lite.read_text()) == json.loads(out.read_text())
    with (
        open_store(load_settings(home=home, store="neo4j")) as neo,
        open_store(load_settings(home=home, store="sqlite")) as back,
    ):
        assert back.facets() == neo.facets() and neo.facets()
        assert back.method_links() == neo.method_links() and neo.method_links()
        assert back.code_links() == neo.code_links()


def test_show_ids_prints_topic_and_paper_ids(built_corpus, built_store):
    from typer.testing import CliRunner

    from hierograph.cli import app

    home = ["--home", str(built_corpus.home)]
    args = [*home, "show", "--depth", "9", "--papers", "2"]
    with_ids = CliRunner().invoke(app, [*args, "--ids"], terminal_width=400).output
    plain = CliRunner().invoke(app, args, terminal_width=400).output
    leaf = next(t for t in built_store.topics() if not built_store.children(t.id))
    first = built_store.assignments(topic_id=leaf.id)[0].paper_id
    assert leaf.id in with_ids and first in with_ids
    assert leaf.id not in plain and first not in plain
