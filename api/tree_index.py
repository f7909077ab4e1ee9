"""The topic tree as plain arrays for the finder: children, subtree papers, centroids of paper
embeddings and label embeddings, read from the store once per tree version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hierograph.graph.models import Topic, topic_path
from hierograph.graph.store import GraphStore

Encode = Callable[[Sequence[str]], np.ndarray]


def tree_signature(store: GraphStore) -> str:
    """Changes whenever a build, a refresh or a correction changes topics, their sizes or the
    paper count; cheap enough to check on every find."""
    rows = [(t.id, t.parent, t.label, t.size, t.built_at) for t in store.topics()]
    key = json.dumps([rows, store.paper_count()])
    return hashlib.sha1(key.encode()).hexdigest()


def topic_text(topic: Topic) -> str:
    """What a topic's label embedding is computed from: everything a reader sees of it."""
    parts = [topic.label, topic.summary, ", ".join(topic.keywords)]
    return ". ".join(p for p in parts if p)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


@dataclass
class TreeIndex:
    signature: str
    topics: dict[str, Topic]
    children: dict[str, list[str]]
    root_id: str | None
    direct: dict[str, dict[str, float]]  # topic → paper → assignment score
    subtree: dict[str, set[str]]
    centroid: dict[str, np.ndarray]  # unit vectors; absent for a topic without embedded papers
    label_vec: dict[str, np.ndarray]
    paper_vec: dict[str, np.ndarray]

    @classmethod
    def from_store(cls, store: GraphStore, encode: Encode, signature: str = "") -> TreeIndex:
        topics = store.topics()
        by_id = {t.id: t for t in topics}
        children: dict[str, list[str]] = {t.id: [] for t in topics}
        for t in topics:
            if t.parent in children:
                children[t.parent].append(t.id)
        direct: dict[str, dict[str, float]] = {t.id: {} for t in topics}
        for a in store.assignments():
            if a.topic_id in direct:
                direct[a.topic_id][a.paper_id] = a.score
        subtree: dict[str, set[str]] = {}
        # Deepest first, so each child's set exists before its parent's is formed.
        for t in sorted(topics, key=lambda t: -t.level):
            papers = set(direct[t.id])
            for c in children[t.id]:
                papers |= subtree[c]
            subtree[t.id] = papers
        paper_vec = {
            k: _unit(np.asarray(v, dtype=np.float32)) for k, v in store.get_embeddings().items()
        }
        centroid = {}
        for t in topics:
            vecs = [paper_vec[p] for p in subtree[t.id] if p in paper_vec]
            if vecs:
                centroid[t.id] = _unit(np.mean(vecs, axis=0))
        label_vec: dict[str, np.ndarray] = {}
        if topics:
            vectors = encode([topic_text(t) for t in topics])
            label_vec = {t.id: _unit(v) for t, v in zip(topics, vectors, strict=True)}
        root = next((t.id for t in topics if t.parent is None), None)
        return cls(
            signature, by_id, children, root, direct, subtree, centroid, label_vec, paper_vec
        )

    def is_leaf(self, topic_id: str) -> bool:
        return not self.children.get(topic_id)

    def path(self, topic_id: str) -> list[Topic]:
        """Root → … → topic."""
        return topic_path(self.topics, topic_id)
