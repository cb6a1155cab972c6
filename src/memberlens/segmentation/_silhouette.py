"""Mean silhouettes of several clusterings of the same points, from one pass over their
pairwise distances.

The silhouette of a point (Rousseeuw 1987, "Silhouettes: a graphical aid to the interpretation
and validation of cluster analysis", J. Comput. Appl. Math. 20) is (b - a) / max(a, b), with a
the mean distance to the other members of its cluster and b the smallest mean distance to the
members of another cluster; 0 in a cluster of one. scikit-learn's ``silhouette_score``
computes the Euclidean distances of all pairs again for every clustering; choosing k compares
seven clusterings of the same sample, so here the distances are computed once, a block of rows
at a time (bounded memory), and summed per cluster of every clustering with one matrix product.
The figures are scikit-learn's (tests/segmentation/test_silhouette.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean_silhouettes"]

BLOCK_CELLS = 1 << 22  # distances held at once (32 MiB)


def mean_silhouettes(points: np.ndarray, labelings: list[np.ndarray]) -> list[float]:
    """The mean silhouette (Euclidean) of each labelling of ``points``; each needs 2 to
    n - 1 distinct labels, as in ``sklearn.metrics.silhouette_score``."""
    points = np.asarray(points, dtype=float)
    n = len(points)
    codes, sizes, offsets = [], [], [0]
    for labels in labelings:
        found, code = np.unique(np.asarray(labels), return_inverse=True)
        if not 2 <= found.size <= n - 1:
            raise ValueError(
                f"labels: {found.size} distinct labels for {n} points; need 2 to {n - 1}"
            )
        codes.append(code + offsets[-1])
        sizes.append(np.bincount(code))
        offsets.append(offsets[-1] + found.size)
    # one indicator column per cluster of every clustering: distance sums per cluster at once
    member = np.zeros((n, offsets[-1]))
    for code in codes:
        member[np.arange(n), code] = 1.0
    squares = np.einsum("ij,ij->i", points, points)
    sums = np.empty((n, offsets[-1]))
    step = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, n, step):
        block = slice(start, min(start + step, n))
        # |x - y|^2 = |x|^2 - 2 x.y + |y|^2, clipped at 0, self-distance 0 (as scikit-learn)
        dist = -2.0 * points[block] @ points.T
        dist += squares[block, None]
        dist += squares[None, :]
        np.maximum(dist, 0.0, out=dist)
        rows = np.arange(block.start, block.stop)
        dist[rows - block.start, rows] = 0.0
        np.sqrt(dist, out=dist)
        sums[block] = dist @ member
    out = []
    rows = np.arange(n)
    for code, size, first, last in zip(codes, sizes, offsets[:-1], offsets[1:], strict=True):
        own = code - first
        per_cluster = sums[:, first:last]
        counts = size[own]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = per_cluster[rows, own] / (counts - 1)
            means = per_cluster / size
            means[rows, own] = np.inf
            b = means.min(axis=1)
            score = (b - a) / np.maximum(a, b)
        score[counts == 1] = 0.0
        out.append(float(np.mean(np.nan_to_num(score))))
    return out
