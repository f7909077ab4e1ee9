"""The paper map: every paper's embedding laid out in 2-D (UMAP, cosine), so papers that read
alike sit together. A build lays out all papers afresh; a refresh places only the papers that
have no coordinates yet, each at the similarity-weighted mean of its nearest laid-out papers,
so the map everyone has seen does not move when a few papers arrive."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hierograph.graph.store import GraphStore

Knn = tuple[np.ndarray, np.ndarray]  # (n, k) neighbour indices and cosine distances, self first

# Below this many papers UMAP's neighbour graph is too thin to mean much: PCA instead.
MIN_UMAP_POINTS = 10


@dataclass(frozen=True)
class LayoutReport:
    fitted: int = 0  # papers laid out by a whole fit
    placed: int = 0  # papers placed beside their neighbours


@dataclass
class MapLayout:
    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 42
    place_neighbors: int = 10
    # umap-learn's own choice above 10,000 points; below, it runs 500, which moves the map's
    # points little after 200 (a picture, not a clustering) and costs 2.5× the layout time.
    n_epochs: int = 200
    # More points than this: fit on this many random ones, transform the rest (0: never).
    sample_above: int = 0

    def fit(self, vectors: np.ndarray, knn: Knn | None = None) -> np.ndarray:
        """(n, 2) coordinates for `vectors` (n, d). `knn`: the rows' cosine neighbour graph
        (indices, distances) from an earlier UMAP of the same vectors (the map tree's): UMAP
        then skips its own neighbour search, the costliest step after the layout itself."""
        x = _normalized(vectors)
        n = len(x)
        if n == 0:
            return np.zeros((0, 2), dtype=np.float32)
        if n < MIN_UMAP_POINTS:
            return _pca2(x)
        import umap  # deferred: importing umap compiles numba code (seconds)

        if 0 < self.sample_above < n:
            return self._fit_sample(x)
        n_neighbors = max(2, min(self.n_neighbors, n - 1))
        reuse = knn is not None and len(knn[0]) == n and knn[0].shape[1] >= n_neighbors
        reducer = umap.UMAP(
            n_jobs=1,  # a seed makes UMAP single-threaded anyway; saying so keeps it quiet
            n_components=2,
            n_neighbors=n_neighbors,
            min_dist=self.min_dist,
            metric="cosine",
            n_epochs=self.n_epochs,
            random_state=self.seed,  # the same papers give the same map
            # Copies: UMAP marks disconnected neighbours in the arrays it is given.
            precomputed_knn=(
                (knn[0][:, :n_neighbors].copy(), knn[1][:, :n_neighbors].copy())
                if reuse and knn is not None
                else (None, None, None)
            ),
        )
        with warnings.catch_warnings():
            # "no search index: transform unavailable": the map never transforms
            warnings.filterwarnings("ignore", message="precomputed_knn")
            return np.asarray(reducer.fit_transform(x), dtype=np.float32)

    def _fit_sample(self, x: np.ndarray) -> np.ndarray:
        """A whole fit of `sample_above` random rows; the rest placed by UMAP's transform
        (their neighbours among the fitted rows, then a short optimisation of their own
        positions), so a 100k-paper map costs a fit of the sample plus a linear pass."""
        import umap

        n = len(x)
        rows = np.sort(np.random.default_rng(self.seed).choice(n, self.sample_above, replace=False))
        reducer = umap.UMAP(
            n_jobs=1,
            n_components=2,
            n_neighbors=max(2, min(self.n_neighbors, len(rows) - 1)),
            min_dist=self.min_dist,
            metric="cosine",
            n_epochs=self.n_epochs,
            random_state=self.seed,
        )
        out = np.empty((n, 2), dtype=np.float32)
        rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[rows] = reducer.fit_transform(x[rows])
            out[rest] = reducer.transform(x[rest])
        return out

    def place(self, new: np.ndarray, known: np.ndarray, known_xy: np.ndarray) -> np.ndarray:
        """Coordinates for `new` vectors beside their nearest `known` ones (cosine), weighted by
        similarity; known papers do not move."""
        if len(new) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        if len(known) == 0:
            return self.fit(new)
        a, b = _normalized(new), _normalized(known)
        k = min(self.place_neighbors, len(b))
        out = np.empty((len(a), 2), dtype=np.float32)
        for start in range(0, len(a), 1024):  # bounded memory: 1024 x n similarities at a time
            sims = a[start : start + 1024] @ b.T
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            weights = np.clip(np.take_along_axis(sims, nearest, axis=1), 1e-6, None) ** 4
            weights /= weights.sum(axis=1, keepdims=True)
            out[start : start + len(sims)] = np.einsum("ij,ijk->ik", weights, known_xy[nearest])
        return out


def update_layout(
    store: GraphStore,
    layout: MapLayout,
    refit: bool,
    knn: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None,
    embeddings: tuple[Sequence[str], np.ndarray] | None = None,
) -> LayoutReport:
    """`refit`: lay out every embedded paper afresh (a build). Otherwise place the embedded
    papers that have no coordinates (a refresh); with no map yet, that is a whole fit.
    `knn`: (paper ids, neighbour indices, distances) over the same embeddings (the map tree's
    corpus UMAP), reused for a whole fit when it covers exactly the embedded papers.
    `embeddings`: (paper ids, matrix) of what the store holds, for a refit by a build that has
    them in hand (memory-mapped): no second copy of every vector read back from the store."""
    if refit and embeddings is not None:
        ids = list(embeddings[0])
        if not ids:
            return LayoutReport()
        return _whole_fit(store, layout, ids, np.asarray(embeddings[1]), knn)
    vectors = store.get_embeddings()
    if not vectors:
        return LayoutReport()
    have = store.layout() if not refit else {}
    if not have:
        ids = list(vectors)
        return _whole_fit(store, layout, ids, np.stack([vectors[i] for i in ids]), knn)
    todo = [i for i in vectors if i not in have]
    if not todo:
        return LayoutReport()
    placed: dict[str, tuple[float, float]] = {}
    # A new paper's nearest papers are, almost always, the papers of its own topics: look for
    # its neighbours there (a hundred papers, not the whole map: placing 1,000 papers into a
    # 100k map compared each with every paper, 23.5 s of a 30.8-s refresh). A paper whose
    # topics hold too few mapped papers (or none yet) is compared with the whole map.
    for pid, near in _topic_neighbourhoods(store, todo, have, vectors).items():
        if len(near) < layout.place_neighbors:
            continue
        xy = layout.place(
            vectors[pid][None, :],
            np.stack([vectors[i] for i in near]),
            np.asarray([have[i] for i in near], dtype=np.float32),
        )
        placed[pid] = (float(xy[0, 0]), float(xy[0, 1]))
    rest = [i for i in todo if i not in placed]
    if rest:
        known = [i for i in have if i in vectors]
        xy = layout.place(
            np.stack([vectors[i] for i in rest]),
            np.stack([vectors[i] for i in known]) if known else np.zeros((0, 1)),
            np.asarray([have[i] for i in known], dtype=np.float32).reshape(-1, 2),
        )
        placed.update({i: (float(x), float(y)) for i, (x, y) in zip(rest, xy, strict=True)})
    store.set_layout(placed)
    return LayoutReport(placed=len(todo))


def _whole_fit(
    store: GraphStore,
    layout: MapLayout,
    ids: list[str],
    matrix: np.ndarray,
    knn: tuple[Sequence[str], np.ndarray, np.ndarray] | None,
) -> LayoutReport:
    """Lay out `ids` (the rows of `matrix`) afresh and replace the stored map with them."""
    xy = layout.fit(matrix, _reorder(knn, ids))
    store.set_layout(
        {i: (float(x), float(y)) for i, (x, y) in zip(ids, xy, strict=True)}, replace=True
    )
    return LayoutReport(fitted=len(ids))


def _topic_neighbourhoods(
    store: GraphStore,
    todo: Sequence[str],
    have: Mapping[str, tuple[float, float]],
    vectors: Mapping[str, np.ndarray],
) -> dict[str, list[str]]:
    """For each paper of `todo`, the mapped, embedded papers that share one of its topics."""
    wanted = set(todo)
    topics_of: dict[str, set[str]] = {}
    members: dict[str, list[str]] = {}
    for a in store.assignments():
        if a.paper_id in wanted:
            topics_of.setdefault(a.paper_id, set()).add(a.topic_id)
        elif a.paper_id in have and a.paper_id in vectors:
            members.setdefault(a.topic_id, []).append(a.paper_id)
    return {
        pid: sorted({m for t in topics_of.get(pid, ()) for m in members.get(t, ())}) for pid in todo
    }


def _reorder(
    knn: tuple[Sequence[str], np.ndarray, np.ndarray] | None, ids: list[str]
) -> Knn | None:
    """The neighbour graph with its rows and indices in the order of `ids`, or None when it
    is over other papers."""
    if knn is None:
        return None
    knn_ids, indices, dists = knn
    if list(knn_ids) == ids:
        return indices, dists
    position = {pid: i for i, pid in enumerate(knn_ids)}
    if len(position) != len(ids) or any(pid not in position for pid in ids):
        return None
    rows = np.array([position[pid] for pid in ids])
    new_index = np.empty(len(ids), dtype=indices.dtype)
    new_index[rows] = np.arange(len(ids))
    return new_index[indices[rows]], dists[rows]


def _normalized(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _pca2(x: np.ndarray) -> np.ndarray:
    centered = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2), dtype=np.float32)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    out = centered @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out.astype(np.float32)
