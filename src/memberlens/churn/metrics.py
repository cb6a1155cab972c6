"""How good a churn score is: AUC, PR-AUC, Brier score and the lift / capture table by decile.

AUC (Hanley & McNeil 1982), average precision as PR-AUC, the Brier score (Brier 1950) come from
scikit-learn. The lift table ranks members by score (highest first) into ten equal groups:
``lift`` = churn rate in the decile / overall rate, ``capture_rate`` = share of all churners
found in deciles 1..d (it reaches 1.0 at decile 10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = ["ScoreMetrics", "lift_table", "score_metrics"]


@dataclass(frozen=True)
class ScoreMetrics:
    """Metrics of one score on one labelled set."""

    model: str
    auc: float
    pr_auc: float
    brier: float
    top_decile_lift: float
    members: int
    positive_rate: float
    #: the category of a per-category propensity row (None: all rows)
    category: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def lift_table(y_true, score, *, bins: int = 10) -> pd.DataFrame:
    """decile (1 = highest scores), members, positives, rate, lift, capture_rate, mean_score."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    order = np.argsort(-s, kind="stable")
    decile = np.empty(y.size, dtype=np.int64)
    decile[order] = np.arange(y.size) * bins // max(y.size, 1) + 1
    frame = (
        pd.DataFrame({"decile": decile, "y": y, "s": s})
        .groupby("decile")
        .agg(members=("y", "size"), positives=("y", "sum"), mean_score=("s", "mean"))
    )
    frame = frame.reset_index()
    base = y.mean() if y.size else np.nan
    frame["rate"] = frame["positives"] / frame["members"]
    frame["lift"] = frame["rate"] / base if base > 0 else np.nan
    total = y.sum()
    frame["capture_rate"] = frame["positives"].cumsum() / total if total > 0 else np.nan
    frame["positives"] = frame["positives"].astype("int64")
    return frame[["decile", "members", "positives", "rate", "lift", "capture_rate", "mean_score"]]


def score_metrics(model: str, y_true, score, *, category: str | None = None) -> ScoreMetrics:
    """AUC, PR-AUC, Brier and top-decile lift of ``score`` (a probability of the positive)."""
    y = np.asarray(y_true, dtype=int)
    s = np.clip(np.asarray(score, dtype=float), 0.0, 1.0)
    both = np.unique(y).size == 2
    lift = lift_table(y, s)
    return ScoreMetrics(
        model=model,
        auc=float(roc_auc_score(y, s)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, s)) if both else float("nan"),
        brier=float(brier_score_loss(y, s)),
        top_decile_lift=float(lift["lift"].iloc[0]),
        members=int(y.size),
        positive_rate=float(y.mean()) if y.size else float("nan"),
        category=category,
    )
