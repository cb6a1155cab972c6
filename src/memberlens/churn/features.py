"""Per-member churn features as of a cutoff day, computed in the engine (Ibis).

Every input table is cut at the cutoff **before** anything is computed, so a feature can never
see a later day (the leakage test deletes later orders and checks nothing changes). Columns
(:data:`FEATURE_COLUMNS`):

* the RFM summary (:func:`memberlens.features.rfm_summary`, days): frequency, recency, T,
  monetary_value, total_spend, order_count, aov, days_since_last, refund_share;
* trailing windows: paid orders and spend in the last 30 / 90 / 180 days, and the trend
  ``orders_trend_90d`` = orders in the last 90 days minus orders in the 90 days before;
* ``coupon_share``: share of paid orders that used a coupon;
* ``events_30d`` / ``events_90d`` and ``interactions_90d`` when those tables exist (0 otherwise);
* the BG/NBD outputs ``p_alive`` and ``expected_purchases`` (next ``horizon_days``), added per
  batch in pandas by :func:`with_purchase_model` from a model fitted at the same cutoff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.clv import BetaGeoModel
from memberlens.features import rfm_summary
from memberlens.features.purchases import as_day, as_table, purchases

__all__ = [
    "FEATURE_COLUMNS",
    "WINDOWS",
    "ChurnInputs",
    "feature_table",
    "fit_purchase_model",
    "member_features",
    "with_purchase_model",
]

WINDOWS: tuple[int, ...] = (30, 90, 180)
_RFM = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "order_count",
    "aov",
    "days_since_last",
    "refund_share",
)
_ENGINE_COLUMNS: tuple[str, ...] = (
    *_RFM,
    *(f"orders_{w}d" for w in WINDOWS),
    *(f"spend_{w}d" for w in WINDOWS),
    "orders_trend_90d",
    "coupon_share",
    "events_30d",
    "events_90d",
    "interactions_90d",
)
#: Model input columns, in order.
FEATURE_COLUMNS: tuple[str, ...] = (*_ENGINE_COLUMNS, "p_alive", "expected_purchases")


def _windows(paid: ir.Table, end: dt.date) -> ir.Table:
    def within(lo: int, hi: int = 0):
        return (paid.day > ibis.date(end - dt.timedelta(days=lo))) & (
            paid.day <= ibis.date(end - dt.timedelta(days=hi))
        )

    counts = {f"orders_{w}d": within(w).cast("int64").sum() for w in WINDOWS}
    spend = {
        f"spend_{w}d": ibis.ifelse(within(w), paid.amt, 0).sum().cast("float64") for w in WINDOWS
    }
    prior = {"orders_prior_90d": within(180, 90).cast("int64").sum()}
    if "coupon_id" in paid.columns:
        coupon = {"coupon_orders": paid.coupon_id.notnull().cast("int64").sum()}
    else:  # no coupon column: nobody is recorded as using one
        coupon = {}
    agg = paid.group_by("member_id").aggregate(
        **counts, **spend, **prior, **coupon, paid_orders=paid.count()
    )
    share = (
        agg.coupon_orders.cast("float64") / agg.paid_orders.cast("float64")
        if coupon
        else ibis.literal(0.0)
    )
    return agg.select(
        "member_id",
        *counts,
        *spend,
        orders_trend_90d=(agg.orders_90d - agg.orders_prior_90d).cast("int64"),
        coupon_share=share,
    )


def _engagement(table: ir.Table, name: str, end: dt.date, days: tuple[int, ...]) -> ir.Table:
    """``<name>_<d>d`` for each of ``days``: the member's rows of ``table`` (events or
    interactions) in the ``d`` days up to ``end``, as
    :func:`memberlens.features.engagement.engagement_counts` counts them,
    from one GROUP BY over the longest window (one scan of the table, not one per window)."""
    day = table.occurred_at.date()
    longest = max(days)
    recent = table.filter(
        table.member_id.notnull()
        & (day > ibis.date(end - dt.timedelta(days=longest)))
        & (day <= ibis.date(end))
    )
    recent_day = recent.occurred_at.date()
    counts = {
        f"{name}_{d}d": (
            recent.count()
            if d == longest
            else (recent_day > ibis.date(end - dt.timedelta(days=d))).cast("int64").sum()
        ).cast("int64")
        for d in days
    }
    return recent.group_by("member_id").aggregate(**counts)


def feature_table(
    orders: ir.Table | pd.DataFrame,
    *,
    cutoff: dt.date | str,
    events: ir.Table | None = None,
    interactions: ir.Table | None = None,
) -> ir.Table:
    """The engine features of every member who bought on or before ``cutoff`` (lazy Ibis)."""
    end = as_day(cutoff, name="cutoff")
    table = as_table(orders)
    table = table.filter(table.ordered_at.date() <= ibis.date(end))
    # without favourites (the default): the features use neither
    summary = rfm_summary(table, as_of=end, time_unit="D")
    summary = summary.select("member_id", *_RFM)
    out = summary.left_join(_windows(purchases(table, end=end), end), "member_id").drop(
        "member_id_right"
    )
    engaged = [
        _engagement(rows, name, end, days)
        for name, rows, days in (
            ("events", events, (30, 90)),
            ("interactions", interactions, (90,)),
        )
        if rows is not None
    ]
    for part in engaged:
        out = out.left_join(part, "member_id").drop("member_id_right")
    fill = {c: out[c].fill_null(0) for c in _ENGINE_COLUMNS if c in out.columns}
    out = out.mutate(**fill)
    missing = {c: ibis.literal(0, type="int64") for c in _ENGINE_COLUMNS if c not in out.columns}
    return out.mutate(**missing).select("member_id", *_ENGINE_COLUMNS)


@dataclass(frozen=True)
class ChurnInputs:
    """The tables churn reads: ``orders`` and, when loaded, ``events`` and ``interactions``
    (engagement features) and ``order_items`` with ``products`` (per-category propensity)."""

    orders: ir.Table
    events: ir.Table | None = None
    interactions: ir.Table | None = None
    order_items: ir.Table | None = None
    products: ir.Table | None = None

    @classmethod
    def from_backend(cls, con) -> ChurnInputs:
        """From a warehouse (:class:`~memberlens.engine.protocol.WarehouseProtocol`) or an
        Ibis backend holding the canonical tables (missing optional ones: None)."""
        from memberlens.engine.protocol import present_tables
        from memberlens.exceptions import MissingTableError

        found = present_tables(con, ("orders", "events", "interactions", "order_items", "products"))
        if "orders" not in found:
            raise MissingTableError(
                "table 'orders' is not in the warehouse; churn needs it: "
                "load it with `memberlens ingest orders FILE`"
            )
        return cls(
            orders=found["orders"],
            **{n: found.get(n) for n in ("events", "interactions", "order_items", "products")},
        )

    def sample(self, one_in: int) -> ChurnInputs:
        """These tables restricted to about one member in ``one_in``: those whose member_id
        hashes to 0 modulo ``one_in`` (the same members on every call of one engine; engines
        hash differently). ``order_items`` and ``products`` stay whole: order lines reach
        members only through ``orders``. For training on a large shop (``churn_mart``'s
        ``train_sample``): the model learns from the sample, every member is scored."""
        if int(one_in) < 1:
            raise ValueError(f"one_in: must be a whole number >= 1, got {one_in!r}")
        if int(one_in) == 1:
            return self

        def keep(table: ir.Table | None) -> ir.Table | None:
            if table is None:
                return None
            return table.filter(table.member_id.hash() % int(one_in) == 0)

        return replace(
            self,
            orders=keep(self.orders),
            events=keep(self.events),
            interactions=keep(self.interactions),
        )

    def features(self, cutoff: dt.date | str) -> ir.Table:
        """:func:`feature_table` of these tables at ``cutoff``."""
        return feature_table(
            self.orders, cutoff=cutoff, events=self.events, interactions=self.interactions
        )


def fit_purchase_model(features: ir.Table | pd.DataFrame) -> BetaGeoModel | None:
    """BG/NBD fitted (in weeks) on a feature table, from counts of identical (frequency,
    recency, T) rows computed in the engine (sufficient statistics, DESIGN.md engine notes), or
    in pandas when the features are already a frame.

    None when the likelihood does not converge (data with no sign of drop-out): the two model
    features are then missing values, which LightGBM handles natively."""
    from memberlens.exceptions import ConvergenceError

    keys = ["frequency", "recency", "T"]
    if isinstance(features, pd.DataFrame):
        counts = features.groupby(keys, sort=True).size().rename("weights").reset_index()
    else:
        counts = features.group_by(keys).aggregate(weights=features.count()).to_pandas()
        counts = counts.sort_values(keys, ignore_index=True)
    weeks = pd.DataFrame(
        {
            "frequency": counts["frequency"].to_numpy(),
            "recency": counts["recency"].to_numpy() / 7.0,
            "T": counts["T"].to_numpy() / 7.0,
            "weights": counts["weights"].to_numpy(dtype=float),
        }
    )
    try:
        return BetaGeoModel().fit(weeks)
    except ConvergenceError:
        return None


def member_features(
    inputs: ChurnInputs, *, cutoff: dt.date | str, horizon_days: int
) -> pd.DataFrame:
    """All :data:`FEATURE_COLUMNS` at ``cutoff`` as one pandas frame (member_id first), sorted
    by member_id: engines return rows in any order, and LightGBM's row subsampling must see
    the same order every time for a fit to be reproducible."""
    frame = inputs.features(cutoff).to_pandas().sort_values("member_id", ignore_index=True)
    return with_purchase_model(frame, fit_purchase_model(frame), horizon_days=horizon_days)


def with_purchase_model(
    features: pd.DataFrame, model: BetaGeoModel | None, *, horizon_days: int
) -> pd.DataFrame:
    """``features`` plus ``p_alive`` and ``expected_purchases`` (next ``horizon_days``)."""
    if model is None:
        return features.assign(p_alive=np.nan, expected_purchases=np.nan)
    weeks = pd.DataFrame(
        {
            "frequency": features["frequency"].to_numpy(),
            "recency": features["recency"].to_numpy() / 7.0,
            "T": features["T"].to_numpy() / 7.0,
        }
    )
    alive = model.probability_alive(weeks).to_numpy()
    expected = model.expected_purchases(weeks, horizon=horizon_days / 7.0).to_numpy()
    return features.assign(
        p_alive=np.asarray(alive, dtype=float), expected_purchases=np.asarray(expected, dtype=float)
    )
