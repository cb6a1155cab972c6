"""The return of a targeted marketing programme against blanket sends (a calculator, no I/O).

A blanket send messages every member; a targeted programme messages the share ``target_share``
chosen by a model and reaches a share ``captured_share`` of the incremental buyers a blanket send
would have made (read it off the uplift model's Qini / cumulative-gain curve at that depth; random
targeting captures exactly ``target_share``). Per campaign, for ``m`` members messaged with ``b``
incremental buyers:

- incremental margin = b x AOV x margin;
- message cost = m x cost per message;
- coupon cost = (m x baseline x baseline_ratio + b) x coupon cost per order (every treated buyer
  uses the coupon, including those who would have bought anyway: the subsidy targeting avoids);
- net = incremental margin - message cost - coupon cost.

Over a year of ``campaigns_per_year`` sends the targeted programme also pays the fixed
``model_cost + staff_cost``. ROI = (incremental margin - cost) / cost. The break-even lift is the
absolute lift at which the programme's net is zero (net is linear in the lift), and the
break-even number of campaigns is the fixed cost over the targeted programme's extra net per
campaign against blanket sends.

>>> r = programme_roi(ProgrammeInputs(members=100_000, message_cost=0.05, baseline_rate=0.03,
...     lift=0.01, aov=200.0, margin=0.3, coupon_cost=10.0, campaigns_per_year=12,
...     target_share=0.3, captured_share=0.6, model_cost=20_000.0, staff_cost=30_000.0))
>>> round(r.blanket.net_per_campaign), round(r.targeted.net_per_campaign)
(15000, 19500)
>>> round(r.break_even_campaigns, 1)
11.1
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PlanReturn", "ProgrammeInputs", "ProgrammeResult", "programme_roi"]


@dataclass(frozen=True)
class ProgrammeInputs:
    """What the calculator needs (money in the shop's currency; rates as shares)."""

    members: int
    #: cost of one message on the channel (e.g. an SMS)
    message_cost: float
    #: share of members who buy in a campaign window without a message
    baseline_rate: float
    #: absolute incremental conversion of a blanket send (e.g. 0.01 = one point), from past
    #: campaigns (the conversion difference of their reports) or typed in
    lift: float
    #: average order value of an incremental order
    aov: float
    #: product margin as a share of revenue
    margin: float
    #: cost of the coupon per treated buyer who uses it (0 without a coupon)
    coupon_cost: float = 0.0
    campaigns_per_year: int = 12
    #: share of members the targeted programme messages
    target_share: float = 0.3
    #: share of the blanket send's incremental buyers the targeted share reaches (>= target_share
    #: for a model better than random)
    captured_share: float = 0.6
    #: baseline rate of the targeted members relative to everyone's (1: the model does not pick
    #: "sure things"; below 1 when it avoids them)
    baseline_ratio: float = 1.0
    #: yearly cost of building and running the targeting model
    model_cost: float = 0.0
    #: yearly staff cost of the programme
    staff_cost: float = 0.0

    def check(self) -> None:
        """Raise ValueError naming the first impossible input."""
        if self.members < 1:
            raise ValueError(f"members must be at least 1, found {self.members}")
        if self.campaigns_per_year < 1:
            raise ValueError(
                f"campaigns_per_year must be at least 1, found {self.campaigns_per_year}"
            )
        for name in ("message_cost", "aov", "coupon_cost", "model_cost", "staff_cost"):
            value = getattr(self, name)
            if not value >= 0.0 or math.isinf(value):
                raise ValueError(f"{name} must be a number >= 0, found {value}")
        for name in ("baseline_rate", "margin", "target_share", "captured_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, found {value}")
        if not -1.0 <= self.lift <= 1.0:
            raise ValueError(f"lift is an absolute rate difference in [-1, 1], found {self.lift}")
        if self.target_share == 0.0:
            raise ValueError("target_share must be above 0 (the programme messages someone)")
        if self.baseline_ratio < 0.0:
            raise ValueError(f"baseline_ratio must be >= 0, found {self.baseline_ratio}")


@dataclass(frozen=True)
class PlanReturn:
    """One way of sending (blanket or targeted), per campaign and per year."""

    plan: str
    messaged: int
    incremental_buyers: float
    incremental_revenue: float
    incremental_margin: float
    message_cost: float
    coupon_cost: float
    fixed_cost_per_year: float
    net_per_campaign: float
    net_per_year: float
    cost_per_year: float
    roi: float | None  # None when the plan costs nothing
    #: the absolute lift (of a blanket send) at which the plan's yearly net is zero
    break_even_lift: float | None


@dataclass(frozen=True)
class ProgrammeResult:
    inputs: ProgrammeInputs
    blanket: PlanReturn
    targeted: PlanReturn
    #: targeted net per year minus blanket net per year
    advantage_per_year: float
    #: campaigns a year from which the targeted programme out-earns blanket sends (None: never)
    break_even_campaigns: float | None
    messages: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["messages"] = list(self.messages)
        return out


def _plan(
    x: ProgrammeInputs, name: str, share: float, captured: float, ratio: float, fixed: float
) -> PlanReturn:
    messaged = x.members * share
    # per unit of lift: the linear parts of the net, so the break-even lift is exact
    buyers_per_lift = x.members * captured
    margin_per_buyer = x.aov * x.margin - x.coupon_cost
    base_cost = messaged * x.message_cost + messaged * x.baseline_rate * ratio * x.coupon_cost
    buyers = buyers_per_lift * x.lift
    revenue = buyers * x.aov
    inc_margin = revenue * x.margin
    coupon = (messaged * x.baseline_rate * ratio + buyers) * x.coupon_cost
    message = messaged * x.message_cost
    net = inc_margin - message - coupon
    k = x.campaigns_per_year
    cost_year = k * (message + coupon) + fixed
    net_year = k * net - fixed
    slope = k * buyers_per_lift * margin_per_buyer
    break_even = (k * base_cost + fixed) / slope if slope > 0 else None
    return PlanReturn(
        plan=name,
        messaged=round(messaged),
        incremental_buyers=buyers,
        incremental_revenue=revenue,
        incremental_margin=inc_margin,
        message_cost=message,
        coupon_cost=coupon,
        fixed_cost_per_year=fixed,
        net_per_campaign=net,
        net_per_year=net_year,
        cost_per_year=cost_year,
        roi=(k * inc_margin - cost_year) / cost_year if cost_year > 0 else None,
        break_even_lift=break_even,
    )


def programme_roi(inputs: ProgrammeInputs) -> ProgrammeResult:
    """Expected yearly return, ROI and break-even points of a targeted programme against blanket
    sends to every member (formulas in the module docstring and ``docs/experiments.md``)."""
    inputs.check()
    blanket = _plan(inputs, "blanket", 1.0, 1.0, 1.0, 0.0)
    fixed = inputs.model_cost + inputs.staff_cost
    targeted = _plan(
        inputs,
        "targeted",
        inputs.target_share,
        inputs.captured_share,
        inputs.baseline_ratio,
        fixed,
    )
    gain = targeted.net_per_campaign - blanket.net_per_campaign
    messages = []
    if inputs.captured_share < inputs.target_share:
        messages.append(
            f"the targeted share captures {inputs.captured_share:.0%} of the incremental buyers "
            f"with {inputs.target_share:.0%} of the members: worse than random targeting"
        )
    if gain <= 0:
        messages.append(
            "per campaign the targeted programme earns no more than blanket sends, so its fixed "
            "costs never pay back"
        )
    if inputs.lift <= 0:
        messages.append("with no positive lift neither plan earns anything from its messages")
    return ProgrammeResult(
        inputs=inputs,
        blanket=blanket,
        targeted=targeted,
        advantage_per_year=targeted.net_per_year - blanket.net_per_year,
        break_even_campaigns=fixed / gain if gain > 0 else None,
        messages=tuple(messages),
    )
