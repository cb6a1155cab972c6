"""Behaviour events (clickstream) over the last ``event_days`` days of the period.

Two kinds of sessions:

- a *purchase session* ends at each paid order in the window: [search], view, then click and
  cart for every product of the order, then ``order``;
- *browsing sessions* arrive at rate ``browse_rate * exp(0.5 * engagement)`` per day (retail
  time) while the member is registered and has not dropped out; each goes view -> click ->
  cart and stops at each step with the member's own funnel probabilities
  (``truth/members.parquet``: ``p_click``, ``p_cart``; favourites and shares after a click).

Logged-out sessions (``anonymous_share``) have an empty member_id and the member's device id as
``anonymous_id`` (resolvable through ``identities`` when the device is known).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.simulate import _columns as col
from memberlens.simulate import _segments as seg
from memberlens.simulate.calendar import RetailCalendar
from memberlens.simulate.catalogue import Catalogue
from memberlens.simulate.members import MemberBlock
from memberlens.simulate.parameters import ShopParameters
from memberlens.simulate.purchases import PurchaseTimes

EVENT_TYPES = ("search", "view", "click", "favorite", "share", "cart", "order")
PAGES = ("/search", "/home", "/item", "/item", "/item", "/cart", "/checkout")
#: log-normal duration (median seconds) per event type
_MEDIAN_S = np.array([8.0, 12.0, 35.0, 2.0, 10.0, 5.0, 40.0])
MAX_BROWSE = 400


def events_table(
    rng: np.random.Generator,
    m: MemberBlock,
    pt: PurchaseTimes,
    cat: Catalogue,
    order_owner: np.ndarray,
    order_time: np.ndarray,
    lines: dict[str, np.ndarray],
    cal: RetailCalendar,
    params: ShopParameters,
) -> pa.Table:
    """The canonical ``events`` rows of a block (paid orders given as owner/time arrays)."""
    bp = params.behaviour
    lo_window = max(cal.days - bp.event_days, 0.0)
    # purchase sessions: one per paid order in the window
    conv = np.flatnonzero(order_time >= lo_window)
    n_conv = len(conv)
    line_sel = np.flatnonzero(np.isin(lines["order"], conv))
    line_session = np.searchsorted(conv, lines["order"][line_sel])
    # browsing sessions
    lo = np.maximum(m.registered, lo_window)
    hi = np.where(pt.dropped, pt.dropout, float(cal.days))
    span = np.maximum(cal.to_retail(hi) - cal.to_retail(np.minimum(lo, hi)), 0.0)
    rate = bp.browse_rate * np.exp(0.5 * m.engagement) * np.where(pt.customer, 1.0, 0.3)
    n_browse = np.minimum(rng.poisson(rate * span), MAX_BROWSE)
    b_owner = seg.owners(n_browse)
    b_start = cal.sample(rng, lo[b_owner], np.maximum(hi[b_owner], lo[b_owner]))
    f = m.funnel[b_owner]
    u = rng.random((len(b_owner), 4))
    clicked = u[:, 0] < f[:, 0]
    carted = clicked & (u[:, 1] < f[:, 1])
    favorite = clicked & (u[:, 2] < 0.1)
    shared = clicked & (u[:, 3] < 0.03)
    cdf = np.cumsum(m.preferences, axis=1)
    b_product = cat.popular(rng, seg.sample_rows(cdf, rng.random(len(b_owner)), b_owner))

    n_sessions = n_conv + len(b_owner)
    searched = rng.random(n_sessions) < 0.4
    # events: (session, step, type, product)
    conv_s, br_s = np.arange(n_conv), n_conv + np.arange(len(b_owner))
    parts = [
        (np.flatnonzero(searched), 0, 0, None),
        (np.arange(n_sessions), 1, 1, None),
        (
            line_session,
            2 + 2 * seg.rank_within(seg.counts_of(line_session, n_conv)),
            2,
            lines["product"][line_sel],
        ),
        (
            line_session,
            3 + 2 * seg.rank_within(seg.counts_of(line_session, n_conv)),
            5,
            lines["product"][line_sel],
        ),
        (conv_s, 10_000, 6, None),
        (br_s[clicked], 2, 2, b_product[clicked]),
        (br_s[favorite], 3, 3, b_product[favorite]),
        (br_s[shared], 4, 4, b_product[shared]),
        (br_s[carted], 5, 5, b_product[carted]),
    ]
    session = np.concatenate([p[0] for p in parts])
    step = np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in parts])
    etype = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    product = np.concatenate([p[3] if p[3] is not None else np.full(len(p[0]), -1) for p in parts])
    order = np.lexsort((step, session))
    session, etype, product = session[order], etype[order], product[order]
    duration = np.round(_MEDIAN_S[etype] * np.exp(0.7 * rng.standard_normal(len(etype))), 1)
    gap = (duration + rng.uniform(1, 6, len(etype))) / 86400.0
    counts = seg.counts_of(session, n_sessions)
    offset = seg.cumsum_within(gap, counts) - gap
    total = seg.sum_within(gap, counts)
    s_owner = np.concatenate([order_owner[conv], b_owner])
    s_start = np.concatenate(
        [order_time[conv] - total[:n_conv] + gap[np.cumsum(counts)[:n_conv] - 1], b_start]
    )
    at = s_start[session] + offset
    # session numbering per member, in time order
    s_order = np.lexsort((s_start, s_owner))
    s_rank = np.empty(n_sessions, np.int64)
    s_rank[s_order] = seg.rank_within(seg.counts_of(s_owner[s_order], m.n))
    anonymous = rng.random(n_sessions) < bp.anonymous_share
    session_id = col.concat(
        pa.scalar("S"),
        col.ids("", m.number[s_owner], 9),
        pa.scalar("-"),
        col.ids("", s_rank + 1, 4),
    )
    ev_owner = pa.array(s_owner[session])
    anon = anonymous[session]
    has_product = product >= 0
    n = len(session)
    return col.table(
        "events",
        {
            "member_id": pc.if_else(
                pa.array(anon), pa.scalar(None, pa.string()), m.member_id.take(ev_owner)
            ),
            "anonymous_id": pc.if_else(
                pa.array(anon), m.device_id.take(ev_owner), pa.scalar(None, pa.string())
            ),
            "session_id": session_id.take(pa.array(session)),
            "event_type": col.labels(EVENT_TYPES, etype),
            "occurred_at": col.timestamps(cal.start, np.clip(at, 0, cal.days - 1e-6)),
            "product_id": pc.if_else(
                pa.array(has_product),
                cat.product_ids(np.maximum(product, 0)),
                pa.scalar(None, pa.string()),
            ),
            "page": col.labels(PAGES, etype),
            "duration_s": pa.array(duration),
        },
        n,
    )
