"""Campaign evaluation: per arm metrics and each treatment arm against control.

The engine (Ibis: DuckDB or Spark, written once) reduces ``campaign_members`` joined to the paid
``orders`` inside the campaign window [starts_at, ends_at) to one row of sufficient statistics per
arm; the statistics of :mod:`memberlens.experiments.frequentist` do the rest.

- reached ``n`` = members of the arm in ``campaign_members``;
- response rate = responders / n (a responder opened or clicked, as ``response`` says);
- conversion rate = buyers / n, a buyer having at least one paid order in the window (so the
  treatment-control difference estimates the campaign's average effect on buying);
- AOV = revenue / orders in the window; revenue per member = revenue / n.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import ibis.expr.types as ir
from ibis import _

from memberlens.exceptions import DataError
from memberlens.experiments.frequentist import (
    ComparisonResult,
    two_proportion_ztest,
    welch_ttest,
)
from memberlens.experiments.multiple import holm
from memberlens.experiments.statistics import Proportion, SampleMean

__all__ = [
    "ArmSummary",
    "CampaignReport",
    "Comparison",
    "Response",
    "arm_statistics",
    "campaign_report",
]

Response = Literal["click", "open", "open_or_click"]
CONTROL = "control"


@dataclass(frozen=True)
class ArmSummary:
    arm: str
    n: int
    responders: int
    buyers: int
    orders: int
    revenue: float
    revenue_sum_squares: float
    response_rate: float
    conversion_rate: float
    aov: float | None  # None when the arm placed no order
    revenue_per_member: float

    @property
    def conversion(self) -> Proportion:
        return Proportion(n=self.n, successes=self.buyers)

    @property
    def revenue_statistics(self) -> SampleMean:
        return SampleMean(n=self.n, sum=self.revenue, sum_squares=self.revenue_sum_squares)


@dataclass(frozen=True)
class Comparison:
    """One treatment arm against control on one metric."""

    arm: str
    metric: Literal["conversion_rate", "revenue_per_member"]
    control: float
    treatment: float
    difference: float
    relative_lift: float
    ci_low: float
    ci_high: float
    relative_ci_low: float
    relative_ci_high: float
    p_value: float
    p_value_holm: float  # adjusted over all comparisons of the report
    test: str


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: str
    name: str | None
    starts_at: Any
    ends_at: Any
    response: Response
    alpha: float
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    messages: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for arm in out["arms"]:
            arm.pop("revenue_sum_squares")
        out["arms"] = list(out["arms"])
        out["comparisons"] = list(out["comparisons"])
        out["messages"] = list(out["messages"])
        return out


def _responded(cm: ir.Table, response: Response) -> ir.BooleanValue:
    if response == "click":
        return cm.clicked_at.notnull()
    if response == "open":
        return cm.opened_at.notnull()
    return cm.opened_at.notnull() | cm.clicked_at.notnull()


def arm_statistics(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    *,
    response: Response = "click",
) -> ir.Table:
    """One row per arm: n, responders, buyers, orders, revenue, revenue_sum_squares (an Ibis
    expression; nothing runs until it is executed)."""
    c = campaigns.filter(campaigns.campaign_id == campaign_id).select(
        "campaign_id", "starts_at", "ends_at"
    )
    cm = campaign_members.filter(campaign_members.campaign_id == campaign_id)
    cm = cm.select("member_id", arm=cm["group"], responded=_responded(cm, response).cast("int64"))
    paid = orders.filter(orders.status == "paid").select("member_id", "ordered_at", "amount")
    window = paid.join(c, [paid.ordered_at >= c.starts_at, paid.ordered_at < c.ends_at])
    per_member = (
        window.semi_join(cm, "member_id")
        .group_by("member_id")
        .aggregate(orders=_.count(), revenue=_.amount.cast("float64").sum())
    )
    joined = cm.left_join(per_member, "member_id").select(
        "arm",
        "responded",
        orders=_.orders.fill_null(0),
        revenue=_.revenue.fill_null(0.0),
    )
    return joined.group_by("arm").aggregate(
        n=_.count(),
        responders=_.responded.sum(),
        buyers=(_.orders > 0).cast("int64").sum(),
        orders=_.orders.sum(),
        revenue=_.revenue.sum(),
        revenue_sum_squares=(_.revenue * _.revenue).sum(),
    )


def _summary(row: dict[str, Any]) -> ArmSummary:
    n = int(row["n"])
    orders = int(row["orders"] or 0)
    revenue = float(row["revenue"] or 0.0)
    return ArmSummary(
        arm=str(row["arm"]),
        n=n,
        responders=int(row["responders"] or 0),
        buyers=int(row["buyers"] or 0),
        orders=orders,
        revenue=revenue,
        revenue_sum_squares=float(row["revenue_sum_squares"] or 0.0),
        response_rate=int(row["responders"] or 0) / n,
        conversion_rate=int(row["buyers"] or 0) / n,
        aov=revenue / orders if orders else None,
        revenue_per_member=revenue / n,
    )


def _comparison(arm: str, metric: Any, r: ComparisonResult, p_holm: float) -> Comparison:
    return Comparison(
        arm=arm,
        metric=metric,
        control=float(r.control_mean),
        treatment=float(r.treatment_mean),
        difference=float(r.difference),
        relative_lift=float(r.relative_lift),
        ci_low=float(r.ci_low),
        ci_high=float(r.ci_high),
        relative_ci_low=float(r.relative_ci_low),
        relative_ci_high=float(r.relative_ci_high),
        p_value=float(r.p_value),
        p_value_holm=p_holm,
        test=r.test,
    )


def campaign_report(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    *,
    response: Response = "click",
    alpha: float = 0.05,
) -> CampaignReport:
    """Arms and treatment-versus-control comparisons of one campaign (conversion rate by the
    two-proportion z-test, revenue per member by Welch's t-test; Holm-adjusted p-values)."""
    found = campaigns.filter(campaigns.campaign_id == campaign_id).limit(1).to_pyarrow().to_pylist()
    if not found:
        sample = campaigns.select("campaign_id").limit(5).to_pyarrow().column(0).to_pylist()
        raise DataError(
            f"campaign {campaign_id!r} is not in the campaigns table; known ids include "
            f"{sample}; list them with `memberlens campaign list`"
        )
    meta = found[0]
    rows = (
        arm_statistics(campaigns, campaign_members, orders, campaign_id, response=response)
        .order_by("arm")
        .to_pyarrow()
        .to_pylist()
    )
    arms = tuple(_summary(r) for r in rows)
    messages: list[str] = []
    control = next((a for a in arms if a.arm == CONTROL), None)
    results: list[tuple[str, str, ComparisonResult]] = []
    if not arms:
        messages.append(f"campaign {campaign_id!r} has no members in campaign_members")
    elif control is None:
        messages.append(
            "no control group: the arms' rates are descriptive only and no lift can be "
            "estimated (the members would have bought anyway at an unknown rate); next time "
            "hold out a random share of the audience (e.g. 10-20 %) as group 'control'"
        )
    else:
        for arm in arms:
            if arm.arm == CONTROL:
                continue
            if arm.n < 2 or control.n < 2:
                messages.append(f"arm {arm.arm!r} or control has fewer than 2 members: no test")
                continue
            results.append(
                (
                    arm.arm,
                    "conversion_rate",
                    two_proportion_ztest(control.conversion, arm.conversion, alpha=alpha),
                )
            )
            results.append(
                (
                    arm.arm,
                    "revenue_per_member",
                    welch_ttest(control.revenue_statistics, arm.revenue_statistics, alpha=alpha),
                )
            )
    adjusted = holm([r.p_value for _, _, r in results]).tolist() if results else []
    comparisons = tuple(
        _comparison(arm, metric, r, float(p))
        for (arm, metric, r), p in zip(results, adjusted, strict=True)
    )
    return CampaignReport(
        campaign_id=campaign_id,
        name=meta.get("name"),
        starts_at=meta.get("starts_at"),
        ends_at=meta.get("ends_at"),
        response=response,
        alpha=alpha,
        arms=arms,
        comparisons=comparisons,
        messages=tuple(messages),
    )
