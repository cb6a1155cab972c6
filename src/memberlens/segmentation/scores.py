"""RFM quantile scores 1..n with explicit, stored bin edges.

The edges are the ``k / n_bins`` quantiles (k = 1..n_bins-1) of each metric, computed with
numpy's default (linear interpolation, Hyndman & Fan 1996 type 7, the same as pandas and R's
``quantile``). A value's score is 1 + the number of edges strictly below it, i.e. bins are
right-closed ``(e_{k-1}, e_k]`` as in ``pandas.qcut``.

Ties are handled deliberately: **equal values always get the same score**. When many members
share a value (on CDNOW 60 % have frequency 0) several edges coincide and some scores stay empty,
instead of splitting equal members arbitrarily (the ``rank(method="first")`` trick) or dropping
bins (``qcut(duplicates="drop")``, which renumbers scores). Recency is scored the other way round:
a more recent purchase (fewer days since the last one) gets a higher score.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from memberlens.exceptions import DataError
from memberlens.segmentation._labels import labels_at

__all__ = ["RFMScorer", "quantile_edges", "scores_from_edges"]

METRICS: tuple[str, ...] = ("R", "F", "M")


def quantile_edges(values: np.ndarray | pd.Series, n_bins: int = 5) -> np.ndarray:
    """The ``n_bins - 1`` inner quantile edges of ``values`` (linear interpolation)."""
    array = np.asarray(values, dtype="float64")
    if array.size == 0 or not np.isfinite(array).all():
        raise DataError(
            f"quantile edges: need at least one finite value, got {array.size} values "
            f"of which {int((~np.isfinite(array)).sum())} are missing or infinite; "
            "drop members without purchases first"
        )
    return np.quantile(array, np.arange(1, n_bins) / n_bins)


def scores_from_edges(
    values: np.ndarray | pd.Series, edges: np.ndarray, *, higher_is_better: bool = True
) -> np.ndarray:
    """Scores 1..len(edges)+1; equal values share a score (see the module notes)."""
    below = np.searchsorted(edges, np.asarray(values, dtype="float64"), side="left")
    n_bins = len(edges) + 1
    return (below + 1 if higher_is_better else n_bins - below).astype("int64")


class RFMScorer(BaseEstimator):
    """Quantile scores R, F, M in 1..n_bins, with the bin edges learnt by :meth:`fit`.

    Parameters name the columns of a member summary (:func:`memberlens.features.rfm_summary`):
    ``recency`` (default ``days_since_last``, lower is better), ``frequency`` (default
    ``frequency``, repeat purchase days) and ``monetary`` (default ``total_spend``).

    Attributes after fit: ``edges_`` (dict R/F/M -> array of n_bins - 1 edges), ``means_`` and
    ``medians_`` (dict R/F/M -> float, the raw metrics' mean and median, used by the high/low
    segment schemes) and ``n_members_``.

    >>> import pandas as pd
    >>> summary = pd.DataFrame({"member_id": list("abcde"), "days_since_last": [1, 5, 9, 30, 90],
    ...                         "frequency": [9, 4, 2, 1, 0], "total_spend": [900., 50, 40, 30, 5]})
    >>> scorer = RFMScorer().fit(summary)
    >>> scorer.transform(summary)["rfm_cell"].tolist()
    ['555', '444', '333', '222', '111']
    >>> scorer.edges_["R"].round(6).tolist()
    [4.2, 7.4, 17.4, 42.0]
    """

    def __init__(
        self,
        *,
        n_bins: int = 5,
        recency: str = "days_since_last",
        frequency: str = "frequency",
        monetary: str = "total_spend",
    ):
        self.n_bins = n_bins
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary

    def _columns(self) -> dict[str, str]:
        return {"R": self.recency, "F": self.frequency, "M": self.monetary}

    def _frame(self, summary: pd.DataFrame | ir.Table) -> pd.DataFrame:
        columns = self._columns()
        if isinstance(summary, ir.Table):
            summary = summary.select(*columns.values()).to_pandas()
        missing = [c for c in columns.values() if c not in summary.columns]
        if missing:
            raise DataError(
                f"RFMScorer: summary lacks column(s) {', '.join(missing)}; pass the "
                "output of memberlens.features.rfm_summary or set recency=/frequency="
                "/monetary= to your column names"
            )
        return summary

    def fit(self, summary: pd.DataFrame | ir.Table, y: object = None) -> RFMScorer:
        """Learn the quantile edges (and means, medians) of R, F and M."""
        if not isinstance(self.n_bins, int) or not 2 <= self.n_bins <= 10:
            raise DataError(
                f"RFMScorer.n_bins: must be an integer from 2 to 10, got "
                f"{self.n_bins!r}; 5 is the usual choice"
            )
        frame = self._frame(summary)
        self.edges_ = {}
        self.means_ = {}
        self.medians_ = {}
        for metric, column in self._columns().items():
            values = frame[column].to_numpy(dtype="float64")
            self.edges_[metric] = quantile_edges(values, self.n_bins)
            self.means_[metric] = float(values.mean())
            self.medians_[metric] = float(np.median(values))
        self.n_members_ = len(frame)
        return self

    def transform(self, summary: pd.DataFrame) -> pd.DataFrame:
        """member_id, R, F, M (ints), rfm_cell ("543") and rfm_total (R + F + M), in input order."""
        check_is_fitted(self, "edges_")
        frame = self._frame(summary)
        columns = self._columns()
        out = pd.DataFrame(index=frame.index)
        if "member_id" in frame.columns:
            out["member_id"] = frame["member_id"].to_numpy()
        for metric in METRICS:
            out[metric] = scores_from_edges(
                frame[columns[metric]], self.edges_[metric], higher_is_better=metric != "R"
            )
        n = self.n_bins
        cells = [
            f"{r}{f}{m}" for r in range(1, n + 1) for f in range(1, n + 1) for m in range(1, n + 1)
        ]
        cell = (out.R.to_numpy() - 1) * n * n + (out.F.to_numpy() - 1) * n + out.M.to_numpy() - 1
        out["rfm_cell"] = labels_at(cell, cells, out.index)
        out["rfm_total"] = out.R + out.F + out.M
        return out

    def score_table(self, summary: ir.Table) -> ir.Table:
        """The same scores as :meth:`transform`, computed in the engine (Ibis) for every row."""
        check_is_fitted(self, "edges_")
        columns = self._columns()
        scores = {}
        for metric in METRICS:
            value = summary[columns[metric]].cast("float64")
            below = sum(
                (ibis.ifelse(value > float(e), 1, 0) for e in self.edges_[metric]), ibis.literal(0)
            )
            score = below + 1 if metric != "R" else self.n_bins - below
            scores[metric] = score.cast("int64")
        scored = summary.mutate(**scores)
        return scored.mutate(
            rfm_cell=scored.R.cast("string") + scored.F.cast("string") + scored.M.cast("string"),
            rfm_total=scored.R + scored.F + scored.M,
        )

    def fit_transform(self, summary: pd.DataFrame, y: object = None) -> pd.DataFrame:
        return self.fit(summary).transform(summary)

    def edges_frame(self) -> pd.DataFrame:
        """The stored edges as a table (metric, column, edge index, value) for reports."""
        check_is_fitted(self, "edges_")
        columns = self._columns()
        rows = [
            (m, columns[m], k + 1, float(e)) for m in METRICS for k, e in enumerate(self.edges_[m])
        ]
        return pd.DataFrame(rows, columns=["metric", "column", "edge", "value"])
