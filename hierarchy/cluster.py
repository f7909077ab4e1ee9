"""Clustering stages. Each has explicit settings in __init__ and `fit_predict(X)` returning
(labels, strength): labels -1 for noise, strength in [0, 1] for membership confidence.

Backends: the CPU path (umap-learn, sklearn's or fast_hdbscan's HDBSCAN) is the reference;
cuML's UMAP and HDBSCAN take over on a CUDA GPU when installed. The cuML branches are kept
small and import-guarded: no machine this project tests on has a GPU, so they are untested."""

from __future__ import annotations

import importlib.util
import warnings
from typing import Literal

import numpy as np
from sklearn.cluster import HDBSCAN, KMeans
from sklearn.metrics import silhouette_score


def unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


# umap-learn's own bound: below it UMAP computes every pairwise distance through sklearn with
# its numba metric called once per pair from Python (6 s for 2,000 points, then a numba compile
# of its exact kNN); `exact_cosine_knn` gives it the same exact neighbours from one matrix
# product instead, which the paper map then reuses too.
UMAP_EXACT_BELOW = 4096


def exact_cosine_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `k` nearest rows by cosine distance, itself first at distance 0, as
    (indices, distances): the exact neighbours umap-learn finds for small inputs."""
    x = unit_rows(np.asarray(X, dtype=np.float64))
    dist = 1.0 - x @ x.T
    np.fill_diagonal(dist, 0.0)
    np.maximum(dist, 0.0, out=dist)
    indices = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return indices, np.take_along_axis(dist, indices, axis=1)


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


def cuml_usable() -> bool:
    """cuML is installed and a CUDA device is visible (cuML needs both)."""
    if importlib.util.find_spec("cuml") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no device, broken install: all mean "no GPU"
        return False


def resolve_backend(wanted: str) -> Literal["cpu", "cuml"]:
    """`auto`: cuML on a GPU when installed, else the CPU reference path."""
    if wanted == "auto":
        return "cuml" if cuml_usable() else "cpu"
    if wanted == "cuml" and not cuml_usable():
        raise RuntimeError("cluster_backend=cuml, but cuML or a CUDA GPU is missing")
    return "cuml" if wanted == "cuml" else "cpu"


def resolve_hdbscan(
    wanted: str, points: int = 0, fast_min_points: int = 200_000
) -> Literal["sklearn", "fast_hdbscan"]:
    """`auto`: sklearn's HDBSCAN (the reference) for nodes below `fast_min_points`, fast_hdbscan
    (parallel Boruvka MST) above when installed. In the deterministic mode rebuilds need,
    fast_hdbscan was 4-20x slower than sklearn on 9k-50k points (2 cores), so it only pays
    where sklearn's MST becomes the bottleneck."""
    if wanted == "auto":
        big = points >= fast_min_points
        return "fast_hdbscan" if big and importlib.util.find_spec("fast_hdbscan") else "sklearn"
    return "fast_hdbscan" if wanted == "fast_hdbscan" else "sklearn"


class UmapReducer:
    """UMAP to a few dimensions where density clustering works; small inputs pass through.

    At scale: umap-learn switches to approximate kNN (pynndescent) above 4,096 points;
    `low_memory` keeps pynndescent's memory use down; `fit_sample` > 0 fits UMAP on that many
    random points and maps the rest with `transform`, so a node of a million points costs a
    fit on the sample plus a linear pass; `sample_above` > 0 does so with a sample of that
    size for inputs larger than it (smaller ones are fitted whole, as before)."""

    def __init__(
        self,
        n_neighbors: int = 15,
        n_components: int = 5,
        seed: int = 42,
        low_memory: bool = True,
        fit_sample: int = 0,
        backend: Literal["cpu", "cuml"] = "cpu",
        sample_above: int = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.seed = seed
        self.low_memory = low_memory
        self.fit_sample = fit_sample
        self.backend = backend
        self.sample_above = sample_above
        # The last full fit's neighbour graph over its input rows (see _knn_graph), or None.
        self.knn_: tuple[np.ndarray, np.ndarray] | None = None

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        if n <= self.n_components + 2:
            return X
        size = self.fit_sample or (self.sample_above if 0 < self.sample_above < n else 0)
        sample = 0 < size < n
        fit_rows = (
            np.sort(np.random.default_rng(self.seed).choice(n, size, replace=False))
            if sample
            else np.arange(n)
        )
        knn = None
        if self.backend != "cuml" and not sample and n < UMAP_EXACT_BELOW:
            knn = exact_cosine_knn(X, max(2, min(self.n_neighbors, n - 1)))
        reducer = self._make(len(fit_rows), knn)
        self.knn_ = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not sample:
                out = np.asarray(reducer.fit_transform(X))
                self.knn_ = _knn_graph(reducer, n)
                return out
            out = np.empty((n, self.n_components), dtype=np.float32)
            out[fit_rows] = np.asarray(reducer.fit_transform(X[fit_rows]))
            rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
            out[rest] = np.asarray(reducer.transform(X[rest]))
            return out

    def _make(  # noqa: ANN202 - umap / cuML objects, both imported late
        self, n: int, knn: tuple[np.ndarray, np.ndarray] | None = None
    ):
        """The reducer for `n` rows; `knn`: their exact neighbour graph (umap-learn only)."""
        n_neighbors = max(2, min(self.n_neighbors, n - 1))
        if self.backend == "cuml":
            from cuml.manifold import UMAP

            return UMAP(
                n_neighbors=n_neighbors,
                n_components=self.n_components,
                metric="cosine",
                min_dist=0.0,
                random_state=self.seed,
                output_type="numpy",
            )
        import umap  # deferred: importing umap compiles numba code (seconds)

        return umap.UMAP(
            n_neighbors=n_neighbors,
            n_components=self.n_components,
            metric="cosine",
            min_dist=0.0,
            random_state=self.seed,  # also makes UMAP single-threaded, hence deterministic
            init="spectral" if n > self.n_components + 10 else "random",
            low_memory=self.low_memory,
            precomputed_knn=(knn[0], knn[1], None) if knn is not None else (None, None, None),
        )


def _knn_graph(reducer: object, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cosine nearest-neighbour graph (indices, distances) a umap-learn fit of n rows
    computed, so the paper map can reuse it instead of searching again; None from cuML."""
    indices = getattr(reducer, "_knn_indices", None)
    dists = getattr(reducer, "_knn_dists", None)
    if not isinstance(indices, np.ndarray) or not isinstance(dists, np.ndarray):
        return None
    if indices.shape != dists.shape or len(indices) != n or (indices < 0).any():
        return None  # a row UMAP disconnected: let the map search afresh
    return indices, dists


class HdbscanClusterer:
    """HDBSCAN by one of three implementations with the same defaults (min_samples =
    min_cluster_size, excess-of-mass selection): sklearn's (the reference), fast_hdbscan's
    (parallel, run in its deterministic mode so a rebuild gives the same tree), or cuML's."""

    def __init__(
        self,
        min_cluster_size: int = 4,
        impl: Literal["auto", "sklearn", "fast_hdbscan", "cuml"] = "sklearn",
        fast_min_points: int = 200_000,
        min_samples: int | None = None,
        selection: Literal["eom", "leaf"] = "eom",
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.impl = impl
        self.fast_min_points = fast_min_points
        self.min_samples = min_samples  # None: min_cluster_size, as every implementation does
        self.selection = selection

    def fit_predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(X) < 2 * self.min_cluster_size:
            return np.full(len(X), -1), np.zeros(len(X))
        impl = self.impl
        if impl != "cuml":
            impl = resolve_hdbscan(impl, len(X), self.fast_min_points)
        samples = self.min_samples or self.min_cluster_size
        if impl == "fast_hdbscan":
            import fast_hdbscan  # deferred: numba-compiled, loads in seconds

            # fast_hdbscan's min_samples counts neighbours without the point itself, sklearn's
            # with it: one less gives sklearn's core distances (measured on the 9,263 papers:
            # ARI 0.95 to sklearn's labels at min_cluster_size 4, against 0.66 without it).
            model = fast_hdbscan.HDBSCAN(
                min_cluster_size=self.min_cluster_size,
                min_samples=max(1, samples - 1),
                cluster_selection_method=self.selection,
                reproducible=True,
            ).fit(X)
        elif impl == "cuml":
            from cuml.cluster.hdbscan import HDBSCAN as CumlHDBSCAN

            model = CumlHDBSCAN(
                min_cluster_size=self.min_cluster_size,
                min_samples=samples,
                cluster_selection_method=self.selection,
                output_type="numpy",
            ).fit(X)
        else:
            model = HDBSCAN(
                min_cluster_size=self.min_cluster_size,
                min_samples=samples,
                cluster_selection_method=self.selection,
                copy=True,
            ).fit(X)
        return np.asarray(model.labels_), np.asarray(model.probabilities_)


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
