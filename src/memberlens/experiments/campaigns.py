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

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import ibis.expr.types as ir
from ibis import _

from memberlens.exceptions import DataError
from memberlens.experiments.bayesian import beta_binomial_readout, gaussian_readout
from memberlens.experiments.frequentist import (
    ComparisonResult,
    two_proportion_ztest,
    welch_ttest,
)
from memberlens.experiments.multiple import benjamini_hochberg, holm
from memberlens.experiments.planning import sample_size_for_rate
from memberlens.experiments.srm import SrmResult, sample_ratio_mismatch
from memberlens.experiments.statistics import Proportion, SampleMean

__all__ = [
    "ArmSummary",
    "CampaignReport",
    "Comparison",
    "Response",
    "SegmentResult",
    "arm_statistics",
    "campaign_report",
    "compare_arms",
    "segment_breakdown",
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
    p_value_adjusted: float  # Holm over the report's arms; Benjamini-Hochberg over segments
    probability_to_beat_control: float  # Bayesian: Beta-Binomial (rates) or Gaussian (revenue)
    test: str


@dataclass(frozen=True)
class SegmentResult:
    """The arms and comparisons of one segment (e.g. one province) of a campaign."""

    segment: str
    arms: tuple[ArmSummary, ...]
    comparisons: tuple[Comparison, ...]
    messages: tuple[str, ...] = field(default=())


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
    by: str | None = None
    segments: tuple[SegmentResult, ...] = field(default=())
    srm: SrmResult | None = None  # with a planned control share

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for part in (out, *out["segments"]):
            for arm in part["arms"]:
                arm.pop("revenue_sum_squares")
            for key in ("arms", "comparisons", "messages"):
                part[key] = list(part[key])
        out["segments"] = list(out["segments"])
        clean: dict[str, Any] = _no_nan(out)
        return clean


def _no_nan(value: Any) -> Any:
    """NaN (a relative lift over a zero control rate) as None, so the JSON is valid."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


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
    segments: ir.Table | None = None,
) -> ir.Table:
    """One row per arm: n, responders, buyers, orders, revenue, revenue_sum_squares (an Ibis
    expression; nothing runs until it is executed). With ``segments`` (columns ``member_id``,
    ``segment``), one row per segment and arm; members without a segment go to ``(none)``."""
    c = campaigns.filter(campaigns.campaign_id == campaign_id).select(
        "campaign_id", "starts_at", "ends_at"
    )
    cm = campaign_members.filter(campaign_members.campaign_id == campaign_id)
    cm = cm.select("member_id", arm=cm["group"], responded=_responded(cm, response).cast("int64"))
    keys = ["arm"]
    if segments is not None:
        seg = segments.select("member_id", segment=segments.segment.cast("string"))
        cm = cm.left_join(seg, "member_id").select(
            "member_id", "arm", "responded", segment=_.segment.fill_null("(none)")
        )
        keys = ["segment", "arm"]
    paid = orders.filter(orders.status == "paid").select("member_id", "ordered_at", "amount")
    window = paid.join(c, [paid.ordered_at >= c.starts_at, paid.ordered_at < c.ends_at])
    per_member = (
        window.semi_join(cm, "member_id")
        .group_by("member_id")
        .aggregate(orders=_.count(), revenue=_.amount.cast("float64").sum())
    )
    joined = cm.left_join(per_member, "member_id").select(
        *keys,
        "responded",
        orders=_.orders.fill_null(0),
        revenue=_.revenue.fill_null(0.0),
    )
    return joined.group_by(keys).aggregate(
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


def _comparison(
    arm: str, metric: Any, r: ComparisonResult, beat: float, p_adjusted: float
) -> Comparison:
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
        p_value_adjusted=p_adjusted,
        probability_to_beat_control=beat,
        test=r.test,
    )


def _power_note(
    arm: ArmSummary, control: ArmSummary, conv: ComparisonResult, alpha: float
) -> str | None:
    """When the conversion difference is not significant: the members per arm that the observed
    lift would need (80 % power), so a too-small test says so instead of "no effect"."""
    if conv.p_value < alpha or not 0.0 < control.conversion_rate < 1.0:
        return None
    lift = arm.conversion_rate / control.conversion_rate - 1.0
    if lift <= 0.0 or control.conversion_rate * (1.0 + lift) >= 1.0:
        return None
    plan = sample_size_for_rate(baseline=control.conversion_rate, mde=lift, alpha=alpha)
    if plan.n_per_arm <= min(arm.n, control.n):
        return None
    return (
        f"arm {arm.arm!r}: the observed conversion lift of {lift:+.1%} is not significant; "
        f"detecting it with 80 % power needs about {plan.n_per_arm:,} members per arm "
        f"(this test has {arm.n:,} and {control.n:,} in control)"
    )


ArmResult = tuple[str, str, ComparisonResult, float]


def compare_arms(
    arms: tuple[ArmSummary, ...], *, alpha: float = 0.05
) -> tuple[list[ArmResult], list[str]]:
    """Each treatment arm against control: (arm, metric, test result, P(beats control)), and the
    messages (no control group, arms too small)."""
    messages: list[str] = []
    control = next((a for a in arms if a.arm == CONTROL), None)
    results: list[ArmResult] = []
    if control is None:
        messages.append(
            "no control group: the arms' rates are descriptive only and no lift can be "
            "estimated (the members would have bought anyway at an unknown rate); next time "
            "hold out a random share of the audience (e.g. 10-20 %) as group 'control'"
        )
        return results, messages
    for arm in arms:
        if arm.arm == CONTROL:
            continue
        if arm.n < 2 or control.n < 2:
            messages.append(f"arm {arm.arm!r} or control has fewer than 2 members: no test")
            continue
        if any(a.buyers in (0, a.n) for a in (arm, control)):
            messages.append(
                f"arm {arm.arm!r} or control has no buyers (or only buyers): the conversion "
                "interval is unreliable and the relative lift undefined; the arms need more members"
            )
        conv = two_proportion_ztest(control.conversion, arm.conversion, alpha=alpha)
        beat = beta_binomial_readout(control.conversion, arm.conversion)
        results.append((arm.arm, "conversion_rate", conv, beat.probability_to_beat_control))
        rev = welch_ttest(control.revenue_statistics, arm.revenue_statistics, alpha=alpha)
        beat = gaussian_readout(control.revenue_statistics, arm.revenue_statistics)
        results.append((arm.arm, "revenue_per_member", rev, beat.probability_to_beat_control))
        note = _power_note(arm, control, conv, alpha)
        if note:
            messages.append(note)
    return results, messages


def campaign_report(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    *,
    response: Response = "click",
    alpha: float = 0.05,
    planned_control_share: float | None = None,
) -> CampaignReport:
    """Arms and treatment-versus-control comparisons of one campaign (conversion rate by the
    two-proportion z-test, revenue per member by Welch's t-test; Holm-adjusted p-values).

    With ``planned_control_share`` (treatment arms sharing the rest equally), the arm sizes are
    checked for a sample-ratio mismatch; a mismatch warns and leads the messages."""
    meta = campaign_id_row(campaigns, campaign_id)
    rows = (
        arm_statistics(campaigns, campaign_members, orders, campaign_id, response=response)
        .order_by("arm")
        .to_pyarrow()
        .to_pylist()
    )
    arms = tuple(_summary(r) for r in rows)
    if not arms:
        comparisons: tuple[Comparison, ...] = ()
        messages = [f"campaign {campaign_id!r} has no members in campaign_members"]
    else:
        results, messages = compare_arms(arms, alpha=alpha)
        adjusted = holm([r.p_value for _, _, r, _ in results]).tolist() if results else []
        comparisons = tuple(
            _comparison(arm, metric, r, beat, float(p))
            for (arm, metric, r, beat), p in zip(results, adjusted, strict=True)
        )
    srm = None
    if planned_control_share is not None and len(arms) >= 2:
        if not 0.0 < planned_control_share < 1.0:
            raise ValueError(
                f"planned_control_share must be between 0 and 1, found {planned_control_share}"
            )
        k = sum(a.arm != CONTROL for a in arms)
        shares = [
            planned_control_share if a.arm == CONTROL else (1 - planned_control_share) / k
            for a in arms
        ]
        srm = sample_ratio_mismatch([a.n for a in arms], shares)
        if srm.mismatch:
            messages = [srm.message, *messages]
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
        srm=srm,
    )


def segment_breakdown(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    segments: ir.Table,
    *,
    response: Response = "click",
    alpha: float = 0.05,
) -> tuple[SegmentResult, ...]:
    """The report's arms and comparisons per segment (``segments``: ``member_id``, ``segment``),
    with Benjamini-Hochberg adjusted p-values over all segments' comparisons."""
    campaign_id_row(campaigns, campaign_id)
    rows = (
        arm_statistics(
            campaigns, campaign_members, orders, campaign_id, response=response, segments=segments
        )
        .order_by(["segment", "arm"])
        .to_pyarrow()
        .to_pylist()
    )
    by_segment: dict[str, list[ArmSummary]] = {}
    for row in rows:
        by_segment.setdefault(str(row["segment"]), []).append(_summary(row))
    parts = [
        (name, tuple(arms), *compare_arms(tuple(arms), alpha=alpha))
        for name, arms in by_segment.items()
    ]
    flat = [r.p_value for _, _, results, _ in parts for _, _, r, _ in results]
    adjusted = iter(benjamini_hochberg(flat).tolist() if flat else [])
    return tuple(
        SegmentResult(
            segment=name,
            arms=arms,
            comparisons=tuple(
                _comparison(arm, metric, r, beat, float(next(adjusted)))
                for arm, metric, r, beat in results
            ),
            messages=tuple(messages),
        )
        for name, arms, results, messages in parts
    )


def campaign_id_row(campaigns: ir.Table, campaign_id: str) -> dict[str, Any]:
    """The campaign's row, or a :class:`DataError` naming some known ids."""
    found = campaigns.filter(campaigns.campaign_id == campaign_id).limit(1).to_pyarrow().to_pylist()
    if not found:
        sample = campaigns.select("campaign_id").limit(5).to_pyarrow().column(0).to_pylist()
        raise DataError(
            f"campaign {campaign_id!r} is not in the campaigns table; known ids include "
            f"{sample}; list them with `memberlens campaign list`"
        )
    return dict(found[0])
