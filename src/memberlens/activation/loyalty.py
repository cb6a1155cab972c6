"""Loyalty tiers: the ``[loyalty]`` settings, each member's tier and the gap to the next one.

A tier is reached by net spend over a rolling window (paid orders' ``amount``, refunded and
cancelled orders left out, in the ``window_days`` days up to and including the day)::

    [loyalty]
    tiers = ["member", "silver", "gold", "diamond"]   # lowest first
    thresholds = [0, 1000, 5000, 20000]               # net spend that reaches each tier
    window_days = 365

The settings are checked when the project loads
(:func:`memberlens.settings.check_loyalty`). This is the first part of loyalty in memberlens: a
later loyalty issue (points, benefits, downgrades) extends the section; the tiers here are what
the ``near_tier`` trigger reads (:mod:`memberlens.activation.triggers`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from memberlens.exceptions import ConfigError
from memberlens.settings import check_loyalty

__all__ = ["LoyaltySettings", "loyalty_settings", "member_tiers"]


@dataclass(frozen=True)
class LoyaltySettings:
    """``[loyalty]`` of memberlens.toml (checked)."""

    tiers: tuple[str, ...]
    thresholds: tuple[float, ...]
    window_days: int = 365


def loyalty_settings(project: Any) -> LoyaltySettings:
    """The project's ``[loyalty]``; a clear error when it has none."""
    values = project.settings.get("loyalty")
    if values is None:
        raise ConfigError(
            f"{project.file}: no [loyalty] section: the loyalty tiers are not set; add e.g. "
            '[loyalty] tiers = ["member", "silver", "gold"], thresholds = [0, 1000, 5000] '
            "(see docs/activation.md)"
        )
    checked = check_loyalty(values, project.file)
    return LoyaltySettings(
        tuple(checked["tiers"]), tuple(checked["thresholds"]), checked["window_days"]
    )


def member_tiers(wh: Any, conf: LoyaltySettings, day: dt.date) -> ir.Table:
    """Every member with orders: ``net_spend`` in the window ending on ``day``, ``tier``,
    ``next_tier`` (None at the top), ``gap`` (spend still needed for it) and ``gap_share``
    (the gap as a share of the next tier's threshold). One Ibis expression (DuckDB or Spark)."""
    orders = wh.table("orders")
    start = day - dt.timedelta(days=conf.window_days - 1)
    when = orders.ordered_at.cast("date")
    kept = orders.filter((when >= ibis.literal(start)) & (when <= ibis.literal(day)))
    if "status" in orders.columns:
        kept = kept.filter(kept.status.isnull() | (kept.status == "paid"))
    spend = kept.group_by("member_id").aggregate(
        net_spend=kept.amount.cast("float64").sum().fill_null(0.0)
    )
    level = ibis.literal(0)
    for i, threshold in enumerate(conf.thresholds[1:], start=1):
        level = ibis.ifelse(spend.net_spend >= threshold, i, level)
    tier = ibis.cases(*[(level == i, name) for i, name in enumerate(conf.tiers)])
    nxt = ibis.cases(*[(level == i, name) for i, name in enumerate(conf.tiers[1:])])
    target = ibis.cases(*[(level == i, t) for i, t in enumerate(conf.thresholds[1:])])
    gap = target - spend.net_spend
    return spend.select(
        "member_id",
        "net_spend",
        tier=tier,
        next_tier=nxt,
        gap=gap,
        gap_share=gap / target,
    )
