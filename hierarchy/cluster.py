"""Clustering stages. Each has explicit settings in __init__ and `fit_predict(X)` returning
(labels, strength): labels -1 for noise, strength in [0, 1] for membership confidence."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import silhouette_score


def unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def absorb_small(X: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Noise (-1) and clusters below `min_size` join the nearest remaining cluster by cosine;
    when fewer than two clusters reach `min_size`, everything is one group (label 0)."""
    labels = labels.copy()
    sizes = {c: int((labels == c).sum()) for c in set(labels.tolist()) if c != -1}
    keep = sorted(c for c, s in sizes.items() if s >= min_size)
    if len(keep) < 2:
        return np.zeros(len(labels), dtype=int)
    centroids = unit_rows(np.stack([X[labels == c].mean(axis=0) for c in keep]))
    for i in np.flatnonzero(~np.isin(labels, keep)):
        labels[i] = keep[int(np.argmax(centroids @ X[i]))]
    return labels


class UmapReducer:
    """UMAP to a few dimensions where density clustering works; small inputs pass through."""

    def __init__(self, n_neighbors: int = 15, n_components: int = 5, seed: int = 42) -> None:
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.seed = seed

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if n <= self.n_components + 2:
            return X
        import umap  # deferred: importing umap compiles numba code (seconds)

        reducer = umap.UMAP(
            n_neighbors=max(2, min(self.n_neighbors, n - 1)),
            n_components=self.n_components,
            metric="cosine",
            min_dist=0.0,
            random_state=self.seed,  # also makes UMAP single-threaded, hence deterministic
            init="spectral" if n > self.n_components + 10 else "random",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return reducer.fit_transform(X)


class HdbscanClusterer:
    def __init__(self, min_cluster_size: int = 4) -> None:
        self.min_cluster_size = min_cluster_size

    def fit_predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(X) < 2 * self.min_cluster_size:
            return np.full(len(X), -1), np.zeros(len(X))
        model = HDBSCAN(min_cluster_size=self.min_cluster_size, copy=True).fit(X)
        return model.labels_, model.probabilities_


class KMeansSplitter:
    """k-means for k = 2…max_k, outlier clusters absorbed, the k with the best silhouette kept;
    the fallback when density finds fewer than two clusters."""

    def __init__(self, max_k: int = 8, min_size: int = 2, seed: int = 42) -> None:
        self.max_k = max_k
        self.min_size = min_size
        self.seed = seed

    def fit_predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(X)
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for k in range(2, min(self.max_k, n - 1) + 1):
            model = KMeans(n_clusters=k, n_init=3, random_state=self.seed).fit(X)
            labels = absorb_small(X, model.labels_, self.min_size)
            if len(set(labels.tolist())) < 2:
                continue
            # A sample bounds the quadratic cost of silhouette on large nodes.
            score = float(
                silhouette_score(
                    X, labels, metric="cosine", sample_size=min(n, 1000), random_state=self.seed
                )
            )
            if best is None or score > best[0]:
                best = (score, labels, 1.0 / (1.0 + model.transform(X).min(axis=1)))
        if best is None:
            return np.zeros(n, dtype=int), np.ones(n)
        return best[1], best[2]
