"""Campaign evaluation on the simulated shop: arm counts equal an independent SQL query, the
statistics equal statsmodels on the per-member data, and the simulator's planted effect
(``truth/campaign_effects.parquet``, its potential outcomes) is recovered inside the intervals."""

from __future__ import annotations

import json

import duckdb
import ibis
import numpy as np
import pyarrow.parquet as pq
import pytest
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import ttest_ind

from memberlens.exceptions import DataError
from memberlens.experiments.campaigns import CampaignReport, campaign_report, segment_breakdown
from memberlens.experiments.srm import SampleRatioMismatchWarning


def _tables(out, con=None):
    con = con or ibis.duckdb.connect()
    return [
        con.read_parquet(out / f"{n}.parquet") for n in ("campaigns", "campaign_members", "orders")
    ]


def _per_member(out, campaign_id):
    """Independent reference: plain DuckDB SQL over the Parquet files, one row per member."""
    return duckdb.sql(f"""
        select cm."group", count(o.order_id) as orders, coalesce(sum(o.amount), 0) as revenue
        from '{out}/campaign_members.parquet' cm
        join '{out}/campaigns.parquet' c using (campaign_id)
        left join '{out}/orders.parquet' o
          on o.member_id = cm.member_id and o.status = 'paid'
         and o.ordered_at >= c.starts_at and o.ordered_at < c.ends_at
        where cm.campaign_id = '{campaign_id}'
        group by cm."group", cm.member_id
    """).df()


def test_arms_and_tests_equal_sql_and_statsmodels(campaign_shop):
    campaigns, members, orders = _tables(campaign_shop)
    cid = "CMP202505"
    report = campaign_report(campaigns, members, orders, cid)
    df = _per_member(campaign_shop, cid)
    arms = {a.arm: a for a in report.arms}
    assert set(arms) == {"control", "treatment"}
    for arm, part in df.groupby("group"):
        assert arms[arm].n == len(part)
        assert arms[arm].buyers == int((part.orders > 0).sum())
        assert arms[arm].orders == int(part.orders.sum())
        assert arms[arm].revenue == pytest.approx(float(part.revenue.sum()), rel=1e-9)
    t, c = df[df.group == "treatment"], df[df.group == "control"]
    conv = next(x for x in report.comparisons if x.metric == "conversion_rate")
    _, p = proportions_ztest([(t.orders > 0).sum(), (c.orders > 0).sum()], [len(t), len(c)])
    assert conv.p_value == pytest.approx(p, rel=1e-9)  # statsmodels proportions_ztest
    rev = next(x for x in report.comparisons if x.metric == "revenue_per_member")
    _, p, _ = ttest_ind(t.revenue.astype(float), c.revenue.astype(float), usevar="unequal")
    assert rev.p_value == pytest.approx(p, rel=1e-9)  # statsmodels ttest_ind(usevar="unequal")


def test_planted_campaign_effects_are_recovered_inside_the_intervals(campaign_shop):
    campaigns, members, orders = _tables(campaign_shop)
    effects = pq.read_table(campaign_shop / "truth" / "campaign_effects.parquet").to_pandas()
    effects["n_all"] = effects.n_treatment + effects.n_control
    truth = (effects.ate * effects.n_all).groupby(effects.campaign_id).sum() / effects.groupby(
        "campaign_id"
    ).n_all.sum()
    covered, estimates, variances, weights, true = [], [], [], [], []
    for cid, ate in truth.items():
        r = campaign_report(campaigns, members, orders, cid)
        conv = next(x for x in r.comparisons if x.metric == "conversion_rate")
        covered.append(conv.ci_low <= ate <= conv.ci_high)
        n = sum(a.n for a in r.arms)
        se = (conv.ci_high - conv.ci_low) / (2 * 1.959963984540054)
        estimates.append(conv.difference), variances.append(se**2), weights.append(n)
        true.append(ate)
    # 95 % intervals: with 16 campaigns, at most 3 misses (P(more) < 1 % if each covers 95 %)
    assert sum(covered) >= len(covered) - 3, covered
    w = np.array(weights) / np.sum(weights)
    pooled, pooled_se = float(w @ estimates), float(np.sqrt(w**2 @ variances))
    assert abs(pooled - float(w @ true)) < 1.96 * pooled_se
    assert pooled / pooled_se > 2.0  # the campaigns' effect is detectable overall


def test_campaign_without_control_gives_no_lift_and_says_why(campaign_shop):
    campaigns, members, orders = _tables(campaign_shop)
    treated_only = members.filter(members["group"] != "control")
    r = campaign_report(campaigns, treated_only, orders, "CMP202505")
    assert r.comparisons == ()
    assert [a.arm for a in r.arms] == ["treatment"]
    assert "no control group" in r.messages[0] and "hold out" in r.messages[0]


def test_unknown_campaign_names_the_known_ones(campaign_shop):
    campaigns, members, orders = _tables(campaign_shop)
    with pytest.raises(DataError, match="'NOPE' is not in the campaigns table.*CMP2023"):
        campaign_report(campaigns, members, orders, "NOPE")


def _hand_made():
    """60 members, 30 per arm; orders on the window's edges and a refund that must not count."""
    import datetime as dt

    import pandas as pd

    start, end = dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 8)
    campaigns = pd.DataFrame(
        {"campaign_id": ["C1"], "name": ["spring"], "starts_at": [start], "ends_at": [end]}
    )
    members = pd.DataFrame(
        {
            "campaign_id": "C1",
            "member_id": [f"m{i}" for i in range(60)],
            "group": ["control"] * 30 + ["treatment"] * 30,
            "opened_at": [pd.NaT] * 30 + [start] * 10 + [pd.NaT] * 20,
            "clicked_at": [pd.NaT] * 30 + [start] * 4 + [pd.NaT] * 26,
        }
    )
    rows = [  # member, time, amount, status
        ("m0", start, 100.0, "paid"),  # on the start: inside
        ("m1", start + dt.timedelta(days=1), 50.0, "paid"),
        ("m1", start + dt.timedelta(days=2), 70.0, "paid"),
        ("m2", start + dt.timedelta(days=3), 30.0, "paid"),
        ("m3", end, 999.0, "paid"),  # on the end: outside
        ("m4", start, 999.0, "refunded"),  # not paid
        ("m30", start, 80.0, "paid"),
        ("m31", start, 60.0, "paid"),
        ("m32", start, 40.0, "paid"),
        ("m33", start, 20.0, "paid"),
        ("m34", start + dt.timedelta(days=6), 10.0, "paid"),
        ("m99", start, 500.0, "paid"),  # not in the campaign
    ]
    orders = pd.DataFrame(rows, columns=["member_id", "ordered_at", "amount", "status"])
    orders.insert(0, "order_id", [f"o{i}" for i in range(len(orders))])
    return [ibis.memtable(f) for f in (campaigns, members, orders)]


def test_hand_made_campaign_counts_the_window_and_paid_orders_only():
    campaigns, members, orders = _hand_made()  # memtables, run on Ibis' default DuckDB
    r = campaign_report(campaigns, members, orders, "C1")
    arms = {a.arm: a for a in r.arms}
    c, t = arms["control"], arms["treatment"]
    assert (c.n, c.buyers, c.orders, c.revenue) == (30, 3, 4, 250.0)
    assert (t.n, t.buyers, t.orders, t.revenue) == (30, 5, 5, 210.0)
    assert t.response_rate == pytest.approx(4 / 30) and c.response_rate == 0
    assert campaign_report(campaigns, members, orders, "C1", response="open").arms[
        1
    ].response_rate == pytest.approx(10 / 30)
    assert c.aov == pytest.approx(62.5) and t.aov == pytest.approx(42.0)
    conv = next(x for x in r.comparisons if x.metric == "conversion_rate")
    # Bayesian read-out of the same counts (uniform priors): Beta(6, 26) against Beta(4, 28)
    from memberlens.experiments.bayesian import probability_beta_greater

    assert conv.probability_to_beat_control == pytest.approx(
        probability_beta_greater(6, 26, 4, 28), rel=1e-12
    )
    # too small to tell: the report says how many members the observed lift would need
    from memberlens.experiments.planning import sample_size_for_rate

    need = sample_size_for_rate(baseline=0.1, mde=(5 / 30) / 0.1 - 1).n_per_arm
    assert any(f"{need:,} members per arm" in m for m in r.messages), r.messages


def test_per_segment_effects_recover_the_planted_truth(campaign_shop):
    """Broken down by the simulator's own segments (active, lapsed, prospect), the intervals
    cover the planted per-segment effect, and the prospects' (no effect) is near zero."""
    con = ibis.duckdb.connect()
    campaigns, members, orders = _tables(campaign_shop, con)
    effects = pq.read_table(campaign_shop / "truth" / "campaign_effects.parquet").to_pandas()
    latent = con.read_parquet(campaign_shop / "truth" / "campaign_members.parquet")
    covered = []
    for cid in ("CMP202405", "CMP202505", "CMP202506"):
        segments = latent.filter(latent.campaign_id == cid).select("member_id", "segment")
        parts = segment_breakdown(campaigns, members, orders, cid, segments)
        assert {p.segment for p in parts} == {"active", "lapsed", "prospect"}
        for part in parts:
            conv = next(x for x in part.comparisons if x.metric == "conversion_rate")
            row = effects[(effects.campaign_id == cid) & (effects.segment == part.segment)]
            assert {a.arm: a.n for a in part.arms} == {
                "control": int(row.n_control.iloc[0]),
                "treatment": int(row.n_treatment.iloc[0]),
            }
            covered.append(conv.ci_low <= float(row.ate.iloc[0]) <= conv.ci_high)
            assert 0 <= conv.p_value <= conv.p_value_adjusted <= 1  # BH never lowers a p-value
    assert sum(covered) >= len(covered) - 1, covered  # 9 intervals of 95 %
    json.dumps(
        CampaignReport("x", None, None, None, "click", 0.05, (), (), segments=parts).to_dict(),
        allow_nan=False,
    )


def test_sample_ratio_mismatch_against_the_planned_split(campaign_shop):
    """The simulator randomises 20 % to control: checked against 0.2 the split is fair; against
    a (wrong) plan of 50 % the report flags it in its srm field and leads with the mismatch,
    without a Python warning (a server would log it as noise)."""
    import warnings

    campaigns, members, orders = _tables(campaign_shop)
    fair = campaign_report(campaigns, members, orders, "CMP202505", planned_control_share=0.2)
    assert fair.srm is not None and not fair.srm.mismatch
    with warnings.catch_warnings():
        warnings.simplefilter("error", SampleRatioMismatchWarning)
        skewed = campaign_report(campaigns, members, orders, "CMP202505", planned_control_share=0.5)
    assert skewed.srm.mismatch and skewed.messages[0].startswith("SAMPLE RATIO MISMATCH")
