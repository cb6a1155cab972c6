"""Member clusters (会员聚类) with profiles: scikit-learn clusters; we choose, profile, scale.

**Scaling.** Money and count columns (:data:`LOG_COLUMNS`: spend, frequency, CLV ...) are
skewed, so they go through ``sign(x) * log1p(|x|)`` first; shares (:data:`SHARE_COLUMNS`:
refund share, P(alive)) are clipped to [0, 1]; then every column is clipped to its 0.5 % and
99.5 % quantiles (:data:`WINSOR`), so that one member (one UK export had a
refund share of 5,705 %: refunds of orders bought before the data starts) cannot stretch the
scale and own a cluster; then every column is standardised (``StandardScaler``, fitted on the
sample).

**Missing values.** A missing CLV (members with net value <= 0 get none) counts as 0; with the
default columns, a column nobody has a value for is left out; other columns must be complete.

**Fit on a sample, assign everyone.** The model is fitted on at most ``sample_size`` members
drawn with ``random_state`` (Ward on at most :data:`WARD_SAMPLE` of them, HDBSCAN on at most
:data:`HDBSCAN_SAMPLE`: both are quadratic-ish). Sampled members keep the label the algorithm gave
them; every other member goes to the nearest cluster centroid (mean of the sampled members of the
cluster, in scaled units), computed in numpy in batches of :data:`ASSIGN_BATCH` rows, so memory is
bounded. For k-means this is exactly ``KMeans.predict``. HDBSCAN's noise points (label ``-1``)
stay noise in the sample; members outside the sample are assigned to the nearest cluster.
The native thread pools (OpenMP / BLAS) are limited to one thread for the duration of the call
(``threadpoolctl``, scoped, no global state): the k search runs dozens of small fits, and on a
shared 2-core machine thread oversubscription made a 2,000-member KMeans fit 100x slower.

**Choosing k** (``k="auto"``, k in 2..8, on a selection sample of at most
:data:`SELECTION_SAMPLE` members): the mean silhouette (Rousseeuw 1987) and the stability, the
mean adjusted Rand index (Hubert & Arabie 1985) between the clustering of the selection sample
and :data:`N_BOOTSTRAP` clusterings of bootstrap resamples of it, each extended to the whole
selection sample by nearest centroid (Ben-Hur, Elisseeff & Guyon 2002; Lange et al. 2004). The
chosen k has the best silhouette among the k whose stability is at least
:data:`MIN_STABILITY`; when no k is that stable, the best silhouette overall. The silhouettes
of every k come from one pass over the sample's pairwise distances
(:mod:`memberlens.segmentation._silhouette`, scikit-learn's figures), and the chosen k's fit on
the selection sample is the final fit when that sample is the whole fitting sample. HDBSCAN finds
its own number of clusters (``k`` must stay ``"auto"``).

**Profiles.** Per cluster: size and share, the mean of every numeric feature and its ratio to
the base (all members), the favourite categories whose share in the cluster is well above the
base (lift = share in cluster / share in base, at least :data:`MIN_LIFT`), and a short name and
description in English and Chinese generated from those ratios (see
:mod:`memberlens.segmentation._cluster_profiles`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError, DataError
from memberlens.segmentation._cluster_profiles import cluster_profiles
from memberlens.segmentation._silhouette import mean_silhouettes

__all__ = [
    "DEFAULT_COLUMNS",
    "LOG_COLUMNS",
    "SHARE_COLUMNS",
    "ClusterModel",
    "ClusterResult",
    "cluster_members",
    "cluster_shift",
    "scale_features",
]

Method = Literal["kmeans", "ward", "hdbscan"]

#: feature columns used by default (those present in the frame)
DEFAULT_COLUMNS: tuple[str, ...] = (
    "frequency",
    "total_spend",
    "aov",
    "days_since_last",
    "T",
    "refund_share",
    "clv",
    "p_alive",
    "engagement",
)
#: skewed money / count columns that are log-transformed before standardising
LOG_COLUMNS: frozenset[str] = frozenset(
    {
        "frequency",
        "order_count",
        "purchase_days",
        "monetary_value",
        "total_spend",
        "aov",
        "clv",
        "refunded_amount",
        "events_90d",
        "interactions_90d",
        "engagement",
        "expected_purchases_90d",
    }
)
#: shares, clipped to [0, 1] before standardising
SHARE_COLUMNS: frozenset[str] = frozenset({"refund_share", "p_alive"})
#: every scaled column is clipped to its [WINSOR, 1 - WINSOR] quantiles (over the sample)
WINSOR = 0.005
#: default columns whose missing value means "no value": filled with 0
ZERO_IF_MISSING: frozenset[str] = frozenset({"clv"})
K_RANGE = range(2, 9)
SELECTION_SAMPLE = 5_000
WARD_SAMPLE = 20_000
HDBSCAN_SAMPLE = 20_000
N_BOOTSTRAP = 5
MIN_STABILITY = 0.8
MIN_LIFT = 1.2
ASSIGN_BATCH = 100_000


@dataclass(frozen=True)
class ClusterModel:
    """What assigns members to the clusters again without a new fit: the columns, the
    scaling (transform of :func:`scale_features`, its clip bounds, the standardisation) and the
    centroids in scaled units, with each cluster's share of the members when it was fitted
    (the reference :func:`cluster_shift` compares a new assignment with). ``fitted_on``: the
    as-of day of the fit (ISO text; set by the caller)."""

    method: str
    columns: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    ids: tuple[int, ...]
    centers: tuple[tuple[float, ...], ...]
    shares: tuple[float, ...]
    fitted_on: str = ""
    #: the labels' integer type as the fit gave it (k-means int32, Ward int64)
    label_type: str = "int64"

    def scaled(self, frame: pd.DataFrame) -> np.ndarray:
        """``frame``'s columns in the fitted scaled units."""
        raw = _transform(frame, self.columns)
        raw = np.clip(raw, np.asarray(self.low), np.asarray(self.high))
        return (raw - np.asarray(self.mean)) / np.asarray(self.scale)

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        """The cluster id of every row of ``frame`` (nearest centroid)."""
        centers = np.asarray(self.centers, dtype=float)
        ids = np.asarray(self.ids, dtype=self.label_type)
        return ids[nearest_centroid(self.scaled(frame), centers)]

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def from_json(cls, text: str) -> ClusterModel:
        data: dict[str, Any] = json.loads(text)
        tuples = ("columns", "low", "high", "mean", "scale", "ids", "shares")
        data = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        data["centers"] = tuple(tuple(row) for row in data["centers"])
        return cls(**data)


def cluster_shift(model: ClusterModel, labels: np.ndarray) -> float:
    """Population stability index of the cluster shares of ``labels`` against the shares when
    ``model`` was fitted: ``sum((a - e) * ln(a / e))`` over the clusters, shares floored at
    1e-4 (Siddiqi 2006, ch. 8; the churn step's drift measure). Above 0.2 is a shift."""
    ids = np.asarray(model.ids)
    labels = np.asarray(labels)
    actual = np.array([(labels == i).mean() for i in ids]) if len(labels) else np.zeros(len(ids))
    expected = np.maximum(np.asarray(model.shares, dtype=float), 1e-4)
    actual = np.maximum(actual, 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class ClusterResult:
    """The clusters of a member base.

    ``labels``: one row per member (``member_id``, ``cluster``, ``name_en``, ``name_zh``; -1
    is HDBSCAN noise);
    ``profiles``: one row per cluster (see :func:`cluster_profiles`); ``centers``: cluster
    means in original units, one row per cluster; ``selection``: per candidate k the
    ``silhouette`` and ``stability`` (empty when k was given); ``scaled_centers``: the centroids
    in scaled units, used to assign members.
    """

    method: str
    k: int
    columns: tuple[str, ...]
    labels: pd.DataFrame
    profiles: pd.DataFrame
    centers: pd.DataFrame
    scaled_centers: np.ndarray
    selection: pd.DataFrame
    sample_size: int
    random_state: int
    #: what assigns members again without a fit (None for HDBSCAN, which has noise)
    model: ClusterModel | None = field(default=None, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The profiles, one row per cluster."""
        return self.profiles

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "k": self.k,
            "columns": list(self.columns),
            "sample_size": self.sample_size,
            "random_state": self.random_state,
            "selection": self.selection.to_dict(orient="records"),
            "profiles": self.profiles.to_dict(orient="records"),
        }


def scale_features(frame: pd.DataFrame, columns) -> np.ndarray:
    """The columns as a float matrix, ``sign(x) * log1p(|x|)`` on :data:`LOG_COLUMNS`, shares
    clipped to [0, 1] (:data:`SHARE_COLUMNS`), then every column clipped to its
    [:data:`WINSOR`, 1 - :data:`WINSOR`] quantiles; not yet standardised."""
    values = _transform(frame, columns)
    if len(values):  # one extreme member cannot stretch a column's scale
        low, high = np.quantile(values, [WINSOR, 1.0 - WINSOR], axis=0)
        values = np.clip(values, low, high)
    return values


def _transform(frame: pd.DataFrame, columns) -> np.ndarray:
    """The columns as floats, log1p on :data:`LOG_COLUMNS`, :data:`SHARE_COLUMNS` clipped."""
    values = frame[list(columns)].to_numpy(dtype=float, copy=True)
    for j, column in enumerate(columns):
        if column in LOG_COLUMNS:
            values[:, j] = np.sign(values[:, j]) * np.log1p(np.abs(values[:, j]))
        elif column in SHARE_COLUMNS:
            values[:, j] = np.clip(values[:, j], 0.0, 1.0)
    return values


def cluster_members(
    features,
    *,
    method: Method = "kmeans",
    k: int | Literal["auto"] = "auto",
    columns=None,
    sample_size: int = 200_000,
    random_state: int = 0,
    model: ClusterModel | None = None,
) -> ClusterResult:
    """Cluster members on their features and profile each cluster.

    ``model``: a :class:`ClusterModel` from an earlier result: members are assigned to its
    centroids (its k, columns and scaling) with no fit and no choice of k; ``method``, ``k``
    and ``columns`` are then the model's.

    ``features``: a pandas frame or Ibis table with ``member_id`` and numeric columns (the
    output of :func:`memberlens.features.rfm_summary` or the ``mart_members`` mart).

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> spend = np.r_[rng.normal(100, 10, 300), rng.normal(2000, 100, 300)]
    >>> freq = np.r_[rng.poisson(1, 300), rng.poisson(12, 300)]
    >>> frame = pd.DataFrame({"member_id": np.arange(600).astype(str),
    ...                       "total_spend": spend, "frequency": freq})
    >>> result = cluster_members(frame, k=2)
    >>> sorted(result.profiles["size"].tolist())
    [300, 300]
    """
    from threadpoolctl import threadpool_limits

    frame = _as_pandas(features)
    with threadpool_limits(limits=1):  # scoped: many small fits, see the module docstring
        if model is not None:
            return _reassign(frame, model, random_state)
        return _cluster(frame, method, k, columns, sample_size, random_state)


def _reassign(frame: pd.DataFrame, model: ClusterModel, random_state: int) -> ClusterResult:
    """The clusters of ``model`` for the members of ``frame`` (nearest centroid), profiled."""
    columns = _check(frame, model.method, len(model.ids), list(model.columns), 10)
    labels = model.assign(frame)
    return _result(frame, model.method, columns, labels, model, pd.DataFrame(), 0, random_state)


def _result(frame, method, columns, labels, model, selection, sample_size, random_state):
    found = np.asarray(model.ids) if model is not None else np.unique(labels[labels >= 0])
    original = frame[list(columns)].astype(float).groupby(labels).mean()
    profiles = cluster_profiles(frame, labels)
    names = profiles.set_index("cluster")
    out = pd.DataFrame(
        {
            "member_id": frame["member_id"].to_numpy(),
            "cluster": labels,
            "name_en": names["name_en"].reindex(labels).to_numpy(),
            "name_zh": names["name_zh"].reindex(labels).to_numpy(),
        }
    )
    centers = np.asarray(model.centers, dtype=float) if model is not None else np.empty((0, 0))
    return ClusterResult(
        method=method,
        k=len(found),
        columns=tuple(columns),
        labels=out,
        profiles=profiles,
        centers=original.rename_axis("cluster"),
        scaled_centers=centers,
        selection=selection,
        sample_size=sample_size,
        random_state=random_state,
        model=model,
    )


def _cluster(frame, method, k, columns, sample_size, random_state) -> ClusterResult:
    from sklearn.preprocessing import StandardScaler

    columns = _check(frame, method, k, columns, sample_size)
    raw = _transform(frame, columns)
    low = high = np.zeros(len(columns))
    if len(raw):  # as scale_features: one extreme member cannot stretch a column's scale
        low, high = np.quantile(raw, [WINSOR, 1.0 - WINSOR], axis=0)
        raw = np.clip(raw, low, high)
    rng = np.random.default_rng(random_state)
    n = len(frame)
    cap = {
        "kmeans": sample_size,
        "ward": min(sample_size, WARD_SAMPLE),
        "hdbscan": min(sample_size, HDBSCAN_SAMPLE),
    }[method]
    sample = np.sort(rng.choice(n, cap, replace=False)) if n > cap else np.arange(n)
    scaler = StandardScaler().fit(raw[sample])
    scaled = scaler.transform(raw)
    selection = pd.DataFrame(columns=["k", "silhouette", "stability"])
    fits: dict[int, np.ndarray] = {}
    if k == "auto" and method != "hdbscan":
        selection, fits = _select_k(scaled[sample], method, rng, random_state)
        k = int(_chosen_k(selection))
    # the selection fitted the chosen k on these very points with this random_state: same fit
    fitted = fits[k] if k in fits else _fit_labels(scaled[sample], method, k, random_state)
    found = np.unique(fitted[fitted >= 0])
    centers = np.vstack([scaled[sample][fitted == c].mean(axis=0) for c in found])
    labels = found[nearest_centroid(scaled, centers)]
    labels[sample] = fitted
    model = None
    if method != "hdbscan":  # HDBSCAN's noise has no centroid to assign to again
        model = ClusterModel(
            method=method,
            columns=tuple(columns),
            low=tuple(map(float, low)),
            high=tuple(map(float, high)),
            mean=tuple(map(float, scaler.mean_)),
            scale=tuple(map(float, scaler.scale_)),
            ids=tuple(int(c) for c in found),
            centers=tuple(tuple(map(float, row)) for row in centers),
            shares=tuple(float((labels == c).mean()) for c in found),
            label_type=labels.dtype.name,
        )
    result = _result(frame, method, columns, labels, model, selection, len(sample), random_state)
    return ClusterResult(**{**result.__dict__, "scaled_centers": centers})


def nearest_centroid(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) per row, in batches of
    :data:`ASSIGN_BATCH` rows; ties go to the lower index, as in ``KMeans.predict``."""
    out = np.empty(len(points), dtype=np.int64)
    center_sq = (centers**2).sum(axis=1)
    for start in range(0, len(points), ASSIGN_BATCH):
        block = points[start : start + ASSIGN_BATCH]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is constant per row
        out[start : start + len(block)] = np.argmin(center_sq - 2.0 * block @ centers.T, axis=1)
    return out


def _fit_labels(points: np.ndarray, method: str, k, random_state: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans

    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(points).labels_
    if method == "ward":
        return AgglomerativeClustering(n_clusters=k, linkage="ward").fit(points).labels_
    min_size = max(10, len(points) // 100)
    labels = HDBSCAN(min_cluster_size=min_size, copy=True).fit(points).labels_
    if (labels >= 0).sum() == 0:
        raise DataError(
            f"method: HDBSCAN found no cluster among {len(points):,} members "
            "(every point is noise); use method='kmeans' or 'ward'"
        )
    return labels


def _select_k(
    points: np.ndarray, method: str, rng, random_state: int
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """Silhouette and bootstrap stability (mean ARI) for each k in :data:`K_RANGE`, and the
    labels of each k's fit when it was made on all of ``points`` (no selection sample)."""
    from sklearn.metrics import adjusted_rand_score

    whole = len(points) <= SELECTION_SAMPLE
    if not whole:
        points = points[np.sort(rng.choice(len(points), SELECTION_SAMPLE, replace=False))]
    rows, fits = [], {}
    for k in K_RANGE:
        if k >= len(points):
            break
        labels = _fit_labels(points, method, k, random_state)
        aris = []
        for b in range(N_BOOTSTRAP):
            idx = rng.choice(len(points), len(points), replace=True)
            boot = _fit_labels(points[idx], method, k, random_state + b + 1)
            found = np.unique(boot)
            centers = np.vstack([points[idx][boot == c].mean(axis=0) for c in found])
            aris.append(adjusted_rand_score(labels, nearest_centroid(points, centers)))
        rows.append({"k": k, "stability": float(np.mean(aris))})
        fits[k] = labels
    # the pairwise distances once for every k (scikit-learn's silhouette_score: once per k)
    silhouettes = mean_silhouettes(points, list(fits.values())) if fits else []
    selection = pd.DataFrame(
        [
            {"k": r["k"], "silhouette": v, "stability": r["stability"]}
            for r, v in zip(rows, silhouettes, strict=True)
        ],
        columns=["k", "silhouette", "stability"],
    )
    return selection, fits if whole else {}


def _chosen_k(selection: pd.DataFrame) -> int:
    stable = selection[selection["stability"] >= MIN_STABILITY]
    pool = stable if len(stable) else selection
    return int(pool.loc[pool["silhouette"].idxmax(), "k"])


def _as_pandas(features) -> pd.DataFrame:
    if isinstance(features, pd.DataFrame):
        return features.reset_index(drop=True)
    if hasattr(features, "to_pandas"):
        return features.to_pandas().reset_index(drop=True)
    raise DataError(
        f"features: expected a pandas DataFrame or an Ibis table, got "
        f"{type(features).__name__}; pass rfm_summary(...) or the mart_members table"
    )


def _check(frame: pd.DataFrame, method, k, columns, sample_size) -> list[str]:
    if method not in ("kmeans", "ward", "hdbscan"):
        raise ConfigError(f"method: must be 'kmeans', 'ward' or 'hdbscan', got {method!r}")
    if method == "hdbscan" and k != "auto":
        raise ConfigError(
            f"k: HDBSCAN finds its own number of clusters, got k={k!r}; "
            "leave k='auto' or use method='kmeans' or 'ward'"
        )
    if k != "auto" and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2):
        raise ConfigError(f"k: must be 'auto' or an integer >= 2, got {k!r}")
    if not isinstance(sample_size, (int, np.integer)) or sample_size < 10:
        raise ConfigError(f"sample_size: must be an integer >= 10, got {sample_size!r}")
    if "member_id" not in frame.columns:
        raise DataError(
            "features: column 'member_id' is missing; pass the output of "
            "rfm_summary or the mart_members table"
        )
    if columns is None:
        columns = [c for c in DEFAULT_COLUMNS if c in frame.columns and frame[c].notna().any()]
    columns = list(columns)
    for c in ZERO_IF_MISSING.intersection(columns).intersection(frame.columns):
        if frame[c].isna().any():
            frame[c] = frame[c].fillna(0.0)
    missing = [c for c in columns if c not in frame.columns]
    if missing or not columns:
        raise DataError(
            f"columns: {missing or 'none'} not in the features (found "
            f"{list(frame.columns)}); pass columns= that exist"
        )
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataError(f"columns: {bad} are not numeric; pass numeric columns only")
    nulls = {c: int(frame[c].isna().sum()) for c in columns if frame[c].isna().any()}
    if nulls:
        raise DataError(
            f"columns: missing values {nulls}; fill or drop those members first, "
            "or leave the columns out with columns="
        )
    if k != "auto" and k > len(frame):
        raise DataError(f"k: {k} clusters asked for {len(frame)} members; use a smaller k")
    if len(frame) < 3:
        raise DataError(f"features: {len(frame)} members, need at least 3 to cluster")
    return columns
