"""Does a segmentation separate behaviour? The spread of next-period outcomes across a scheme's
segments, and how stable members' segments are from one as-of date to the next.

For one scheme (RFM classes, value tiers, lifecycle stages, clusters) at an as-of date, each
member's segment is compared with what they did in the next ``horizon`` days:

- one-way ANOVA of the next-period spend across segments: F = (SS_between / (k − 1)) /
  (SS_within / (N − k)) and its p-value; **eta²** = SS_between / SS_total, the share of the
  variance of next-period spend the segments explain (Cohen 1988, sec. 8.2; checked against
  scipy ``f_oneway``);
- per segment: members, buy rate, mean spend and the **lift** = segment buy rate / overall buy
  rate; the **gain** curve orders segments by mean spend and accumulates the share of members
  against the share of next-period revenue; its Gini = 2 × (area under the gain curve − 0.5)
  (0: the segments do not rank spend at all);
- stability between two as-of dates, over members present at both: the share keeping their
  segment and the **adjusted Rand index** (Hubert & Arabie 1985: 1 = the same partition,
  about 0 = no more agreement than chance; checked against scikit-learn).

Pure functions of arrays; :func:`evaluate_segments_project` reads a project's
``mart_member_history`` (one row per member, scheme and as-of date of each ``memberlens run``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from memberlens.exceptions import DataError, MissingTableError

__all__ = [
    "SCHEME_COLUMNS",
    "SegmentEvaluation",
    "SegmentSpread",
    "SegmentStability",
    "adjusted_rand_index",
    "evaluate_segments_project",
    "segment_spread",
    "segment_stability",
]

#: columns of ``mart_member_history`` that hold a segmentation scheme
SCHEME_COLUMNS: tuple[str, ...] = (
    "segment_cn8",
    "segment_rfm11",
    "value_tier",
    "lifecycle_stage",
    "cluster",
)


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    members: int
    buy_rate: float
    mean_spend: float
    lift: float | None  # buy_rate / overall buy rate (None when nobody bought)
    spend_share: float


@dataclass(frozen=True)
class SegmentSpread:
    segments: tuple[SegmentRow, ...]  # by mean spend, highest first
    f_statistic: float
    p_value: float
    eta_squared: float
    gain_gini: float
    gain_x: tuple[float, ...]  # cumulative share of members
    gain_y: tuple[float, ...]  # cumulative share of next-period revenue


@dataclass(frozen=True)
class SegmentStability:
    members: int
    share_kept: float
    adjusted_rand: float


def _codes(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    values = pd.Series(labels).astype("string").fillna("(none)").to_numpy()
    names, codes = np.unique(values, return_inverse=True)
    return names, codes


def segment_spread(segments: Any, spend: Any) -> SegmentSpread:
    """ANOVA F, eta², lift and gain of next-period ``spend`` across ``segments`` (see module)."""
    names, codes = _codes(segments)
    y = np.asarray(spend, dtype=float)
    if len(y) != len(codes):
        raise DataError(f"segments ({len(codes)}) and spend ({len(y)}) differ in length")
    if not np.isfinite(y).all():
        raise DataError("next-period spend has missing or infinite values")
    k, n = len(names), len(y)
    if k < 2 or n <= k:
        raise DataError(
            f"a segment evaluation needs at least 2 segments and more members than segments "
            f"(found {k} segments, {n} members)"
        )
    counts = np.bincount(codes, minlength=k).astype(float)
    sums = np.bincount(codes, weights=y, minlength=k)
    buyers = np.bincount(codes, weights=(y > 0).astype(float), minlength=k)
    means = sums / counts
    grand = y.mean()
    ss_between = float(np.sum(counts * (means - grand) ** 2))
    ss_total = float(np.sum((y - grand) ** 2))
    ss_within = ss_total - ss_between
    df_b, df_w = k - 1, n - k
    # F = (SS_b / (k - 1)) / (SS_w / (N - k)); p = P(F_{k-1, N-k} > F)  (Fisher's one-way ANOVA)
    if ss_within > 0:
        f = (ss_between / df_b) / (ss_within / df_w)
        p = float(special.fdtrc(df_b, df_w, f))
    else:
        f, p = (float("inf"), 0.0) if ss_between > 0 else (float("nan"), float("nan"))
    eta2 = ss_between / ss_total if ss_total > 0 else float("nan")
    overall_rate = float((y > 0).mean())
    total = float(y.sum())
    order = np.argsort(-means, kind="mergesort")
    rows = tuple(
        SegmentRow(
            segment=str(names[i]),
            members=int(counts[i]),
            buy_rate=float(buyers[i] / counts[i]),
            mean_spend=float(means[i]),
            lift=float(buyers[i] / counts[i] / overall_rate) if overall_rate > 0 else None,
            spend_share=float(sums[i] / total) if total else 0.0,
        )
        for i in order
    )
    gx = np.r_[0.0, np.cumsum(counts[order]) / n]
    gy = np.r_[0.0, np.cumsum(sums[order]) / total] if total else gx.copy()
    gini = float(2.0 * np.trapezoid(gy, gx) - 1.0)
    return SegmentSpread(
        segments=rows,
        f_statistic=float(f),
        p_value=p,
        eta_squared=float(eta2),
        gain_gini=gini,
        gain_x=tuple(float(v) for v in gx),
        gain_y=tuple(float(v) for v in gy),
    )


def adjusted_rand_index(a: Any, b: Any) -> float:
    """Agreement of two partitions of the same members, corrected for chance.

    # ARI = (Σ C(n_ij, 2) − Σ C(a_i, 2) Σ C(b_j, 2) / C(n, 2)) /
    #       (½ (Σ C(a_i, 2) + Σ C(b_j, 2)) − Σ C(a_i, 2) Σ C(b_j, 2) / C(n, 2))
    # (Hubert & Arabie 1985, eq. 5)
    """
    _, ca = _codes(a)
    _, cb = _codes(b)
    if len(ca) != len(cb):
        raise DataError(f"the two assignments differ in length ({len(ca)} and {len(cb)})")
    n = len(ca)
    if n < 2:
        return float("nan")
    table = np.zeros((ca.max() + 1, cb.max() + 1))
    np.add.at(table, (ca, cb), 1.0)
    pairs = special.comb(table, 2).sum()
    rows = special.comb(table.sum(axis=1), 2).sum()
    cols = special.comb(table.sum(axis=0), 2).sum()
    expected = rows * cols / special.comb(n, 2)
    top = 0.5 * (rows + cols)
    if top == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((pairs - expected) / (top - expected))


def segment_stability(before: pd.Series, after: pd.Series) -> SegmentStability:
    """Share keeping their segment and adjusted Rand index over the members in both (the series
    are indexed by member_id)."""
    both = pd.concat([before.rename("a"), after.rename("b")], axis=1, join="inner")
    if both.empty:
        return SegmentStability(0, float("nan"), float("nan"))
    a, b = both["a"].astype("string").fillna("(none)"), both["b"].astype("string").fillna("(none)")
    return SegmentStability(
        members=len(both),
        share_kept=float((a == b).mean()),
        adjusted_rand=adjusted_rand_index(a, b),
    )


@dataclass(frozen=True)
class SegmentEvaluation:
    scheme: str
    as_of: str
    horizon_days: int
    spread: SegmentSpread
    stability: SegmentStability | None  # against the previous as-of date, when there is one
    previous_as_of: str | None

    def to_dict(self) -> dict[str, Any]:
        from memberlens.experiments.campaigns import no_nan

        out: dict[str, Any] = no_nan(asdict(self))
        return out


def _next_period_spend(orders: Any, start: dt.date, days: int) -> pd.Series:
    paid = orders.filter(orders.status == "paid")
    lo = pd.Timestamp(start) + pd.Timedelta(days=1)
    hi = lo + pd.Timedelta(days=days)
    window = paid.filter((paid.ordered_at >= lo) & (paid.ordered_at < hi))
    spend = window.group_by("member_id").aggregate(spend=window.amount.cast("float64").sum())
    frame = spend.to_pandas()
    return frame.set_index("member_id")["spend"]


def evaluate_segments_project(
    project: Any, *, horizon_days: int = 90, schemes: tuple[str, ...] | None = None
) -> list[SegmentEvaluation]:
    """Every scheme of ``mart_member_history`` at the latest as-of date that has ``horizon_days``
    of orders after it, with stability against the as-of date before it."""
    from memberlens.engine.warehouse import open_warehouse

    if horizon_days < 1:
        raise DataError(f"--horizon must be at least 1 day, found {horizon_days}")
    wh = open_warehouse(project, read_only=True)
    try:
        if not wh.has("mart_member_history"):
            raise MissingTableError(
                "no segment history yet; build the marts with `memberlens run` (twice, at two "
                "as-of dates, for stability)"
            )
        history = wh.table("mart_member_history")
        orders = wh.table("orders")
        last = pd.Timestamp(orders.ordered_at.max().execute()).date()
        dates = sorted(
            pd.Timestamp(d).date() for d in history.as_of.to_pyarrow().unique().to_pylist()
        )
        usable = [d for d in dates if (last - d).days >= horizon_days]
        if not usable:
            raise DataError(
                f"no as-of date in mart_member_history has {horizon_days} days of orders after "
                f"it (dates: {', '.join(map(str, dates))}; last order day {last}); run "
                f"`memberlens run --as-of DATE` for a date at least {horizon_days} days before "
                f"{last}, or pass a shorter --horizon"
            )
        day = usable[-1]
        previous = [d for d in dates if d < day]
        present = [c for c in (schemes or SCHEME_COLUMNS) if c in history.columns]
        if not present:
            raise DataError(
                f"mart_member_history has none of the schemes {', '.join(schemes or SCHEME_COLUMNS)}"
            )
        wanted = [day, *previous[-1:]]
        rows = (
            history.filter(history.as_of.cast("date").isin(wanted))
            .select("member_id", *present, as_of=history.as_of.cast("date"))
            .to_pandas()
        )
        spend = _next_period_spend(orders, day, horizon_days)
    finally:
        wh.close()
    rows["as_of"] = pd.to_datetime(rows["as_of"]).dt.date
    now = rows[rows["as_of"] == day].set_index("member_id")
    before = rows[rows["as_of"] == previous[-1]].set_index("member_id") if previous else None
    outcome = spend.reindex(now.index).fillna(0.0).to_numpy()
    out = []
    for scheme in present:
        if now[scheme].isna().all():
            continue
        out.append(
            SegmentEvaluation(
                scheme=scheme,
                as_of=day.isoformat(),
                horizon_days=horizon_days,
                spread=segment_spread(now[scheme], outcome),
                stability=segment_stability(before[scheme], now[scheme])
                if before is not None
                else None,
                previous_as_of=previous[-1].isoformat() if previous else None,
            )
        )
    return out
