"""The per-member rows an uplift model learns from and scores: features as of a day, and each
campaign member's arm and outcome.

Features are the member summary of :func:`memberlens.features.rfm.rfm_summary` (the columns of
the member mart) computed **as of the day before the campaign starts**, so nothing the campaign
caused leaks into them, plus the member's tenure and attributes from ``members`` when that table
is loaded. Members who never bought have missing purchase features (LightGBM routes missing
values on its own) and ``has_purchased`` = 0. The outcome is the measure of the campaign
report: ``converted`` = at least one paid order in the window [starts_at, ends_at), ``revenue``
= the paid amount in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from memberlens.exceptions import DataError
from memberlens.experiments.campaigns import CONTROL, campaign_id_row
from memberlens.features.rfm import rfm_summary

__all__ = [
    "CATEGORICAL_FEATURES",
    "NUMERIC_FEATURES",
    "campaign_outcomes",
    "member_features",
    "uplift_frame",
]

NUMERIC_FEATURES: tuple[str, ...] = (
    "has_purchased",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "order_count",
    "aov",
    "days_since_last",
    "refund_share",
    "tenure_days",
)
#: member attributes used when the members table has them
CATEGORICAL_FEATURES: tuple[str, ...] = ("gender", "channel", "province", "age_band")


def member_features(
    orders: ir.Table,
    *,
    as_of: dt.date,
    members: ir.Table | None = None,
    member_ids: ir.Table | None = None,
) -> pd.DataFrame:
    """One row per member (of ``member_ids`` if given, else of ``members``, else every buyer)
    with the features as of ``as_of`` (inclusive): :data:`NUMERIC_FEATURES` and the
    :data:`CATEGORICAL_FEATURES` the members table has (as pandas categories)."""
    summary = rfm_summary(orders, as_of=as_of).select(
        "member_id", *[c for c in NUMERIC_FEATURES if c not in ("has_purchased", "tenure_days")]
    )
    if member_ids is not None:
        base = member_ids.select("member_id").distinct()
    elif members is not None:
        base = members.select("member_id").distinct()
    else:
        base = summary.select("member_id")
    out = base.left_join(summary, "member_id").drop("member_id_right")
    out = out.mutate(has_purchased=_.frequency.notnull().cast("int64"))
    cats: list[str] = []
    if members is not None:
        cats = [c for c in CATEGORICAL_FEATURES if c in members.columns]
        cols = [c for c in ("registered_at", *cats) if c in members.columns]
        attrs = members.select("member_id", *cols).distinct(on="member_id", keep="first")
        out = out.left_join(attrs, "member_id").drop("member_id_right")
        if "registered_at" in cols:
            start = ibis.literal(as_of + dt.timedelta(days=1)).cast("timestamp")
            days = (start.epoch_seconds() - out.registered_at.epoch_seconds()) / 86400.0
            out = out.mutate(tenure_days=days.cast("float64")).drop("registered_at")
    frame = out.to_pandas()
    if "tenure_days" not in frame:
        frame["tenure_days"] = float("nan")
    for c in NUMERIC_FEATURES:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    for c in cats:
        frame[c] = frame[c].astype("string").astype("category")
    return frame[["member_id", *NUMERIC_FEATURES, *cats]].sort_values(
        "member_id", ignore_index=True
    )


def campaign_outcomes(
    campaigns: ir.Table, campaign_members: ir.Table, orders: ir.Table, campaign_id: str
) -> ir.Table:
    """member_id, treatment (1 = any treatment arm, 0 = control), converted (0/1) and revenue in
    the campaign window, one row per member of the campaign (an Ibis expression)."""
    c = campaigns.filter(campaigns.campaign_id == campaign_id).select("starts_at", "ends_at")
    cm = campaign_members.filter(campaign_members.campaign_id == campaign_id)
    cm = cm.group_by("member_id").aggregate(treatment=(cm["group"] != CONTROL).cast("int64").max())
    paid = orders.filter(orders.status == "paid").select("member_id", "ordered_at", "amount")
    window = paid.join(c, [paid.ordered_at >= c.starts_at, paid.ordered_at < c.ends_at])
    bought = window.group_by("member_id").aggregate(revenue=_.amount.cast("float64").sum())
    joined = cm.left_join(bought, "member_id")
    return joined.select(
        "member_id",
        "treatment",
        converted=joined.revenue.notnull().cast("int64"),
        revenue=joined.revenue.fill_null(0.0),
    )


def uplift_frame(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    *,
    members: ir.Table | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The campaign's members with their features as of the day before the start, arm and
    outcome (sorted by member_id), and the campaign's row."""
    meta = campaign_id_row(campaigns, campaign_id)
    starts_at = pd.Timestamp(meta["starts_at"])
    if pd.isna(starts_at):
        raise DataError(
            f"campaigns: campaign {campaign_id!r} has no starts_at; the features are taken as "
            "of the day before the start, so fill starts_at in the campaigns file and reload it"
        )
    outcomes = campaign_outcomes(campaigns, campaign_members, orders, campaign_id)
    features = member_features(
        orders,
        as_of=(starts_at - pd.Timedelta(days=1)).date(),
        members=members,
        member_ids=outcomes.select("member_id"),
    )
    frame = features.merge(outcomes.to_pandas(), on="member_id", how="inner", validate="1:1")
    if frame.empty:
        raise DataError(
            f"campaign_members: campaign {campaign_id!r} has no members; load its "
            "campaign_members rows (campaign_id, member_id, group)"
        )
    frame["treatment"] = frame["treatment"].astype("int64")
    frame["converted"] = frame["converted"].astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64")
    return frame.sort_values("member_id", ignore_index=True), meta
