"""Campaigns with randomised treatment and control groups and a known true effect.

For each campaign a random ``target_share`` of the members registered before its start is
targeted and randomised into treatment (``treatment_share``) and control. Every targeted member
has two potential outcomes over the campaign window [starts_at, ends_at): ``y0`` = made an
organic paid purchase, ``y1 = y0 or responds``, where an *alive* member (BG/NBD) responds with
probability ``uplift[segment] * strength``. Treated responders place an extra paid order (with
the campaign coupon) after the message is sent. The true effect per campaign and segment,
``ate = mean(y1 - y0)`` over all targeted members, is what a difference in means between the
arms estimates; it is written to ``truth/campaign_effects.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import special

from memberlens.simulate import _columns as col
from memberlens.simulate.calendar import SPRING_FESTIVAL, RetailCalendar
from memberlens.simulate.members import MemberBlock
from memberlens.simulate.parameters import ShopParameters
from memberlens.simulate.purchases import PurchaseTimes

SEGMENTS = ("active", "lapsed", "prospect")
#: (name, anchor: "spring" or (month, day), offset days, length days, channel, offer, strength)
PLAN: tuple[tuple, ...] = (
    ("年货节", "spring", -21, 10, "sms", "满199减30", 1.0),
    ("女王节", (3, 1), 0, 8, "wechat", "美妆满299减50", 1.2),
    ("618大促", (6, 1), 0, 18, "app_push", "满300减50", 1.3),
    ("会员日", (8, 8), 0, 7, "email", "积分双倍 + 满99减10", 0.6),
    ("双11狂欢", (11, 1), 0, 11, "sms", "满300减60", 1.5),
    ("双12", (12, 5), 0, 8, "wechat", "满200减20", 0.8),
)
#: P(open) by channel (None: SMS has no open tracking) and P(click | open or sent).
OPEN_RATE = {"sms": None, "wechat": 0.25, "app_push": 0.08, "email": 0.15}
CLICK_RATE = {"sms": 0.03, "wechat": 0.2, "app_push": 0.25, "email": 0.12}


@dataclass(frozen=True)
class CampaignPlan:
    campaign_id: tuple[str, ...]
    plan_row: np.ndarray  # index into PLAN
    start: np.ndarray  # days since simulation start
    end: np.ndarray

    @property
    def size(self) -> int:
        return len(self.campaign_id)

    def table(self, cal: RetailCalendar) -> pa.Table:
        rows = self.plan_row
        return col.table(
            "campaigns",
            {
                "campaign_id": pa.array(list(self.campaign_id)),
                "name": col.labels([p[0] for p in PLAN], rows),
                "channel": col.labels([p[4] for p in PLAN], rows),
                "starts_at": col.timestamps(cal.start, self.start),
                "ends_at": col.timestamps(cal.start, self.end),
                "offer": col.labels([p[5] for p in PLAN], rows),
            },
            self.size,
        )


def campaign_plan(cal: RetailCalendar) -> CampaignPlan:
    """The campaigns of the period: each PLAN row every year, if it fits after a 60-day warm-up."""
    first = int(str(cal.start)[:4])
    last = int(str(cal.date_of(np.array([cal.days - 1]))[0])[:4])
    ids, rows, starts, ends = [], [], [], []
    for year in range(first, last + 1):  # loop over years and plan rows (a dozen)
        for k, (_name, anchor, offset, length, *_rest) in enumerate(PLAN):
            day = (
                np.datetime64(SPRING_FESTIVAL[year])
                if anchor == "spring"
                else np.datetime64(f"{year}-{anchor[0]:02d}-{anchor[1]:02d}")
            )
            s = float((day - cal.start).astype(int) + offset) + 9.0 / 24
            if s >= 60 and s + length <= cal.days:
                ids.append(f"CMP{year}{k + 1:02d}")
                rows.append(k)
                starts.append(s)
                ends.append(s + length)
    order = np.argsort(starts, kind="stable")
    return CampaignPlan(
        campaign_id=tuple(np.asarray(ids)[order].tolist()),
        plan_row=np.asarray(rows, dtype=np.int64)[order],
        start=np.asarray(starts)[order],
        end=np.asarray(ends)[order],
    )


@dataclass(frozen=True)
class CampaignDraw:
    """Campaign outcomes of one block."""

    owner: np.ndarray  # incremental purchases: member, time, campaign index
    time: np.ndarray
    campaign: np.ndarray
    members: pa.Table  # canonical campaign_members rows
    truth: pa.Table  # per targeted member: segment, alive, y0, y1
    #: (n_campaigns, n_segments, 6): n_treat, n_control, y_treat, y_control, sum(y1-y0), alive
    sums: np.ndarray


def assign_campaigns(
    rng: np.random.Generator,
    m: MemberBlock,
    pt: PurchaseTimes,
    plan: CampaignPlan,
    cal: RetailCalendar,
    params: ShopParameters,
) -> CampaignDraw:
    """Targeting, randomisation, responses, opens and clicks of every campaign for a block."""
    cp = params.campaigns
    n = m.n
    uplift = np.array([cp.uplift[s] for s in SEGMENTS])
    keys = pt.keys()
    local = np.arange(n)
    sums = np.zeros((plan.size, len(SEGMENTS), 6))
    inc, rows = [], []
    for c in range(plan.size):  # loop over campaigns, vectorised over members
        start, end = plan.start[c], plan.end[c]
        _name, _a, _o, _l, channel, _offer, strength = PLAN[plan.plan_row[c]]
        target = (m.registered < start) & (rng.random(n) < cp.target_share)
        treat = target & (rng.random(n) < cp.treatment_share)
        before = np.searchsorted(keys, local * 1e6 + start)
        within = np.searchsorted(keys, local * 1e6 + end)
        prev = np.maximum(before - 1, 0)
        has_prev = (before > 0) & (pt.owner[prev] == local) if len(keys) else np.zeros(n, bool)
        last = pt.time[prev] if len(keys) else np.zeros(n)
        segment = np.where(~has_prev, 2, np.where(start - last <= cp.active_days, 0, 1))
        alive = pt.customer & (pt.first < start) & ~(pt.dropout <= start)
        y0 = within > before
        respond = alive & (rng.random(n) < uplift[segment] * strength)
        y1 = y0 | respond
        sent = start + rng.uniform(0, 0.5, n)
        buy = np.minimum(sent + rng.exponential(2.0, n), end - 1e-4)
        pick = treat & respond
        inc.append((local[pick], buy[pick], np.full(int(pick.sum()), c)))
        y = np.where(treat, y1, y0)
        for s in range(len(SEGMENTS)):
            g = target & (segment == s)
            sums[c, s] += [
                np.sum(g & treat),
                np.sum(g & ~treat),
                np.sum(y[g & treat]),
                np.sum(y[g & ~treat]),
                np.sum(y1[g]) - np.sum(y0[g]),
                np.sum(g & alive),
            ]
        # opens and clicks of the treated; responders always click before buying
        p_open = OPEN_RATE[channel]
        boost = special.expit(m.engagement)
        opened = treat & (pick | (rng.random(n) < (p_open or 0) * 2 * boost))
        clicked = treat & (
            pick | ((opened | (p_open is None)) & (rng.random(n) < CLICK_RATE[channel] * 2 * boost))
        )
        if p_open is None:
            opened = np.zeros(n, bool)
        gap = np.where(pick, (buy - sent) * 0.3, rng.exponential(0.1, n))
        t_open = sent + gap
        t_click = np.where(pick, sent + (buy - sent) * 0.6, t_open + rng.exponential(0.01, n))
        idx = np.flatnonzero(target)
        rows.append(
            (
                np.full(len(idx), c),
                idx,
                treat[idx],
                sent[idx],
                opened[idx],
                t_open[idx],
                clicked[idx],
                t_click[idx],
                segment[idx],
                alive[idx],
                y0[idx],
                y1[idx],
            )
        )
    cols = [np.concatenate([r[k] for r in rows]) if rows else np.zeros(0) for k in range(12)]
    cidx, midx, treat, sent, opened, t_open, clicked, t_click, segment, alive, y0, y1 = cols
    cidx, midx, segment = (cidx.astype(np.int64), midx.astype(np.int64), segment.astype(np.int64))
    order = np.lexsort((cidx, midx))
    cidx, midx, treat, sent, opened, t_open, clicked, t_click, segment, alive, y0, y1 = (
        a[order]
        for a in (cidx, midx, treat, sent, opened, t_open, clicked, t_click, segment, alive, y0, y1)
    )
    treat = treat.astype(bool)
    member_id = m.member_id.take(pa.array(midx))
    campaign_id = col.labels(plan.campaign_id, cidx)
    group = col.labels(("control", "treatment"), treat.astype(np.int64))
    members = col.table(
        "campaign_members",
        {
            "campaign_id": campaign_id,
            "member_id": member_id,
            "group": group,
            "sent_at": col.timestamps(cal.start, sent, valid=treat),
            "opened_at": col.timestamps(cal.start, t_open, valid=treat & opened.astype(bool)),
            "clicked_at": col.timestamps(cal.start, t_click, valid=treat & clicked.astype(bool)),
        },
        len(midx),
    )
    truth = pa.table(
        {
            "campaign_id": campaign_id,
            "member_id": member_id,
            "group": group,
            "segment": col.labels(SEGMENTS, segment),
            "alive": pa.array(alive.astype(bool)),
            "y0": pa.array(y0.astype(bool)),
            "y1": pa.array(y1.astype(bool)),
        }
    )
    owner, time, campaign = (
        np.concatenate([r[k] for r in inc]) if inc else np.zeros(0) for k in range(3)
    )
    return CampaignDraw(
        owner=owner.astype(np.int64),
        time=time.astype(float),
        campaign=campaign.astype(np.int64),
        members=members,
        truth=truth,
        sums=sums,
    )


def effects_table(plan: CampaignPlan, sums: np.ndarray, params: ShopParameters) -> pa.Table:
    """The true effect of each campaign on each segment (truth)."""
    c, s = np.meshgrid(np.arange(plan.size), np.arange(len(SEGMENTS)), indexing="ij")
    c, s = c.ravel(), s.ravel()
    flat = sums.reshape(-1, 6)
    n_all = flat[:, 0] + flat[:, 1]
    strength = np.array([PLAN[r][6] for r in plan.plan_row])[c]
    uplift = np.array([params.campaigns.uplift[x] for x in SEGMENTS])[s]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pa.table(
            {
                "campaign_id": col.labels(plan.campaign_id, c),
                "segment": col.labels(SEGMENTS, s),
                "window_days": pa.array((plan.end - plan.start)[c]),
                "uplift_probability": pa.array(uplift * strength),
                "n_treatment": pa.array(flat[:, 0].astype(np.int64)),
                "n_control": pa.array(flat[:, 1].astype(np.int64)),
                "n_alive": pa.array(flat[:, 5].astype(np.int64)),
                "ate": pa.array(np.where(n_all > 0, flat[:, 4] / n_all, np.nan)),
                "rate_treatment": pa.array(flat[:, 2] / flat[:, 0]),
                "rate_control": pa.array(flat[:, 3] / flat[:, 1]),
            }
        )
