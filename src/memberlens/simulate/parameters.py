"""The latent parameters of the simulated shop: the truth that analyses should recover.

Every number here is written to ``truth/parameters.json``. Time is measured in days (of retail
time, see :mod:`memberlens.simulate.calendar`) and money in CNY.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class PurchaseProcess:
    """BG/NBD (Fader, Hardie & Lee 2005): lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b).

    After the first purchase, repeat purchases arrive as a Poisson process of rate lambda (per
    day of retail time); after each repeat purchase the member drops out with probability p.
    """

    r: float = 0.45
    alpha: float = 60.0
    a: float = 0.75
    b: float = 3.0
    #: share of registered members who ever make a first purchase.
    buyer_share: float = 0.7
    #: share of buyers whose first purchase is on the day they register; the others wait
    #: an exponential time with mean ``first_purchase_delay`` days.
    same_day_share: float = 0.5
    first_purchase_delay: float = 25.0


@dataclass(frozen=True)
class SpendProcess:
    """Gamma-gamma (Colombo & Jiang 1999; Fader, Hardie & Lee 2005b): paid amount of an order
    z ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate gamma) per member; E[z] = p gamma/(q-1).
    """

    p: float = 4.0
    q: float = 3.5
    gamma: float = 90.0


@dataclass(frozen=True)
class OrderRates:
    """Refunds, cancellations and coupons."""

    #: probability that a paid order is (partly) refunded later.
    refund: float = 0.06
    #: share of refunds that return the whole amount (the rest return 20-80 %).
    full_refund: float = 0.7
    #: cancelled orders per paid order (extra rows, outside the BG/NBD process).
    cancel: float = 0.04
    #: probability that an order uses a coupon on an ordinary day / on a festival day.
    coupon: float = 0.12
    coupon_festival: float = 0.45


@dataclass(frozen=True)
class BasketProcess:
    """Order lines: 1 + Poisson(extra_lines) lines, planted co-purchases, replenishment."""

    extra_lines: float = 0.7
    max_lines: int = 8
    #: number of planted (antecedent -> consequent) pairs and P(consequent | antecedent).
    copurchase_pairs: int = 40
    copurchase_probability: float = 0.45
    #: share of members with a replenishment product (bought on each new cycle).
    replenishment_share: float = 0.35
    #: Dirichlet concentration of category preferences (smaller = more concentrated).
    preference_concentration: float = 0.6


@dataclass(frozen=True)
class BehaviourProcess:
    """Clickstream over the last ``event_days`` days (logs are kept that long)."""

    event_days: int = 90
    #: browsing (non-purchase) sessions per day of an alive member of average engagement.
    browse_rate: float = 0.06
    #: share of sessions made while logged out (member_id empty, anonymous_id = device id).
    anonymous_share: float = 0.15


@dataclass(frozen=True)
class CampaignProcess:
    """Campaigns: a random share of registered members is targeted, randomised into arms."""

    target_share: float = 0.25
    treatment_share: float = 0.8
    #: true probability that an alive treated member buys because of the campaign, by segment
    #: (multiplied by the campaign's strength).
    uplift: dict[str, float] = field(
        default_factory=lambda: {"active": 0.03, "lapsed": 0.06, "prospect": 0.0}
    )
    #: a member is "active" if their last purchase is at most this many days before the start.
    active_days: int = 90


@dataclass(frozen=True)
class ShopParameters:
    """All the latent parameters of one simulated shop."""

    purchases: PurchaseProcess = field(default_factory=PurchaseProcess)
    spend: SpendProcess = field(default_factory=SpendProcess)
    orders: OrderRates = field(default_factory=OrderRates)
    baskets: BasketProcess = field(default_factory=BasketProcess)
    behaviour: BehaviourProcess = field(default_factory=BehaviourProcess)
    campaigns: CampaignProcess = field(default_factory=CampaignProcess)

    def to_dict(self) -> dict:
        return asdict(self)
