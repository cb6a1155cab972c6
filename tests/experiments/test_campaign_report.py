"""The complete campaign report: retention, responders' conversion, CUPED, the always-valid
interval, Bayesian expected loss, family-wide Holm/BH, costs and ROI, bad input, exports.
Each figure is checked against an outside reference named at its assert (hand counts, scipy,
statsmodels) on hand-made tables or the simulated shop."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from memberlens.experiments.campaigns import Costs, campaign_report, segment_breakdown
from memberlens.experiments.sequential import confidence_sequence

START, END = dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 8)


def _tables(coupons=True, clicks=True, control=True):
    """40 members, 20 per arm; in-window orders (some with coupons), orders after the window
    (retention) and before it (CUPED's pre-period)."""
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["C1"],
            "name": ["spring"],
            "channel": ["sms"],
            "starts_at": [START],
            "ends_at": [END],
        }
    )
    groups = ["control"] * 20 + ["treatment"] * 20
    if not control:
        groups = ["treatment"] * 40
    members = pd.DataFrame(
        {
            "campaign_id": "C1",
            "member_id": [f"m{i}" for i in range(40)],
            "group": groups,
            "opened_at": [pd.NaT] * 20 + [START] * 8 + [pd.NaT] * 12,
            "clicked_at": ([pd.NaT] * 20 + [START] * 5 + [pd.NaT] * 15)
            if clicks
            else [pd.NaT] * 40,
        }
    )
    day = dt.timedelta(days=1)
    rows = [  # member, time, amount, coupon, discount
        ("m0", START + day, 100.0, None, 0.0),
        ("m1", START + day, 60.0, None, 0.0),
        ("m1", END + 5 * day, 40.0, None, 0.0),  # retained (5 days after)
        ("m2", END + 40 * day, 40.0, None, 0.0),  # after 40 days: not retained at 30
        ("m3", START - 10 * day, 300.0, None, 0.0),  # pre-period
        ("m20", START + day, 120.0, "CPN1", 20.0),  # clicked and bought with the coupon
        ("m21", START + 2 * day, 80.0, "CPN1", 20.0),  # clicked
        ("m21", START + 3 * day, 50.0, None, 0.0),
        ("m26", START + 2 * day, 90.0, "CPN1", 20.0),  # opened only
        ("m30", START + 4 * day, 30.0, None, 0.0),
        ("m30", END + 1 * day, 30.0, None, 0.0),  # retained
        ("m31", END + 2 * day, 30.0, None, 0.0),  # retained, no window order
        ("m32", START - 5 * day, 200.0, None, 0.0),  # pre-period
    ]
    orders = pd.DataFrame(
        rows, columns=["member_id", "ordered_at", "amount", "coupon_id", "discount"]
    )
    orders.insert(0, "order_id", [f"o{i}" for i in range(len(orders))])
    orders["status"] = "paid"
    if not coupons:
        orders = orders.drop(columns=["coupon_id", "discount"])
    return [ibis.memtable(f) for f in (campaigns, members, orders)]


def test_hand_counted_arms_retention_and_responders():
    r = campaign_report(*_tables(), "C1", retention_days=30)
    assert r.response == "click"  # auto: the campaign has clicks
    c, t = (next(a for a in r.arms if a.arm == g) for g in ("control", "treatment"))
    assert (c.buyers, c.orders, c.revenue, c.retained) == (2, 2, 160.0, 1)  # m1 retained only
    assert (t.buyers, t.orders, t.revenue, t.retained) == (4, 5, 370.0, 2)  # m30, m31
    assert t.responders == 5 and t.responder_buyers == 2  # m20, m21 clicked and bought
    assert t.conversion_rate_responders == pytest.approx(2 / 5)
    assert c.conversion_rate_responders is None  # no responders in control
    assert t.retention_rate == pytest.approx(2 / 20)
    assert (t.coupon_orders, t.coupon_discount) == (3, 60.0)
    assert t.pre_sum == 200.0 and c.pre_sum == 300.0
    r2 = campaign_report(*_tables(), "C1", retention_days=60)
    assert next(a for a in r2.arms if a.arm == "control").retained == 2  # m2 at 40 days
    # the orders end 40 days after the window: 30 days are complete, 60 are not
    assert not any("still incomplete" in m for m in r.messages)
    assert any("retention rates are still incomplete" in m for m in r2.messages)


def test_response_flavours():
    tables = _tables(clicks=False)
    assert campaign_report(*tables, "C1").response == "open"  # auto: opens, no clicks
    t = next(a for a in campaign_report(*tables, "C1").arms if a.arm == "treatment")
    assert t.responders == 8
    no_tracking = _tables(clicks=False)
    cm = no_tracking[1].mutate(opened_at=ibis.null("timestamp"))
    r = campaign_report(no_tracking[0], cm, no_tracking[2], "C1")
    assert r.response == "order"  # no response data: a response is an order
    t = next(a for a in r.arms if a.arm == "treatment")
    assert t.responders == t.buyers == 4
    assert "response_rate" not in {x.metric for x in r.comparisons}


def test_costs_and_roi_by_hand():
    costs = Costs(message={"sms": 0.5}, coupon=None, margin=0.4)
    r = campaign_report(*_tables(), "C1", costs=costs)
    e = r.economics[0]
    rev = next(x for x in r.comparisons if x.metric == "revenue_per_member")
    # incremental revenue = (370/20 - 160/20) x 20 = 210; cost = 20 x 0.5 + 60 discount = 70
    assert e.incremental_revenue == pytest.approx(210.0)
    assert e.ci_low == pytest.approx(rev.ci_low * 20) and e.ci_high == pytest.approx(
        rev.ci_high * 20
    )
    assert (e.message_cost, e.coupon_cost, e.cost) == (10.0, 60.0, 70.0)
    assert e.roi == pytest.approx((210 * 0.4 - 70) / 70)
    assert e.roi_ci_low == pytest.approx((e.ci_low * 0.4 - 70) / 70)
    per_coupon = campaign_report(*_tables(), "C1", costs=Costs({"sms": 0.5}, 5.0, 0.4))
    assert per_coupon.economics[0].coupon_cost == 15.0  # 3 coupon orders x 5
    blank = campaign_report(*_tables(), "C1", costs=Costs({"email": 0.1}, None, None))
    e = blank.economics[0]
    assert e.roi is None and "[costs] margin" in e.reason and "channel 'sms'" in e.reason
    assert campaign_report(*_tables(), "C1").economics[0].roi is None


def test_no_control_says_what_can_and_cannot_be_concluded():
    r = campaign_report(*_tables(control=False), "C1", costs=Costs({"sms": 1.0}, None, 0.5))
    assert r.comparisons == () and r.economics == ()
    text = r.messages[0]
    assert "no control group" in text and "What you cannot" in text and "hold out" in text


def test_too_small_arms_say_the_size_they_need():
    from memberlens.experiments.planning import sample_size_for_rate

    campaigns, members, orders = _tables()
    tiny = members.filter(members.member_id.isin(["m0", "m1", "m4", "m22", "m23", "m24"]))
    r = campaign_report(campaigns, tiny, orders, "C1")  # no buyer in treatment
    need = sample_size_for_rate(baseline=2 / 6, mde=0.1).n_per_arm  # pooled: m0, m1
    assert any(f"{need:,} members per arm" in m and "too small" in m for m in r.messages)


@pytest.fixture(scope="module")
def shop_report(campaign_shop):
    con = ibis.duckdb.connect()
    tables = [
        con.read_parquet(campaign_shop / f"{n}.parquet")
        for n in ("campaigns", "campaign_members", "orders")
    ]
    return con, tables, campaign_report(*tables, "CMP202505", cuped=True, pre_days=90)


def _per_member(campaign_shop):
    import duckdb

    return duckdb.sql(f"""
        select cm."group",
          coalesce(sum(o.amount) filter (where o.ordered_at >= c.starts_at
                   and o.ordered_at < c.ends_at), 0) as y,
          coalesce(sum(o.amount) filter (where o.ordered_at < c.starts_at
                   and o.ordered_at >= c.starts_at - interval 90 day), 0) as x
        from '{campaign_shop}/campaign_members.parquet' cm
        join '{campaign_shop}/campaigns.parquet' c using (campaign_id)
        left join '{campaign_shop}/orders.parquet' o
          on o.member_id = cm.member_id and o.status = 'paid'
        where cm.campaign_id = 'CMP202505'
        group by cm."group", cm.member_id
    """).df()


def test_cuped_equals_scipy_welch_on_explicitly_adjusted_values(shop_report, campaign_shop):
    *_, r = shop_report
    df = _per_member(campaign_shop)
    theta = np.cov(df.y, df.x, ddof=1)[0, 1] / np.var(df.x, ddof=1)  # Deng et al. 2013, eq. 3
    df["adj"] = df.y - theta * (df.x - df.x.mean())
    t, p = stats.ttest_ind(
        df.adj[df.group == "treatment"], df.adj[df.group == "control"], equal_var=False
    )
    cuped = next(x for x in r.comparisons if x.metric == "revenue_per_member_cuped")
    assert cuped.p_value == pytest.approx(p, rel=1e-9)  # scipy ttest_ind(equal_var=False)
    assert r.cuped_theta == pytest.approx(theta, rel=1e-9)
    rho = np.corrcoef(df.y, df.x)[0, 1]
    assert r.cuped_variance_reduction == pytest.approx(rho**2, rel=1e-9)
    plain = next(x for x in r.comparisons if x.metric == "revenue_per_member")
    assert cuped.difference == pytest.approx(
        df.adj[df.group == "treatment"].mean() - df.adj[df.group == "control"].mean(), rel=1e-9
    )
    # same expected difference, different estimate: the pre-period share differs by arm
    assert cuped.difference != plain.difference


def test_sequential_interval_expected_loss_and_family_adjustment(shop_report):
    from memberlens.experiments.bayesian import beta_binomial_readout
    from memberlens.experiments.statistics import Proportion

    *_, r = shop_report
    c, t = (next(a for a in r.arms if a.arm == g) for g in ("control", "treatment"))
    conv = next(x for x in r.comparisons if x.metric == "conversion_rate")
    v = (
        c.conversion_rate * (1 - c.conversion_rate) / c.n
        + t.conversion_rate * (1 - t.conversion_rate) / t.n
    )
    low, high = confidence_sequence([conv.difference], [v], tau=0.1 * c.conversion_rate)
    assert (conv.sequential_ci_low, conv.sequential_ci_high) == pytest.approx(
        (low[0], high[0]), rel=1e-12
    )
    assert conv.sequential_ci_low < conv.ci_low and conv.sequential_ci_high > conv.ci_high
    bayes = beta_binomial_readout(Proportion(c.n, c.buyers), Proportion(t.n, t.buyers))
    assert conv.expected_loss == pytest.approx(bayes.expected_loss, rel=1e-12)
    p = [x.p_value for x in r.comparisons]
    assert [x.p_value_holm for x in r.comparisons] == pytest.approx(
        multipletests(p, method="holm")[1], rel=1e-12
    )  # statsmodels multipletests
    assert [x.p_value_bh for x in r.comparisons] == pytest.approx(
        multipletests(p, method="fdr_bh")[1], rel=1e-12
    )
    json.dumps(r.to_dict(), allow_nan=False, default=str)


def test_family_adjustment_spans_segments(shop_report, campaign_shop):
    import dataclasses

    from memberlens.experiments.campaigns import adjust_family

    con, tables, r = shop_report
    latent = con.read_parquet(campaign_shop / "truth" / "campaign_members.parquet")
    segs = latent.filter(latent.campaign_id == "CMP202505").select("member_id", "segment")
    parts = segment_breakdown(*tables, "CMP202505", segs)
    full = adjust_family(dataclasses.replace(r, segments=parts, by="truth"))
    flat = [*full.comparisons, *(c for s in full.segments for c in s.comparisons)]
    assert len(flat) > len(r.comparisons)
    expected = multipletests([x.p_value for x in flat], method="holm")[1]
    assert [x.p_value_holm for x in flat] == pytest.approx(expected, rel=1e-12)


def test_exports_xlsx_and_self_contained_html(shop_report, tmp_path):
    from openpyxl import load_workbook

    from memberlens.experiments.export import write_report

    *_, r = shop_report
    write_report(r, tmp_path / "r.xlsx")
    book = load_workbook(tmp_path / "r.xlsx")
    assert {"arms", "comparisons"} <= set(book.sheetnames)
    rows = list(book["arms"].values)
    assert rows[0][0] == "arm" and len(rows) == 1 + len(r.arms)
    write_report(r, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "revenue_per_member_cuped" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == 0o600


def test_no_variation_gives_no_comparison_and_says_so():
    campaigns, members, orders = _tables()
    quiet = ["m4", "m5", "m6", "m7", "m22", "m23", "m24", "m25"]  # nobody bought or came back
    r = campaign_report(campaigns, members.filter(members.member_id.isin(quiet)), orders, "C1")
    assert {c.metric for c in r.comparisons} == {"response_rate"}  # m22-m24 clicked
    assert any(
        "no variation in conversion_rate, retention_rate, revenue_per_member" in m
        for m in r.messages
    )


def test_segment_exports_carry_the_bayesian_readouts(shop_report, campaign_shop, tmp_path):
    """The Excel sheet of the segments' comparisons has P(beat control) and the expected loss
    of each segment x arm x metric, as the whole campaign's sheet has."""
    import dataclasses

    from openpyxl import load_workbook

    from memberlens.experiments.export import write_report

    con, tables, r = shop_report
    latent = con.read_parquet(campaign_shop / "truth" / "campaign_members.parquet")
    segs = latent.filter(latent.campaign_id == "CMP202505").select("member_id", "segment")
    full = dataclasses.replace(
        r, segments=segment_breakdown(*tables, "CMP202505", segs), by="truth"
    )
    write_report(full, tmp_path / "r.xlsx")
    rows = list(load_workbook(tmp_path / "r.xlsx")["segment_comparisons"].values)
    head = list(rows[0])
    p, loss = head.index("probability_to_beat_control"), head.index("expected_loss")
    assert len(rows) > 1
    assert all(0.0 <= row[p] <= 1.0 and row[loss] >= 0.0 for row in rows[1:])
