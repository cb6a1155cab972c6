"""Purchases: a BG/NBD buy-till-you-die process in retail time, gamma-gamma spend, coupons,
cancellations and refunds, assembled into the canonical ``orders`` rows.

The paid orders of a member are exactly: the first purchase, the BG/NBD repeat purchases and
any purchase caused by a campaign (:mod:`memberlens.simulate.campaigns`). Cancelled orders and
refund rows are *extra* rows, so that ``status == 'paid'`` orders carry the purchase process.
A refund row has status ``refunded``, a new ``order_id``, ``refund_of`` = the refunded order and
a negative ``amount`` (minus the money returned); the refunded order stays ``paid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.simulate import _columns as col
from memberlens.simulate import _segments as seg
from memberlens.simulate.calendar import RetailCalendar
from memberlens.simulate.members import CHANNELS, MemberBlock
from memberlens.simulate.parameters import ShopParameters

ORDER_CHANNELS = ("tmall", "jd", "wechat_mini", "douyin", "app", "store", "web")
ORDER_CHANNEL_SHARES = np.array([0.28, 0.2, 0.2, 0.12, 0.1, 0.07, 0.03])
#: 满减 coupons: (discount, minimum gross amount), CNY.
COUPON_TIERS = np.array([[10, 99], [20, 169], [30, 199], [50, 299], [100, 599]])
STATUSES = ("paid", "refunded", "cancelled")


@dataclass(frozen=True)
class PurchaseTimes:
    """Organic purchase times of a block (first purchase + BG/NBD repeats), owner-sorted."""

    customer: np.ndarray  # member made a first purchase before the end
    first: np.ndarray  # calendar days of the first purchase (nan if not a customer)
    repeats: np.ndarray  # x: repeat purchases within the period
    dropped: np.ndarray  # dropped out (after the x-th repeat) within the period
    dropout: np.ndarray  # calendar days of dropout (nan if alive at the end)
    T_retail: np.ndarray  # retail days from first purchase to the end (BG/NBD T)
    recency_retail: np.ndarray  # retail days from first purchase to the last repeat (t_x)
    owner: np.ndarray  # per purchase: local member index
    time: np.ndarray  # per purchase: calendar days since start

    def keys(self) -> np.ndarray:
        """Sortable (member, time) keys of the purchases."""
        return self.owner * 1e6 + self.time


def organic_purchases(
    rng: np.random.Generator, m: MemberBlock, cal: RetailCalendar, params: ShopParameters
) -> PurchaseTimes:
    """First purchases and BG/NBD repeat purchases (Fader, Hardie & Lee 2005, section 2).

    Given the first purchase at retail time f and T = end - f, the number of purchases a
    member would make in (f, end] if alive is n ~ Poisson(lambda T), the repeat after which they
    drop out is K ~ Geometric(p), so x = min(n, K). The first x of n uniform order statistics on
    (0, T) are T * S_j / (S_x + G) with S_j the partial sums of unit exponentials and
    G ~ Gamma(n + 1 - x), which draws only x values per member.
    """
    pp = params.purchases
    n = m.n
    same_day = rng.random(n) < pp.same_day_share
    delay = np.where(
        same_day, rng.exponential(0.05, n), rng.exponential(pp.first_purchase_delay, n)
    )
    end = cal.retail_grid[-1]
    tau_first = cal.to_retail(m.registered) + delay
    customer = m.buyer & (tau_first < end)
    T = np.where(customer, end - tau_first, 0.0)
    n_poisson = rng.poisson(m.lam * T)
    k = rng.geometric(m.p)
    x = np.where(customer, np.minimum(n_poisson, k), 0)
    dropped = customer & (k <= n_poisson)
    e = rng.exponential(size=int(x.sum()))
    g = rng.gamma(n_poisson - x + 1.0)
    own = seg.owners(x)
    partial = seg.cumsum_within(e, x)
    total = seg.sum_within(e, x)
    tau = tau_first[own] + T[own] * partial / (total[own] + g[own])
    last = np.zeros(n)
    if len(tau):
        last[x > 0] = tau[seg.starts(x)[x > 0] + x[x > 0] - 1]
    recency = np.where(x > 0, last - tau_first, 0.0)
    first_members = np.flatnonzero(customer)
    owner = np.concatenate([first_members, own])
    time = cal.to_calendar(np.concatenate([tau_first[first_members], tau]))
    order = np.lexsort((time, owner))
    dropout = np.where(dropped, cal.to_calendar(last), np.nan)
    return PurchaseTimes(
        customer=customer,
        first=np.where(customer, cal.to_calendar(tau_first), np.nan),
        repeats=x,
        dropped=dropped,
        dropout=dropout,
        T_retail=T,
        recency_retail=recency,
        owner=owner[order],
        time=time[order],
    )


@dataclass(frozen=True)
class OrderRows:
    """All order rows of a block (paid, cancelled, refunds) sorted by member and time."""

    owner: np.ndarray
    time: np.ndarray
    cents: np.ndarray  # amount (negative on refunds)
    discount: np.ndarray  # cents
    status: np.ndarray  # index into STATUSES
    channel: np.ndarray  # index into ORDER_CHANNELS
    coupon: pa.Array
    refund_of: np.ndarray  # row index of the refunded order, -1 otherwise
    order_number: np.ndarray  # sequence within member (1-based)
    order_id: pa.Array

    @property
    def paid(self) -> np.ndarray:
        return self.status == 0


def _coupons(
    rng: np.random.Generator,
    cents: np.ndarray,
    festival: np.ndarray,
    campaign: np.ndarray,
    campaign_coupon: pa.Array,
    params: ShopParameters,
) -> tuple[np.ndarray, pa.Array]:
    """Discount (cents) and coupon id: the largest 满减 tier the paid amount qualifies for.

    Orders caused by a campaign always carry its coupon ``CPN-<campaign_id>`` (discount 0 when
    the amount qualifies for no tier), so they can be told apart from organic orders.
    """
    rates = params.orders
    use = rng.random(len(cents)) < np.where(festival, rates.coupon_festival, rates.coupon)
    gross = cents[:, None] + COUPON_TIERS[None, :, 0] * 100
    ok = gross >= COUPON_TIERS[None, :, 1] * 100
    tier = ok.sum(axis=1) - 1  # thresholds and discounts increase together
    use &= tier >= 0
    discount = np.where(use | (campaign >= 0), COUPON_TIERS[np.maximum(tier, 0), 0] * 100, 0)
    discount[tier < 0] = 0
    use |= campaign >= 0  # a campaign order always carries the campaign coupon
    tier_id = col.concat(
        pa.scalar("CPN"),
        pa.array(COUPON_TIERS[np.maximum(tier, 0), 0]).cast(pa.string()),
        pa.scalar("-"),
        pa.array(COUPON_TIERS[np.maximum(tier, 0), 1]).cast(pa.string()),
    )
    coupon = pc.if_else(pa.array(campaign >= 0), campaign_coupon, tier_id)
    coupon = pc.if_else(pa.array(use), coupon, pa.scalar(None, pa.string()))
    return discount.astype(np.int64), coupon


def order_rows(
    rng: np.random.Generator,
    m: MemberBlock,
    owner: np.ndarray,
    time: np.ndarray,
    campaign: np.ndarray,
    campaign_coupon: pa.Array,
    cal: RetailCalendar,
    params: ShopParameters,
) -> OrderRows:
    """Paid orders at ``(owner, time)`` plus cancellations and refunds, numbered per member.

    ``campaign`` is the index of the campaign that caused each purchase (-1 = organic) and
    ``campaign_coupon`` its coupon id per purchase.
    """
    rates, sp = params.orders, params.spend
    n_paid = len(owner)
    # gamma-gamma spend: z ~ Gamma(p, rate nu_i)
    cents = np.maximum(np.round(rng.gamma(sp.p, 1.0 / m.nu[owner]) * 100), 1).astype(np.int64)
    festival = cal.day_weight[np.minimum(time.astype(np.int64), cal.days - 1)] > 1.3
    discount, coupon = _coupons(rng, cents, festival, campaign, campaign_coupon, params)
    home = np.asarray([ORDER_CHANNELS.index(c) if c in ORDER_CHANNELS else 0 for c in CHANNELS])
    channel = np.where(
        rng.random(n_paid) < 0.6,
        home[m.channel[owner]],
        rng.choice(len(ORDER_CHANNELS), n_paid, p=ORDER_CHANNEL_SHARES),
    )
    # cancellations: an order cancelled shortly before a paid one
    cancel = np.flatnonzero(rng.random(n_paid) < rates.cancel)
    c_time = np.maximum(time[cancel] - rng.exponential(0.02, len(cancel)), 0.0)
    c_cents = np.maximum(np.round(rng.gamma(sp.p, 1.0 / m.nu[owner[cancel]]) * 100), 1).astype(
        np.int64
    )
    # refunds of paid orders, a few days later (only those inside the period)
    refund = np.flatnonzero(rng.random(n_paid) < rates.refund)
    r_time = time[refund] + 1.0 + rng.exponential(5.0, len(refund))
    full = rng.random(len(refund)) < rates.full_refund
    r_cents = -np.where(
        full,
        cents[refund],
        np.maximum(np.round(cents[refund] * rng.uniform(0.2, 0.8, len(refund))), 1),
    ).astype(np.int64)
    keep = r_time < cal.days
    refund, r_time, r_cents = refund[keep], r_time[keep], r_cents[keep]

    all_owner = np.concatenate([owner, owner[cancel], owner[refund]])
    all_time = np.concatenate([time, c_time, r_time])
    status = np.concatenate(
        [np.zeros(n_paid, np.int64), np.full(len(cancel), 2), np.ones(len(refund), np.int64)]
    )
    source = np.concatenate([np.arange(n_paid), cancel, refund])
    parent = np.concatenate([np.full(n_paid + len(cancel), -1), refund])
    order = np.lexsort((status, all_time, all_owner))
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    o_owner = all_owner[order]
    counts = seg.counts_of(o_owner, m.n)
    number = seg.rank_within(counts) + 1
    order_id = col.concat(pa.scalar("1"), col.ids("", m.number[o_owner], 9), col.ids("", number, 4))
    refund_of = np.where(parent[order] >= 0, position[np.maximum(parent[order], 0)], -1)
    all_cents = np.concatenate([cents, c_cents, r_cents])[order]
    all_discount = np.concatenate([discount, np.zeros(len(cancel) + len(refund), np.int64)])
    idx = pa.array(source[order])
    all_coupon = pc.if_else(
        pa.array(status[order] == 0), coupon.take(idx), pa.scalar(None, pa.string())
    )
    return OrderRows(
        owner=o_owner,
        time=all_time[order],
        cents=all_cents,
        discount=all_discount[order],
        status=status[order],
        channel=channel[source[order]],
        coupon=all_coupon,
        refund_of=refund_of,
        order_number=number,
        order_id=order_id,
    )


def orders_table(o: OrderRows, m: MemberBlock, cal: RetailCalendar) -> pa.Table:
    """The canonical ``orders`` rows."""
    n = len(o.owner)
    store_channel = np.asarray(ORDER_CHANNELS)[o.channel] == "store"
    store = col.ids("ST", m.city[o.owner] * 10 + (m.number[o.owner] % 3) + 1, 4)
    has_refund = o.refund_of >= 0
    refund_of = pc.if_else(
        pa.array(has_refund),
        o.order_id.take(pa.array(np.maximum(o.refund_of, 0))),
        pa.scalar(None, pa.string()),
    )
    return col.table(
        "orders",
        {
            "order_id": o.order_id,
            "member_id": m.member_id.take(pa.array(o.owner)),
            "ordered_at": col.timestamps(cal.start, o.time),
            "amount": col.money(o.cents),
            "status": col.labels(STATUSES, o.status),
            "channel": col.labels(ORDER_CHANNELS, o.channel),
            "store_id": pc.if_else(pa.array(store_channel), store, pa.scalar(None, pa.string())),
            "coupon_id": o.coupon,
            "discount": col.money(o.discount, valid=o.status == 0),
            "refund_of": refund_of,
            "country": pa.array(np.full(n, "CN")),
        },
        n,
    )
