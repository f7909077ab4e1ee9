"""The map split: a whole subtree at once from one map of its papers.

Papers are cut into many small k-means clusters (the leaves) on the map (the corpus's UMAP
coordinates, or the embeddings themselves for small corpora), the leaf centroids are merged by
Ward linkage, and the merge tree is cut at topic counts that grow geometrically from the top
level to the leaves. Ward cuts of one merge tree are nested, so every level refines the one
above it. Measured on the expert gold sets (docs/benchmarks.md), this agrees with experts
better than HDBSCAN's clusters grouped per node, and costs one k-means and one small linkage.
"""

from __future__ import annotations

import math

import numpy as np

from hierograph.hierarchy.cluster import absorb_small

# Ward's linkage is quadratic in the leaves: beyond this many, leaves grow larger instead (on a
# million papers, about 500 each at this level, split further only where depth is left).
MAX_LEAVES = 2000


def level_counts(n_leaves: int, top: int, levels: int) -> list[int]:
    """Topic counts from the top level down to the leaves, growing geometrically; a count that
    repeats is dropped (it would only make a parent of one child)."""
    top = max(2, min(top, n_leaves))
    if levels <= 1 or top >= n_leaves:
        return [n_leaves] if levels <= 1 else [top]
    ratio = (n_leaves / top) ** (1 / (levels - 1))
    counts = [round(top * ratio**j) for j in range(levels)]
    counts[-1] = n_leaves
    return sorted(set(counts))


def top_count(n: int, max_branching: int) -> int:
    """Top-level topics for n papers: about sqrt(n)/3 (3 for 100 papers, 11 for 1,000), at most
    max_branching, so a browsable first level at any corpus size."""
    return max(2, min(max_branching, round(math.sqrt(n) / 3)))


def nested_split(
    Y: np.ndarray,
    X: np.ndarray,
    leaf_size: float,
    counts_top: int,
    levels: int,
    min_leaf_size: int,
    seed: int,
) -> list[list[int]] | None:
    """For rows of the map Y (X: the same rows' unit embeddings, for absorbing tiny leaves):
    per level, from the top level down to the leaves, each row's cluster. None when the rows
    make fewer than two leaves."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import KMeans

    n = len(Y)
    n_leaves = min(max(2, round(n / leaf_size)), n // max(1, min_leaf_size), MAX_LEAVES)
    if n_leaves < 2:
        return None
    leaf = KMeans(n_clusters=n_leaves, n_init=3, random_state=seed).fit_predict(Y)
    leaf = absorb_small(X, leaf, min_leaf_size)
    found = sorted(set(leaf.tolist()))
    if len(found) < 2:
        return None
    index = {c: i for i, c in enumerate(found)}
    leaf = np.array([index[c] for c in leaf.tolist()])
    centroids = np.stack([Y[leaf == c].mean(axis=0) for c in range(len(found))])
    if len(found) == 2:
        return [leaf.tolist()]
    merges = linkage(centroids, method="ward")
    out = []
    for count in level_counts(len(found), counts_top, levels):
        if count >= len(found):
            out.append(leaf.tolist())
        else:
            of_leaf = fcluster(merges, count, criterion="maxclust")
            out.append(of_leaf[leaf].tolist())
    return out
