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

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
from ibis import _

from memberlens.exceptions import DataError
from memberlens.experiments.bayesian import (
    BayesianResult,
    beta_binomial_readout,
    gaussian_readout,
)
from memberlens.experiments.cuped import cuped_adjusted, cuped_theta
from memberlens.experiments.frequentist import (
    ComparisonResult,
    two_proportion_ztest,
    welch_ttest,
)
from memberlens.experiments.multiple import benjamini_hochberg, holm
from memberlens.experiments.planning import sample_size_for_rate
from memberlens.experiments.sequential import confidence_sequence
from memberlens.experiments.srm import SrmResult, sample_ratio_mismatch
from memberlens.experiments.statistics import PairedSampleMean, Proportion, SampleMean

__all__ = [
    "RESPONSES",
    "SUFFICIENT_STATISTICS",
    "ArmSummary",
    "CampaignReport",
    "Comparison",
    "Costs",
    "Economics",
    "Response",
    "SegmentResult",
    "adjust_family",
    "aggregate_outcomes",
    "arm_statistics",
    "campaign_economics",
    "campaign_report",
    "compare_arms",
    "no_nan",
    "resolve_response",
    "segment_breakdown",
]

Response = Literal["auto", "click", "open", "open_or_click", "visit", "order"]
#: response flavours as the settings and the CLI name them
RESPONSES: tuple[str, ...] = ("auto", "click", "open", "open_or_click", "visit", "order")
CONTROL = "control"
Metric = Literal[
    "conversion_rate",
    "revenue_per_member",
    "response_rate",
    "retention_rate",
    "revenue_per_member_cuped",
]


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
    #: buyers among the responders / responders (None without responders)
    conversion_rate_responders: float | None = None
    responder_buyers: int = 0
    #: members with a paid order in [ends_at, ends_at + retention_days)
    retained: int = 0
    retention_rate: float = 0.0
    #: in-window paid orders carrying a coupon, and their discount
    coupon_orders: int = 0
    coupon_discount: float = 0.0
    #: pre-period spend statistics (CUPED's covariate), not in the JSON
    pre_sum: float = 0.0
    pre_sum_squares: float = 0.0
    sum_products: float = 0.0

    @property
    def conversion(self) -> Proportion:
        return Proportion(n=self.n, successes=self.buyers)

    @property
    def revenue_statistics(self) -> SampleMean:
        return SampleMean(n=self.n, sum=self.revenue, sum_squares=self.revenue_sum_squares)

    @property
    def paired(self) -> PairedSampleMean:
        return PairedSampleMean(
            n=self.n,
            sum=self.revenue,
            sum_squares=self.revenue_sum_squares,
            pre_sum=self.pre_sum,
            pre_sum_squares=self.pre_sum_squares,
            sum_products=self.sum_products,
        )


_HIDDEN = ("revenue_sum_squares", "pre_sum", "pre_sum_squares", "sum_products")


@dataclass(frozen=True)
class Comparison:
    """One treatment arm against control on one metric."""

    arm: str
    metric: Metric
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
    #: Bayesian expected loss of choosing the treatment, E[max(C - T, 0)]
    expected_loss: float = math.nan
    #: always-valid (mSPRT) interval: stays valid however often the report is read
    sequential_ci_low: float = math.nan
    sequential_ci_high: float = math.nan
    #: over the whole family of the report (arms x metrics x segments)
    p_value_holm: float = math.nan
    p_value_bh: float = math.nan


@dataclass(frozen=True)
class Economics:
    """Incremental revenue, cost and ROI of one treatment arm against control."""

    arm: str
    #: (revenue per member of the arm - of control) x members of the arm, with its interval
    incremental_revenue: float
    ci_low: float
    ci_high: float
    incremental_margin: float | None
    message_cost: float | None
    coupon_cost: float | None
    cost: float | None
    roi: float | None
    roi_ci_low: float | None
    roi_ci_high: float | None
    #: why the ROI (or a cost) is blank
    reason: str | None = None


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
    channel: str | None = None
    retention_days: int = 30
    pre_days: int = 90
    cuped: bool = False
    #: CUPED's theta and the share of revenue variance it removed (rho^2)
    cuped_theta: float | None = None
    cuped_variance_reduction: float | None = None
    economics: tuple[Economics, ...] = field(default=())
    #: where the ``by`` segments come from: "members" (an attribute), "mart_member_history"
    #: (the snapshot nearest on or before the start) or "mart_members" (the latest run)
    segments_source: str | None = None
    #: the as-of date of those segments (ISO date; None for a member attribute)
    segments_as_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for part in (out, *out["segments"]):
            for arm in part["arms"]:
                for key in _HIDDEN:
                    arm.pop(key)
            for key in ("arms", "comparisons", "messages"):
                part[key] = list(part[key])
        out["segments"] = list(out["segments"])
        out["economics"] = list(out["economics"])
        clean: dict[str, Any] = no_nan(out)
        return clean


def no_nan(value: Any) -> Any:
    """``value`` (a dict or list, nested) with every NaN (a relative lift over a zero control
    rate, say) as None, so the JSON is valid; the reports' ``to_dict`` and the API use it."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value


def _responded(cm: ir.Table, response: str) -> ir.BooleanValue:
    if response == "click":
        return cm.clicked_at.notnull()
    if response == "open":
        return cm.opened_at.notnull()
    return cm.opened_at.notnull() | cm.clicked_at.notnull()


def resolve_response(campaign_members: ir.Table, campaign_id: str | None, response: str) -> str:
    """``auto``: click when the campaign has clicks, else open when it has opens, else an order
    (the shop has no response data). Other values are returned as they are."""
    if response != "auto":
        return response
    cm = campaign_members
    if campaign_id is not None:
        cm = cm.filter(cm.campaign_id == campaign_id)
    row = (
        cm.aggregate(clicks=cm.clicked_at.count(), opens=cm.opened_at.count())
        .to_pyarrow()
        .to_pylist()[0]
    )
    if row["clicks"]:
        return "click"
    if row["opens"]:
        return "open"
    return "order"


def member_outcomes(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str | None,
    *,
    response: str = "click",
    segments: ir.Table | None = None,
    events: ir.Table | None = None,
    retention_days: int = 30,
    pre_days: int = 90,
) -> ir.Table:
    """One row per campaign and targeted member (an Ibis expression): ``campaign_id``,
    ``arm``, (``segment``), ``member_id``, ``orders``, ``revenue`` in the window,
    ``coupon_orders``, ``coupon_discount``, ``retained`` (0/1), ``pre`` (pre-period spend),
    ``responded`` and ``bought`` (0/1). :func:`arm_statistics` aggregates it; the regressions of
    :mod:`memberlens.experiments.regression` read it per member.
    """
    if response == "visit" and events is None:
        raise DataError(
            "response = visit needs the events table (visits); load it with `memberlens ingest "
            'events FILE` or set [campaigns] response = "click", "open" or "order"'
        )
    c = campaigns
    if campaign_id is not None:
        c = c.filter(c.campaign_id == campaign_id)
    c = c.select("campaign_id", "starts_at", "ends_at")
    cm = campaign_members
    if campaign_id is not None:
        cm = cm.filter(cm.campaign_id == campaign_id)
    flag = ibis.literal(0) if response in ("order", "visit") else _responded(cm, response)
    cm = cm.select("campaign_id", "member_id", arm=cm["group"], responded=flag.cast("int64"))
    keys = ["campaign_id", "arm"]
    if segments is not None:
        seg = segments.select("member_id", segment=segments.segment.cast("string"))
        cm = cm.left_join(seg, "member_id").select(
            "campaign_id", "member_id", "arm", "responded", segment=_.segment.fill_null("(none)")
        )
        keys = ["campaign_id", "segment", "arm"]
    discount = (
        orders.discount.cast("float64").fill_null(0.0)
        if "discount" in orders.columns
        else ibis.literal(0.0)
    )
    has_coupon = (
        orders.coupon_id.notnull() if "coupon_id" in orders.columns else ibis.literal(False)
    )
    paid = orders.filter(orders.status == "paid").select(
        "member_id",
        "ordered_at",
        amount=orders.amount.cast("float64"),
        coupon=has_coupon.cast("int64"),
        discount=discount,
    )
    targeted = cm.select("campaign_id", "member_id").distinct()
    mine = paid.join(targeted, "member_id").join(c, "campaign_id")
    pre_start = mine.starts_at - ibis.interval(days=pre_days)
    post_end = mine.ends_at + ibis.interval(days=retention_days)
    mine = mine.filter(mine.ordered_at >= pre_start, mine.ordered_at < post_end)
    inside = (mine.ordered_at >= mine.starts_at) & (mine.ordered_at < mine.ends_at)
    before = mine.ordered_at < mine.starts_at
    after = mine.ordered_at >= mine.ends_at
    zero = ibis.literal(0.0)
    per_member = mine.group_by(["campaign_id", "member_id"]).aggregate(
        orders=inside.cast("int64").sum(),
        revenue=ibis.ifelse(inside, mine.amount, zero).sum(),
        coupon_orders=(inside & (mine.coupon == 1)).cast("int64").sum(),
        coupon_discount=ibis.ifelse(inside & (mine.coupon == 1), mine.discount, zero).sum(),
        retained=after.cast("int64").max(),
        pre=ibis.ifelse(before, mine.amount, zero).sum(),
    )
    if response == "visit":
        assert events is not None
        ev = events.filter(events.member_id.notnull()).select("member_id", "occurred_at")
        seen = (
            ev.join(targeted, "member_id")
            .join(c, "campaign_id")
            .filter(lambda t: (t.occurred_at >= t.starts_at) & (t.occurred_at < t.ends_at))
            .select("campaign_id", "member_id")
            .distinct()
            .mutate(visited=ibis.literal(1))
        )
        cm = cm.left_join(seen, ["campaign_id", "member_id"]).select(
            *[k for k in cm.columns if k != "responded"], responded=_.visited.fill_null(0)
        )
    joined = cm.left_join(per_member, ["campaign_id", "member_id"]).select(
        *keys,
        "member_id",
        orders=_.orders.fill_null(0),
        revenue=_.revenue.fill_null(0.0),
        coupon_orders=_.coupon_orders.fill_null(0),
        coupon_discount=_.coupon_discount.fill_null(0.0),
        retained=_.retained.fill_null(0),
        pre=_.pre.fill_null(0.0),
        responded=_.responded,
    )
    bought = (joined.orders > 0).cast("int64")
    responded = bought if response == "order" else joined.responded
    return joined.mutate(bought=bought, responded=responded)


def arm_statistics(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str | None,
    *,
    response: str = "click",
    segments: ir.Table | None = None,
    events: ir.Table | None = None,
    retention_days: int = 30,
    pre_days: int = 90,
) -> ir.Table:
    """One row per campaign and arm of sufficient statistics (an Ibis expression; nothing runs
    until it is executed): ``n``, ``responders``, ``buyers``, ``responder_buyers``, ``orders``,
    ``revenue``, ``revenue_sum_squares``, ``retained``, ``coupon_orders``, ``coupon_discount``
    and the pre-period spend sums of CUPED (``pre_sum``, ``pre_sum_squares``,
    ``sum_products``). ``campaign_id=None``: every campaign at once. With ``segments``
    (``member_id``, ``segment``), one row per campaign, segment and arm; members without a
    segment go to ``(none)``. ``response`` is resolved (not ``auto``); ``visit`` needs
    ``events``."""
    joined = member_outcomes(
        campaigns,
        campaign_members,
        orders,
        campaign_id,
        response=response,
        segments=segments,
        events=events,
        retention_days=retention_days,
        pre_days=pre_days,
    )
    keys = ["campaign_id", "arm"] if segments is None else ["campaign_id", "segment", "arm"]
    return aggregate_outcomes(joined, keys)


#: the additive columns of :func:`aggregate_outcomes` (a group's are the sums of its parts')
SUFFICIENT_STATISTICS = (
    "n",
    "responders",
    "buyers",
    "responder_buyers",
    "orders",
    "revenue",
    "revenue_sum_squares",
    "retained",
    "coupon_orders",
    "coupon_discount",
    "pre_sum",
    "pre_sum_squares",
    "sum_products",
)


def aggregate_outcomes(per_member: ir.Table, keys: list[str]) -> ir.Table:
    """The sufficient statistics of :func:`arm_statistics` from :func:`member_outcomes` rows,
    grouped by ``keys``."""
    return per_member.group_by(keys).aggregate(
        n=_.count(),
        responders=_.responded.sum(),
        buyers=_.bought.sum(),
        responder_buyers=(_.responded * _.bought).sum(),
        orders=_.orders.sum(),
        revenue=_.revenue.sum(),
        revenue_sum_squares=(_.revenue * _.revenue).sum(),
        retained=_.retained.sum(),
        coupon_orders=_.coupon_orders.sum(),
        coupon_discount=_.coupon_discount.sum(),
        pre_sum=_.pre.sum(),
        pre_sum_squares=(_.pre * _.pre).sum(),
        sum_products=(_.pre * _.revenue).sum(),
    )


def _summary(row: dict[str, Any]) -> ArmSummary:
    n = int(row["n"])
    orders = int(row["orders"] or 0)
    revenue = float(row["revenue"] or 0.0)
    responders = int(row["responders"] or 0)
    responder_buyers = int(row.get("responder_buyers") or 0)
    retained = int(row.get("retained") or 0)
    return ArmSummary(
        arm=str(row["arm"]),
        n=n,
        responders=responders,
        buyers=int(row["buyers"] or 0),
        orders=orders,
        revenue=revenue,
        revenue_sum_squares=float(row["revenue_sum_squares"] or 0.0),
        response_rate=responders / n,
        conversion_rate=int(row["buyers"] or 0) / n,
        aov=revenue / orders if orders else None,
        revenue_per_member=revenue / n,
        conversion_rate_responders=responder_buyers / responders if responders else None,
        responder_buyers=responder_buyers,
        retained=retained,
        retention_rate=retained / n,
        coupon_orders=int(row.get("coupon_orders") or 0),
        coupon_discount=float(row.get("coupon_discount") or 0.0),
        pre_sum=float(row.get("pre_sum") or 0.0),
        pre_sum_squares=float(row.get("pre_sum_squares") or 0.0),
        sum_products=float(row.get("sum_products") or 0.0),
    )


@dataclass(frozen=True)
class ArmResult:
    """One treatment arm against control on one metric, before the p-value adjustments."""

    arm: str
    metric: Metric
    result: ComparisonResult
    bayes: BayesianResult
    sequential_low: float
    sequential_high: float


def _comparison(r: ArmResult, p_adjusted: float) -> Comparison:
    c = r.result
    return Comparison(
        arm=r.arm,
        metric=r.metric,
        control=float(c.control_mean),
        treatment=float(c.treatment_mean),
        difference=float(c.difference),
        relative_lift=float(c.relative_lift),
        ci_low=float(c.ci_low),
        ci_high=float(c.ci_high),
        relative_ci_low=float(c.relative_ci_low),
        relative_ci_high=float(c.relative_ci_high),
        p_value=float(c.p_value),
        p_value_adjusted=p_adjusted,
        probability_to_beat_control=float(r.bayes.probability_to_beat_control),
        test=c.test,
        expected_loss=float(r.bayes.expected_loss),
        sequential_ci_low=r.sequential_low,
        sequential_ci_high=r.sequential_high,
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


#: the relative lift a "too small" note plans for when the arms show none to plan with
PLANNING_MDE = 0.1


def _too_small_note(arm: ArmSummary, control: ArmSummary, alpha: float) -> str:
    """Arms with no test (fewer than 2 members, or no buyers): the members per arm a test of a
    10 % lift would need at the pooled conversion rate (or say that no rate is known yet)."""
    n = arm.n + control.n
    pooled = (arm.buyers + control.buyers) / n if n else 0.0
    head = (
        f"arm {arm.arm!r} ({arm.n:,} members, {arm.buyers:,} buyers) against control "
        f"({control.n:,}, {control.buyers:,}) is too small for a test"
    )
    if 0.0 < pooled * (1 + PLANNING_MDE) < 1.0:
        plan = sample_size_for_rate(baseline=pooled, mde=PLANNING_MDE, alpha=alpha)
        return (
            f"{head}: detecting a {PLANNING_MDE:.0%} lift over the pooled conversion rate of "
            f"{pooled:.2%} with 80 % power needs about {plan.n_per_arm:,} members per arm "
            "(`memberlens experiment plan` for other lifts)"
        )
    return (
        f"{head}: no conversion rate to plan with yet; plan the next test with "
        "`memberlens experiment plan --baseline RATE --mde 0.1`"
    )


def _sequential(
    difference: float, variance: float, control_mean: float, alpha: float, tau_relative: float
) -> tuple[float, float]:
    """The always-valid interval at this look (mSPRT, tau = tau_relative x |control mean|)."""
    if not variance > 0.0:
        return math.nan, math.nan
    tau = tau_relative * abs(control_mean) or math.sqrt(variance)
    low, high = confidence_sequence([difference], [variance], tau=tau, alpha=alpha)
    return float(low[-1]), float(high[-1])


def _arm_result(
    name: str,
    metric: Metric,
    control: Proportion | SampleMean,
    treatment: Proportion | SampleMean,
    alpha: float,
    tau_relative: float,
) -> ArmResult:
    """A rate by the two-proportion z-test and Beta-Binomial, a mean by Welch and Gaussian."""
    if isinstance(control, Proportion) and isinstance(treatment, Proportion):
        r = two_proportion_ztest(control, treatment, alpha=alpha)
        bayes = beta_binomial_readout(control, treatment)
    elif isinstance(control, SampleMean) and isinstance(treatment, SampleMean):
        r = welch_ttest(control, treatment, alpha=alpha)
        bayes = gaussian_readout(control, treatment)
    else:  # pragma: no cover - a programming error
        raise TypeError("control and treatment must be of the same kind")
    v = control.variance / control.n + treatment.variance / treatment.n
    seq = _sequential(r.difference, v, r.control_mean, alpha, tau_relative)
    return ArmResult(name, metric, r, bayes, *seq)


NO_CONTROL = (
    "no control group: the arms' rates are descriptive only and no lift, incremental revenue "
    "or ROI can be estimated (the members would have bought anyway at an unknown rate). What "
    "you can read: each arm's reach, response, conversion, AOV and retention. What you cannot: "
    "whether the campaign caused any of it. Next time hold out a random share of the audience "
    "(e.g. 10-20 %) as group 'control' (`memberlens experiment plan` gives its size)"
)


def compare_arms(
    arms: tuple[ArmSummary, ...],
    *,
    alpha: float = 0.05,
    response: str = "click",
    cuped: bool = False,
    tau_relative: float = 0.1,
) -> tuple[list[ArmResult], list[str]]:
    """Each treatment arm against control on conversion, revenue per member, response (unless
    the response is the order itself), retention and, with ``cuped``, CUPED-adjusted revenue;
    and the messages (no control group, arms too small)."""
    messages: list[str] = []
    control = next((a for a in arms if a.arm == CONTROL), None)
    results: list[ArmResult] = []
    if control is None:
        messages.append(NO_CONTROL)
        return results, messages
    adjusted: dict[str, SampleMean] = {}
    if cuped:
        try:
            theta = cuped_theta([a.paired for a in arms])
        except ValueError as exc:
            messages.append(f"CUPED left out: {exc}")
        else:
            pre_mean = sum(a.pre_sum for a in arms) / sum(a.n for a in arms)
            adjusted = {a.arm: cuped_adjusted(a.paired, theta, pre_mean) for a in arms}
    for arm in arms:
        if arm.arm == CONTROL:
            continue
        if arm.n < 2 or control.n < 2 or any(a.buyers in (0, a.n) for a in (arm, control)):
            messages.append(_too_small_note(arm, control, alpha))
            if arm.n < 2 or control.n < 2:
                continue
        conv = two_proportion_ztest(control.conversion, arm.conversion, alpha=alpha)
        rates: list[tuple[Metric, Proportion, Proportion]] = [
            ("conversion_rate", control.conversion, arm.conversion)
        ]
        if response != "order":
            rates.append(
                (
                    "response_rate",
                    Proportion(control.n, control.responders),
                    Proportion(arm.n, arm.responders),
                )
            )
        rates.append(
            (
                "retention_rate",
                Proportion(control.n, control.retained),
                Proportion(arm.n, arm.retained),
            )
        )
        pairs: list[tuple[Metric, Proportion | SampleMean, Proportion | SampleMean]] = [
            *rates,
            ("revenue_per_member", control.revenue_statistics, arm.revenue_statistics),
        ]
        if adjusted:
            pairs.append(("revenue_per_member_cuped", adjusted[CONTROL], adjusted[arm.arm]))
        flat = []
        for metric, pc, pt in pairs:
            if pc.variance == 0.0 and pt.variance == 0.0:  # e.g. nobody bought in either arm
                flat.append(metric)
                continue
            results.append(_arm_result(arm.arm, metric, pc, pt, alpha, tau_relative))
        if flat:
            messages.append(
                f"arm {arm.arm!r}: no variation in {', '.join(flat)} in either arm (every "
                "member has the same value), so there is nothing to compare"
            )
        note = _power_note(arm, control, conv, alpha)
        if note:
            messages.append(note)
    return results, messages


@dataclass(frozen=True)
class Costs:
    """The ``[costs]`` settings: what a message costs per channel, what a coupon order costs
    (None: the orders' own ``discount``), the product margin as a share of revenue."""

    message: dict[str, float] = field(default_factory=dict)
    coupon: float | None = None
    margin: float | None = None

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> Costs:
        coupon = values.get("coupon")
        margin = values.get("margin")
        return cls(
            message={str(k): float(v) for k, v in dict(values.get("message", {})).items()},
            coupon=None if coupon is None else float(coupon),
            margin=None if margin is None else float(margin),
        )


def campaign_economics(
    arms: tuple[ArmSummary, ...],
    results: list[ArmResult] | tuple[Comparison, ...],
    costs: Costs | None,
    channel: str | None,
) -> tuple[Economics, ...]:
    """Per treatment arm: incremental revenue (with the interval of the revenue-per-member
    difference scaled by the arm's members), incremental margin, message and coupon cost, and
    ROI = (incremental margin - cost) / cost, blank with the reason when a cost is missing."""
    by_arm = {a.arm: a for a in arms}
    out = []
    for r in results:
        metric = r.metric
        if metric != "revenue_per_member":
            continue
        if isinstance(r, ArmResult):
            diff, low, high = r.result.difference, r.result.ci_low, r.result.ci_high
        else:
            diff, low, high = r.difference, r.ci_low, r.ci_high
        arm = by_arm[r.arm]
        inc, inc_low, inc_high = diff * arm.n, low * arm.n, high * arm.n
        reasons = []
        margin = costs.margin if costs else None
        if margin is None:
            reasons.append("no product margin: set [costs] margin (a share of revenue)")
        message_cost = None
        if costs is not None and channel is not None and channel in costs.message:
            message_cost = costs.message[channel] * arm.n
        else:
            reasons.append(
                f"no message cost for channel {channel or '(none)'!r}: set [costs] message = "
                f"{{ {channel or 'sms'} = 0.05 }}"
            )
        if costs is not None and costs.coupon is not None:
            coupon_cost: float | None = costs.coupon * arm.coupon_orders
        else:
            coupon_cost = arm.coupon_discount  # the orders' own discount
        cost = None if message_cost is None or coupon_cost is None else message_cost + coupon_cost
        roi = roi_low = roi_high = None
        if margin is not None and cost is not None:
            if cost > 0:
                roi = (inc * margin - cost) / cost
                roi_low = (inc_low * margin - cost) / cost
                roi_high = (inc_high * margin - cost) / cost
            else:
                reasons.append("the campaign cost nothing: ROI is undefined")
        out.append(
            Economics(
                arm=r.arm,
                incremental_revenue=inc,
                ci_low=inc_low,
                ci_high=inc_high,
                incremental_margin=None if margin is None else inc * margin,
                message_cost=message_cost,
                coupon_cost=coupon_cost,
                cost=cost,
                roi=roi,
                roi_ci_low=roi_low,
                roi_ci_high=roi_high,
                reason="; ".join(reasons) or None,
            )
        )
    return tuple(out)


def _srm(arms: tuple[ArmSummary, ...], planned_control_share: float) -> SrmResult:
    if not 0.0 < planned_control_share < 1.0:
        raise ValueError(
            f"planned_control_share must be between 0 and 1, found {planned_control_share}"
        )
    k = sum(a.arm != CONTROL for a in arms)
    shares = [
        planned_control_share if a.arm == CONTROL else (1 - planned_control_share) / k for a in arms
    ]
    # the report carries the result (``srm``) and leads its messages with a mismatch: no warning
    return sample_ratio_mismatch([a.n for a in arms], shares, warn=False)


def _retention_note(meta: dict[str, Any], orders: ir.Table, retention_days: int) -> str | None:
    """Say so when the data end before the retention period after the window does."""
    ends = meta.get("ends_at")
    if ends is None:
        return None
    last = orders.ordered_at.max().to_pyarrow().as_py()
    due = ends + dt.timedelta(days=retention_days)
    if last is not None and last < due:
        return (
            f"retention counts orders up to {retention_days} days after the window (until "
            f"{due:%Y-%m-%d}), but the orders end on {last:%Y-%m-%d}: the retention rates are "
            "still incomplete"
        )
    return None


def _rows(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    response: str,
    segments: ir.Table | None,
    events: ir.Table | None,
    retention_days: int,
    pre_days: int,
) -> list[dict[str, Any]]:
    expr = arm_statistics(
        campaigns,
        campaign_members,
        orders,
        campaign_id,
        response=response,
        segments=segments,
        events=events,
        retention_days=retention_days,
        pre_days=pre_days,
    )
    keys = ["arm"] if segments is None else ["segment", "arm"]
    rows: list[dict[str, Any]] = expr.order_by(keys).to_pyarrow().to_pylist()
    return rows


def campaign_report(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    *,
    response: Response = "auto",
    alpha: float = 0.05,
    planned_control_share: float | None = None,
    retention_days: int = 30,
    pre_days: int = 90,
    cuped: bool = False,
    costs: Costs | None = None,
    events: ir.Table | None = None,
    tau_relative: float = 0.1,
) -> CampaignReport:
    """Arms and treatment-versus-control comparisons of one campaign (rates by the
    two-proportion z-test, revenue per member by Welch's t-test; Holm-adjusted p-values), the
    Bayesian read-out, the always-valid interval, CUPED (``cuped``) and the economics.

    With ``planned_control_share`` (treatment arms sharing the rest equally), the arm sizes are
    checked for a sample-ratio mismatch; a mismatch warns and leads the messages."""
    meta = campaign_id_row(campaigns, campaign_id)
    resolved = resolve_response(campaign_members, campaign_id, response)
    rows = _rows(
        campaigns,
        campaign_members,
        orders,
        campaign_id,
        resolved,
        None,
        events,
        retention_days,
        pre_days,
    )
    arms = tuple(_summary(r) for r in rows)
    results: list[ArmResult] = []
    if not arms:
        comparisons: tuple[Comparison, ...] = ()
        messages = [f"campaign {campaign_id!r} has no members in campaign_members"]
    else:
        results, messages = compare_arms(
            arms, alpha=alpha, response=resolved, cuped=cuped, tau_relative=tau_relative
        )
        adjusted = holm([r.result.p_value for r in results]).tolist() if results else []
        comparisons = tuple(
            _comparison(r, float(p)) for r, p in zip(results, adjusted, strict=True)
        )
    srm = None
    if planned_control_share is not None and len(arms) >= 2:
        srm = _srm(arms, planned_control_share)
        if srm.mismatch:
            messages = [srm.message, *messages]
    if arms:
        note = _retention_note(meta, orders, retention_days)
        if note:
            messages.append(note)
    theta = reduction = None
    if cuped and any(c.metric == "revenue_per_member_cuped" for c in comparisons):
        theta = cuped_theta([a.paired for a in arms])
        total = arms[0].paired
        for a in arms[1:]:
            total = total + a.paired
        cov = (total.sum_products - total.sum * total.pre_sum / total.n) / (total.n - 1)
        var_y, var_x = total.post.variance, total.pre.variance
        reduction = cov**2 / (var_x * var_y) if var_y > 0 else 0.0
    channel = meta.get("channel")
    report = CampaignReport(
        campaign_id=campaign_id,
        name=meta.get("name"),
        starts_at=meta.get("starts_at"),
        ends_at=meta.get("ends_at"),
        response=cast("Response", resolved),
        alpha=alpha,
        arms=arms,
        comparisons=comparisons,
        messages=tuple(messages),
        srm=srm,
        channel=channel,
        retention_days=retention_days,
        pre_days=pre_days,
        cuped=cuped,
        cuped_theta=theta,
        cuped_variance_reduction=reduction,
        economics=campaign_economics(arms, results, costs, channel) if results else (),
    )
    return adjust_family(report)


def adjust_family(report: CampaignReport) -> CampaignReport:
    """Holm and Benjamini-Hochberg adjusted p-values over every comparison of the report: all
    arms x metrics, and all segments' when it has them."""
    parts = [report.comparisons, *(s.comparisons for s in report.segments)]
    flat = [c.p_value for part in parts for c in part]
    if not flat:
        return report
    holm_p = iter(holm(flat).tolist())
    bh_p = iter(benjamini_hochberg(flat).tolist())

    def fix(part: tuple[Comparison, ...]) -> tuple[Comparison, ...]:
        return tuple(
            replace(c, p_value_holm=float(next(holm_p)), p_value_bh=float(next(bh_p))) for c in part
        )

    comparisons = fix(report.comparisons)
    segments = tuple(replace(s, comparisons=fix(s.comparisons)) for s in report.segments)
    return replace(report, comparisons=comparisons, segments=segments)


def segment_breakdown(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    campaign_id: str,
    segments: ir.Table,
    *,
    response: Response = "auto",
    alpha: float = 0.05,
    retention_days: int = 30,
    pre_days: int = 90,
    cuped: bool = False,
    events: ir.Table | None = None,
    tau_relative: float = 0.1,
) -> tuple[SegmentResult, ...]:
    """The report's arms and comparisons per segment (``segments``: ``member_id``, ``segment``),
    with Benjamini-Hochberg adjusted p-values over all segments' comparisons."""
    campaign_id_row(campaigns, campaign_id)
    resolved = resolve_response(campaign_members, campaign_id, response)
    rows = _rows(
        campaigns,
        campaign_members,
        orders,
        campaign_id,
        resolved,
        segments,
        events,
        retention_days,
        pre_days,
    )
    by_segment: dict[str, list[ArmSummary]] = {}
    for row in rows:
        by_segment.setdefault(str(row["segment"]), []).append(_summary(row))
    parts = [
        (
            name,
            tuple(arms),
            *compare_arms(
                tuple(arms),
                alpha=alpha,
                response=resolved,
                cuped=cuped,
                tau_relative=tau_relative,
            ),
        )
        for name, arms in by_segment.items()
    ]
    flat = [r.result.p_value for _, _, results, _ in parts for r in results]
    adjusted = iter(benjamini_hochberg(flat).tolist() if flat else [])
    return tuple(
        SegmentResult(
            segment=name,
            arms=arms,
            comparisons=tuple(_comparison(r, float(next(adjusted))) for r in results),
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
