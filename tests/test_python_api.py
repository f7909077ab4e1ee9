"""The Python API as a reader meets it: the code blocks of docs/python-api.md and the README's
"Python API in 30 seconds" run as written, in a fresh directory, on the supplied corpus."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS, REPO, seeded_home

PAGE = REPO / "docs" / "python-api.md"
README = REPO / "README.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python fenced blocks of a markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```$", markdown, re.DOTALL | re.MULTILINE)


def readme_block() -> str:
    section = README.read_text().split("## The Python API in 30 seconds", 1)[1]
    return python_blocks(section.split("\n## ", 1)[0])[0]


@pytest.fixture
def notebook_dir(tmp_path, embedding_cache, monkeypatch) -> Path:
    """A working directory as the page expects: data/ beside it, and a home seeded with the
    session's embedding cache so the model runs only on texts it has not seen."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / CORPUS.name).symlink_to(CORPUS)
    seeded_home(tmp_path / "notebook-home", embedding_cache)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HIEROGRAPH_HOME", raising=False)
    return tmp_path


def run_blocks(blocks: list[str], where: str) -> dict:
    namespace: dict = {"__name__": "__notebook__"}
    for n, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"{where} block {n}", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{where}, python block {n} failed: {e!r}\n{code}") from e
    return namespace


def test_the_python_api_page_runs_as_a_notebook(notebook_dir, capsys):
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) >= 7, "ingest/build, tree, networkx, find/search, code, correct, export"
    run_blocks(blocks, "docs/python-api.md")
    out = capsys.readouterr().out
    assert "49 ingested" in out and "over 49 papers" in out
    assert "meet in" in out and "Direct Preference Optimization" in out
    assert "undo by" in out, "the log lists the two undo entries"
    assert (notebook_dir / "tree.json").stat().st_size > 0
    assert (notebook_dir / "tree.graphml").read_text().startswith("<?xml")


def test_the_readme_python_block_runs(notebook_dir, capsys):
    namespace = run_blocks([readme_block()], "README.md")
    out = capsys.readouterr().out
    tree = namespace["tree"]
    for topic in tree.children(tree.root.id):
        assert f"{topic.label} {len(tree.papers(topic.id))}" in out
    assert namespace["hits"] and namespace["hits"][0].topic_paths[0][0].id == tree.root.id
    assert namespace["graph"].number_of_nodes() == len(tree) + 49


def test_importing_settings_loads_neither_torch_nor_the_facade():
    import subprocess

    code = (
        "import sys, hierograph.settings, hierograph.cli.common\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
        "assert 'hierograph.python_api' not in sys.modules, 'facade'\n"
        "from hierograph import Hierograph, TopicTree\n"
        "assert 'torch' not in sys.modules, 'torch after the facade'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_tree_agrees_with_the_store_and_its_export(built_store):
    import networkx as nx

    from hierograph import Hierograph, TopicTree
    from hierograph.graph.export import export_dict

    with Hierograph(store=built_store) as hg:
        tree = hg.tree()
    assert built_store.paper_count() == 49, "a store the caller gave stays open"
    assert isinstance(tree, TopicTree) and len(tree) == len(built_store.topics())
    assert tree.to_dict() == export_dict(built_store, version=1)
    graph = tree.to_networkx()
    for topic in tree:
        below = {p.id for p in tree.papers(topic.id)}
        assert below == built_store.subtree_paper_ids(topic.id)
        assert below == {n for n in nx.descendants(graph, topic.id) if n not in tree}
        assert [t.id for t in tree.path(topic.id)] == [
            t.id for t in built_store.ancestors(topic.id)
        ]
        assert {c.id for c in tree.children(topic.id)} == {
            c.id for c in built_store.children(topic.id)
        }
    with pytest.raises(KeyError, match="no topic 'nope'"):
        tree.papers("nope")


def test_a_misspelt_setting_is_refused(tmp_path):
    from hierograph import Hierograph

    with pytest.raises(TypeError, match="unknown setting.*max_dept"):
        Hierograph(home=tmp_path / "home", max_dept=3)
    with Hierograph(home=tmp_path / "home", max_depth=3) as hg:
        assert hg.settings.max_depth == 3
        with pytest.raises(ValueError, match="no topic tree yet"):
            hg.tree()
