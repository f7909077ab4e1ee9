"""The methods bench_quality.py compares, each on given embeddings, and how a partition is
scored against gold categories. Not a benchmark itself.

Every method returns a list of "levels" (a label per paper each), scored on the papers that have
a gold category: Hierograph's tree (one labelling per tree level, a leaf above a level standing
for itself below it), BERTopic (one per cut of its merge tree), k-means and Ward (one each).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

Result = dict[str, Any]


def score(truth: Sequence[str | None], pred: Sequence[Any]) -> Result:
    """AMI, ARI, V-measure and NMI over the papers with a gold category."""
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        normalized_mutual_info_score,
        v_measure_score,
    )

    keep = [i for i, t in enumerate(truth) if t is not None]
    t = [truth[i] for i in keep]
    p = [str(pred[i]) for i in keep]
    return {
        "topics": len(set(p)),
        "ami": float(adjusted_mutual_info_score(t, p)),
        "ari": float(adjusted_rand_score(t, p)),
        "v": float(v_measure_score(t, p)),
        "nmi": float(normalized_mutual_info_score(t, p)),
    }


def tree_levels(root: Any, n: int) -> list[np.ndarray]:
    """Per level 1..depth, each paper's topic (a node index); a leaf shallower than the level
    stands for itself, as hierarchy/evaluate.py counts it."""
    walk = root.walk()
    depth = max(level for _, _, level in walk)
    out = []
    for level in range(1, depth + 1):
        labels = np.full(n, -1)
        for index, (node, _, node_level) in enumerate(walk):
            if node_level == level or (node_level < level and not node.children):
                labels[node.members] = index
        out.append(labels)
    return out


def hierograph_tree(vectors: np.ndarray, **overrides: Any) -> tuple[Any, list[np.ndarray]]:
    """The tree make_tree_builder makes from default settings (plus overrides), fitted here."""
    from hierograph.jobs.components import make_tree_builder
    from hierograph.settings import load_settings

    settings = load_settings(home=os.environ.get("HIEROGRAPH_HOME", ".hierograph"), **overrides)
    builder = make_tree_builder(settings).fit(vectors)
    return builder.root_, tree_levels(builder.root_, len(vectors))


def kmeans(vectors: np.ndarray, k: int, seed: int = 42) -> np.ndarray:
    """k-means on the unit-length embeddings, sklearn's defaults otherwise."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=seed, n_init="auto").fit_predict(unit(vectors))


def ward(vectors: np.ndarray, k: int) -> np.ndarray:
    """Agglomerative clustering with Ward linkage on the unit-length embeddings, cut at k."""
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(unit(vectors))


def unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def bertopic_levels(
    docs: list[str], vectors: np.ndarray, seed: int = 42
) -> tuple[list[np.ndarray], list[np.ndarray], Result]:
    """BERTopic with its defaults (UMAP's random_state fixed), then `hierarchical_topics` cut at
    every merge: (cuts with noise as its own topic, cuts after `reduce_outliers`, figures)."""
    import time

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from bench_bertopic import cut_merge_tree
    from bertopic import BERTopic
    from umap import UMAP

    # BERTopic's own default UMAP with random_state added (also what makes it deterministic).
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed
    )
    model = BERTopic(umap_model=umap_model, verbose=False)
    start = time.perf_counter()
    topics, _ = model.fit_transform(docs, vectors)
    fit_s = time.perf_counter() - start
    topics = [int(t) for t in topics]
    n_topics = len(set(topics) - {-1})
    figures: Result = {
        "fit_s": fit_s,
        "topics": n_topics,
        "noise_share": topics.count(-1) / len(topics),
    }
    if n_topics < 2:  # nothing to merge: the flat result is the only cut
        return [np.array(topics)], [np.array(topics)], figures | {"hierarchy_s": 0.0}
    start = time.perf_counter()
    hier = model.hierarchical_topics(docs)
    figures["hierarchy_s"] = time.perf_counter() - start
    start = time.perf_counter()
    reduced = [
        int(t)
        for t in model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=vectors)
    ]
    figures["reduce_outliers_s"] = time.perf_counter() - start
    cuts = [np.array(cut_merge_tree(hier, topics, k)) for k in range(n_topics, 1, -1)]
    cuts_reduced = [np.array(cut_merge_tree(hier, reduced, k)) for k in range(n_topics, 1, -1)]
    return cuts, cuts_reduced, figures
