"""Interactions: points earned and redeemed, reviews with ratings, service tickets, daily
check-ins and survey (NPS) answers.

- ``points_earn``: one per paid order, 1 point per CNY paid;
- ``points_redeem``: 30 % of coupon orders, 100 points per CNY of discount;
- ``review``: about 25 % of paid orders (more for engaged members), 2-10 days later; the rating
  rises with the member's latent satisfaction and drops by 2 on refunded orders;
- ``service_ticket``: 70 % of refunds (just before the refund) and 0.5 % of paid orders;
- ``checkin``: 6 % of members check in daily-ish (rate 0.5 / day) during the event window while
  alive, earning 1-5 points;
- ``survey``: 8 % of customers answer one NPS survey (0-10), driven by satisfaction.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import special

from memberlens.simulate import _columns as col
from memberlens.simulate import _segments as seg
from memberlens.simulate.calendar import RetailCalendar
from memberlens.simulate.members import MemberBlock
from memberlens.simulate.parameters import ShopParameters
from memberlens.simulate.purchases import OrderRows, PurchaseTimes

KINDS = ("points_earn", "points_redeem", "review", "service_ticket", "checkin", "survey")
REVIEW_TEXT = {
    5: ("很好用，会回购", "物流很快，包装完好", "性价比高，推荐", "第二次买了，一如既往的好"),
    4: ("还不错", "整体满意，物流稍慢", "质量可以，价格合适"),
    3: ("一般般", "和描述有点差距", "凑合用吧"),
    2: ("不太满意", "质量一般，有点失望"),
    1: ("质量太差了", "收到就坏了，差评", "客服态度差"),
}
TICKET_TEXT = (
    "商品破损，申请退款",
    "发错货了",
    "物流太慢，请催一下",
    "尺码不合适想换货",
    "怎么使用优惠券",
    "修改收货地址",
    "发票问题",
)
SURVEY_TEXT = ("会推荐给朋友", "价格再优惠一些就好了", "希望物流更快", "商品种类很多")


def interactions_table(
    rng: np.random.Generator,
    m: MemberBlock,
    pt: PurchaseTimes,
    o: OrderRows,
    cal: RetailCalendar,
    params: ShopParameters,
) -> pa.Table:
    """The canonical ``interactions`` rows of a block."""
    paid = np.flatnonzero(o.paid)
    refunds = np.flatnonzero(o.refund_of >= 0)
    refunded = np.zeros(len(o.owner), bool)
    refunded[o.refund_of[refunds]] = True
    owner, time, kind, value, text = [], [], [], [], []

    def add(who, when, k, val, txt):
        keep = when < cal.days
        owner.append(who[keep])
        time.append(when[keep])
        kind.append(np.full(int(keep.sum()), k))
        value.append(np.asarray(val, dtype=float)[keep])
        text.append(np.asarray(txt, dtype=np.int64)[keep])

    none = np.full(len(paid), -1)
    add(o.owner[paid], o.time[paid] + 1e-4, 0, np.floor(o.cents[paid] / 100), none)
    redeem = paid[(o.discount[paid] > 0) & (rng.random(len(paid)) < 0.3)]
    add(o.owner[redeem], o.time[redeem], 1, o.discount[redeem], np.full(len(redeem), -1))
    # reviews
    p_review = 0.25 * 2 * special.expit(0.5 * m.engagement[o.owner[paid]])
    rev = paid[rng.random(len(paid)) < p_review]
    rating = np.clip(
        np.round(
            4.3
            + 0.7 * m.satisfaction[o.owner[rev]]
            + 0.8 * rng.standard_normal(len(rev))
            - 2.0 * refunded[rev]
        ),
        1,
        5,
    )
    flat_reviews = [t for r in (1, 2, 3, 4, 5) for t in REVIEW_TEXT[r]]
    base = np.cumsum([0] + [len(REVIEW_TEXT[r]) for r in (1, 2, 3, 4)])
    sizes = np.array([len(REVIEW_TEXT[r]) for r in (1, 2, 3, 4, 5)])
    r_idx = rating.astype(np.int64) - 1
    rev_text = base[r_idx] + np.floor(rng.random(len(rev)) * sizes[r_idx]).astype(np.int64)
    add(o.owner[rev], o.time[rev] + 2 + rng.exponential(3, len(rev)), 2, rating, rev_text)
    # service tickets
    tick_r = refunds[rng.random(len(refunds)) < 0.7]
    tick_p = paid[rng.random(len(paid)) < 0.005]
    who = np.concatenate([o.owner[tick_r], o.owner[tick_p]])
    when = np.concatenate(
        [
            o.time[tick_r] - rng.uniform(0.01, 0.5, len(tick_r)),
            o.time[tick_p] + rng.uniform(0.5, 7, len(tick_p)),
        ]
    )
    add(
        who,
        when,
        3,
        np.full(len(who), np.nan),
        len(flat_reviews) + rng.integers(0, len(TICKET_TEXT), len(who)),
    )
    # daily check-ins in the event window while alive
    lo = np.maximum(m.registered, max(cal.days - params.behaviour.event_days, 0))
    hi = np.where(pt.dropped, pt.dropout, float(cal.days))
    habit = rng.random(m.n) < 0.06
    n_check = np.where(habit, rng.poisson(0.5 * np.maximum(hi - lo, 0)), 0)
    c_owner = seg.owners(n_check)
    c_day = np.floor(lo[c_owner] + rng.random(len(c_owner)) * (hi - lo)[c_owner])
    add(
        c_owner,
        c_day + rng.uniform(7 / 24, 23 / 24, len(c_owner)),
        4,
        rng.integers(1, 6, len(c_owner)),
        np.full(len(c_owner), -1),
    )
    # one NPS survey for some customers
    surveyed = np.flatnonzero(pt.customer & (rng.random(m.n) < 0.08))
    s_when = pt.first[surveyed] + rng.uniform(7, 120, len(surveyed))
    score = np.clip(
        np.round(8 + 1.5 * m.satisfaction[surveyed] + 1.2 * rng.standard_normal(len(surveyed))),
        0,
        10,
    )
    s_text = np.where(
        rng.random(len(surveyed)) < 0.4,
        len(flat_reviews) + len(TICKET_TEXT) + rng.integers(0, len(SURVEY_TEXT), len(surveyed)),
        -1,
    )
    add(surveyed, s_when, 5, score, s_text)

    owner_a, time_a = np.concatenate(owner), np.concatenate(time)
    kind_a, value_a, text_a = np.concatenate(kind), np.concatenate(value), np.concatenate(text)
    order = np.lexsort((kind_a, time_a, owner_a))
    owner_a, time_a, kind_a = owner_a[order], time_a[order], kind_a[order]
    value_a, text_a = value_a[order], text_a[order]
    texts = flat_reviews + list(TICKET_TEXT) + list(SURVEY_TEXT)
    return col.table(
        "interactions",
        {
            "member_id": m.member_id.take(pa.array(owner_a)),
            "kind": col.labels(KINDS, kind_a),
            "occurred_at": col.timestamps(cal.start, np.maximum(time_a, 0)),
            "value": pa.array(value_a, mask=np.isnan(value_a)),
            "text": col.labels(texts, np.maximum(text_a, 0), valid=text_a >= 0),
        },
        len(owner_a),
    )
