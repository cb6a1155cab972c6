"""Evaluating an uplift model on held-out members of a randomised campaign: Qini and uplift
curves, their areas (Qini coefficient, AUUC) and the uplift by decile of the score.

Members are sorted by predicted uplift, highest first; members with the same score are taken
together (the curve has one point per distinct score). For the top ``n`` members, with
``n_t``/``n_c`` treated/control members and ``r_t``/``r_c`` responders among them:

- Qini curve (Radcliffe 2007, "Using control groups to target on predicted lift", sec. 5):
  ``Q(n) = r_t - r_c * n_t / n_c``, the incremental responders gained by treating the top ``n``,
  scaled to the treated group's size;
- uplift curve (Rzepakowski & Jaroszewicz 2012; Gutierrez & Gerardy 2017, sec. 4.1):
  ``U(n) = (r_t / n_t - r_c / n_c) * n``, the incremental responders if all top ``n`` were treated;
- a random targeting is the straight line from (0, 0) to the curve's last point; the **Qini
  coefficient** is the area between the model's Qini curve and that line, divided by the same
  area of the perfect ordering (responders among the treated first, control responders last),
  so 0 = random, 1 = perfect; **AUUC** is the same normalised area for the uplift curve. These are
  the normalisations of scikit-uplift's ``qini_auc_score`` and ``uplift_auc_score``.

Pure numpy functions of arrays; nothing here reads data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from memberlens.exceptions import DataError

__all__ = [
    "UpliftEvaluation",
    "auuc_score",
    "evaluate_uplift",
    "qini_area",
    "qini_coefficient",
    "qini_curve",
    "uplift_by_decile",
    "uplift_curve",
]


def _check(y: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_, u_, t_ = (np.asarray(a) for a in (y, uplift, treatment))
    if not len(y_) == len(u_) == len(t_):
        raise DataError(
            f"uplift evaluation: outcome ({len(y_)}), uplift ({len(u_)}) and treatment "
            f"({len(t_)}) must have one value per member"
        )
    for name, a in (("outcome", y_), ("treatment", t_)):
        if not np.isin(a, (0, 1)).all():
            raise DataError(f"uplift evaluation: {name} must be 0 or 1 for every member")
    if not np.isfinite(u_.astype(float)).all():
        raise DataError("uplift evaluation: the predicted uplift has missing or infinite values")
    if t_.sum() == 0 or t_.sum() == len(t_):
        raise DataError(
            "uplift evaluation needs treated and control members; this set has only one group"
        )
    return y_.astype(float), u_.astype(float), t_.astype(float)


def _cumulative(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray) -> tuple[np.ndarray, ...]:
    """Counts at each distinct score, highest first: n, n_t, n_c, r_t, r_c."""
    order = np.argsort(-uplift, kind="mergesort")
    y, uplift, treatment = y[order], uplift[order], treatment[order]
    ends = np.r_[np.flatnonzero(np.diff(uplift)), len(uplift) - 1]
    n = ends + 1.0
    n_t = np.cumsum(treatment)[ends]
    r_t = np.cumsum(y * treatment)[ends]
    r_c = np.cumsum(y * (1.0 - treatment))[ends]
    return n, n_t, n - n_t, r_t, r_c


def _from_zero(n: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, n], np.r_[0.0, v]


def qini_curve(y: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, Q(n)) of the Qini curve, from (0, 0).

    # Q(n) = r_t(n) - r_c(n) * n_t(n) / n_c(n)   (Radcliffe 2007, sec. 5; 0 / 0 taken as 0)
    """
    n, n_t, n_c, r_t, r_c = _cumulative(*_check(y, uplift, treatment))
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    return _from_zero(n, r_t - r_c * ratio)


def uplift_curve(y: Any, uplift: Any, treatment: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, U(n)) of the uplift curve, from (0, 0).

    # U(n) = (r_t / n_t - r_c / n_c) * n   (Gutierrez & Gerardy 2017, sec. 4.1; 0 / 0 as 0)
    """
    n, n_t, n_c, r_t, r_c = _cumulative(*_check(y, uplift, treatment))
    rate_t = np.divide(r_t, n_t, out=np.zeros_like(r_t), where=n_t > 0)
    rate_c = np.divide(r_c, n_c, out=np.zeros_like(r_c), where=n_c > 0)
    return _from_zero(n, (rate_t - rate_c) * n)


def _area_above_random(x: np.ndarray, v: np.ndarray) -> float:
    """Trapezoid area under the curve minus the area under the line to its last point."""
    return float(np.trapezoid(v, x) - x[-1] * v[-1] / 2.0)


def _perfect_score(y: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """The ideal ordering: treated responders first, control responders last (negative effects
    included), as scikit-uplift's ``perfect_qini_curve(negative_effect=True)`` orders them."""
    return np.asarray(y * treatment - y * (1.0 - treatment), dtype=float)


def qini_area(y: Any, uplift: Any, treatment: Any) -> float:
    """Area between the Qini curve and random targeting (in incremental responders x members)."""
    return _area_above_random(*qini_curve(y, uplift, treatment))


def qini_coefficient(y: Any, uplift: Any, treatment: Any) -> float:
    """Qini area of the model over the Qini area of the perfect ordering (0 random, 1 perfect)."""
    y_, u_, t_ = _check(y, uplift, treatment)
    perfect = qini_area(y_, _perfect_score(y_, t_), t_)
    return qini_area(y_, u_, t_) / perfect if perfect else float("nan")


def auuc_score(y: Any, uplift: Any, treatment: Any) -> float:
    """Area under the uplift curve above random over that of the perfect ordering.

    The perfect uplift ordering is scikit-uplift's ``perfect_uplift_curve``: treated responders
    and control non-responders first, and which of the two mixed groups comes next depends on
    whether control responders outnumber treated non-responders."""
    y_, u_, t_ = _check(y, uplift, treatment)
    summand = y_ if np.sum((y_ == 1) & (t_ == 0)) > np.sum((y_ == 0) & (t_ == 1)) else t_
    best = 2.0 * (y_ == t_) + summand
    perfect = _area_above_random(*uplift_curve(y_, best, t_))
    actual = _area_above_random(*uplift_curve(y_, u_, t_))
    return actual / perfect if perfect else float("nan")


@dataclass(frozen=True)
class DecileRow:
    decile: int  # 1 = the highest predicted uplift
    n_treatment: int
    n_control: int
    response_treatment: float | None
    response_control: float | None
    observed_uplift: float | None  # response_treatment - response_control
    predicted_uplift: float  # mean prediction in the decile


def uplift_by_decile(y: Any, uplift: Any, treatment: Any, *, bins: int = 10) -> list[DecileRow]:
    """Observed and predicted uplift per ``bins`` equal-sized groups of the ranked members (the
    first holds the highest predictions; ``np.array_split`` sizes, as scikit-uplift's
    ``uplift_by_percentile(strategy="overall")``)."""
    y_, u_, t_ = _check(y, uplift, treatment)
    if not 1 <= bins <= len(y_):
        raise DataError(f"uplift by decile: bins must be between 1 and {len(y_)}, found {bins}")
    order = np.argsort(-u_, kind="mergesort")
    rows = []
    for k, idx in enumerate(np.array_split(order, bins), start=1):
        t, c = idx[t_[idx] == 1], idx[t_[idx] == 0]
        rt = float(y_[t].mean()) if len(t) else None
        rc = float(y_[c].mean()) if len(c) else None
        rows.append(
            DecileRow(
                decile=k,
                n_treatment=len(t),
                n_control=len(c),
                response_treatment=rt,
                response_control=rc,
                observed_uplift=rt - rc if rt is not None and rc is not None else None,
                predicted_uplift=float(u_[idx].mean()),
            )
        )
    return rows


@dataclass(frozen=True)
class UpliftEvaluation:
    """One model on held-out members: its curves (thinned to at most ``points`` points), the
    areas and the deciles."""

    method: str
    n: int
    n_treatment: int
    qini_coefficient: float
    auuc: float
    qini_x: tuple[float, ...]
    qini_y: tuple[float, ...]
    uplift_x: tuple[float, ...]
    uplift_y: tuple[float, ...]
    deciles: tuple[DecileRow, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("qini_x", "qini_y", "uplift_x", "uplift_y", "deciles"):
            out[key] = list(out[key])
        return out


def _thin(x: np.ndarray, v: np.ndarray, points: int) -> tuple[tuple[float, ...], ...]:
    if len(x) > points:
        keep = np.unique(np.linspace(0, len(x) - 1, points).round().astype(int))
        x, v = x[keep], v[keep]
    return tuple(float(a) for a in x), tuple(float(a) for a in v)


def evaluate_uplift(
    y: Any, uplift: Any, treatment: Any, *, method: str = "model", points: int = 101
) -> UpliftEvaluation:
    """Qini coefficient, AUUC, both curves and the deciles of one model's predictions."""
    y_, u_, t_ = _check(y, uplift, treatment)
    qx, qy = _thin(*qini_curve(y_, u_, t_), points)
    ux, uy = _thin(*uplift_curve(y_, u_, t_), points)
    return UpliftEvaluation(
        method=method,
        n=len(y_),
        n_treatment=int(t_.sum()),
        qini_coefficient=qini_coefficient(y_, u_, t_),
        auuc=auuc_score(y_, u_, t_),
        qini_x=qx,
        qini_y=qy,
        uplift_x=ux,
        uplift_y=uy,
        deciles=tuple(uplift_by_decile(y_, u_, t_, bins=min(10, len(y_)))),
    )
