from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hierograph.graph.sqlite_store import SqliteStore
from hierograph.ingest.pipeline import ingest_paths
from hierograph.jobs.build import build_hierarchy
from hierograph.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "hf-papers-alignment.txt"
SHARED_ARXIV = REPO.parent / "shared" / "corpus" / "arxiv-ai-2025.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    """Tests open Neo4j from homes of their own: they share the password that `hierograph db
    start` generated in the test server's home (HIEROGRAPH_HOME), unless one is set."""
    import os

    from hierograph.graph.neo4j_password import password_file

    if not os.environ.get("HIEROGRAPH_NEO4J_PASSWORD"):
        generated = password_file(Path(os.environ.get("HIEROGRAPH_HOME", ".hierograph")))
        if generated.is_file():
            os.environ["HIEROGRAPH_NEO4J_PASSWORD"] = generated.read_text().strip()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests run on the Neo4j backend carry the `neo4j` mark, so `make test-fast` can leave
    them out with `-m "not neo4j"`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and "neo4j" in callspec.params.values():
            item.add_marker(pytest.mark.neo4j)


def make_settings(home: Path, **overrides: object) -> Settings:
    return load_settings(home=home, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache per test session: the model runs once per distinct text."""
    return tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


def seeded_home(home: Path, embedding_cache: Path) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    if embedding_cache.exists():
        shutil.copy(embedding_cache, home / "embeddings.sqlite")
    return make_settings(home)


def save_cache(settings: Settings, embedding_cache: Path) -> None:
    shutil.copy(settings.embedding_cache_path(), embedding_cache)


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path) -> Settings:
    """The supplied corpus ingested and built once, in a SQLite home; tests only read it."""
    settings = seeded_home(tmp_path_factory.mktemp("built"), embedding_cache)
    with SqliteStore(settings.db_path()) as store:
        ingest_paths(store, [CORPUS], settings.rejects_path())
        build_hierarchy(store, settings, show_progress=False)
    save_cache(settings, embedding_cache)
    return settings


@pytest.fixture
def built_store(built_corpus: Settings):
    with SqliteStore(built_corpus.db_path()) as store:
        yield store
