"""Campaign evaluation on the simulated shop: arm counts equal an independent SQL query, the
statistics equal statsmodels on the per-member data, and the simulator's planted effect
(``truth/campaign_effects.parquet``, its potential outcomes) is recovered inside the intervals."""

from __future__ import annotations

import duckdb
import ibis
import numpy as np
import pyarrow.parquet as pq
import pytest
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import ttest_ind

from memberlens.exceptions import DataError
from memberlens.experiments.campaigns import campaign_report


def _tables(out):
    con = ibis.duckdb.connect()
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
