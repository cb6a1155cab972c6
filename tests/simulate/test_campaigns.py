"""Campaigns: the true effect written to ``truth/campaign_effects.parquet`` is recovered by a
difference in means between treatment and control, computed here from the written orders and
campaign_members tables (reference: the simulator's potential outcomes; Neyman's two-sample
variance for the 95 % interval)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from memberlens.simulate import simulate_shop


def _outcomes(out) -> pd.DataFrame:
    """One row per targeted member and campaign: group, segment and whether they bought."""
    return duckdb.sql(f"""
        select cm.campaign_id, cm.member_id, cm."group", t.segment,
               exists (select 1 from '{out}/orders.parquet' o
                       where o.member_id = cm.member_id and o.status = 'paid'
                         and o.ordered_at >= c.starts_at and o.ordered_at < c.ends_at) as bought
        from '{out}/campaign_members.parquet' cm
        join '{out}/campaigns.parquet' c using (campaign_id)
        join '{out}/truth/campaign_members.parquet' t using (campaign_id, member_id)
    """).df()


def _pooled_difference(df: pd.DataFrame) -> tuple[float, float]:
    """Difference in means per campaign, pooled with weights n_campaign / n; Neyman SE."""
    cells = df.groupby(["campaign_id", "group"]).bought.agg(["mean", "var", "count"]).unstack()
    n = cells["count"].sum(axis=1)
    w = n / n.sum()
    diff = cells["mean"]["treatment"] - cells["mean"]["control"]
    var = (
        cells["var"]["treatment"] / cells["count"]["treatment"]
        + cells["var"]["control"] / cells["count"]["control"]
    )
    return float((w * diff).sum()), float(np.sqrt((w**2 * var).sum()))


def _check_segments(out, min_lapsed_z: float | None = None):
    df = _outcomes(out)
    effects = pq.read_table(out / "truth" / "campaign_effects.parquet").to_pandas()
    for segment, rows in df.groupby("segment"):
        truth = effects[effects.segment == segment]
        n_all = truth.n_treatment + truth.n_control
        ate = float((truth.ate * n_all).sum() / n_all.sum())
        estimate, se = _pooled_difference(rows)
        assert abs(estimate - ate) < 1.96 * se, (segment, estimate, ate, se)
        if segment == "prospect":
            assert ate == 0
        if segment == "lapsed" and min_lapsed_z is not None:
            assert estimate / se > min_lapsed_z  # the effect is detectable
    # the counts in truth are the rows of campaign_members
    sizes = df.groupby(["campaign_id", "group"]).size().unstack()
    by_campaign = effects.groupby("campaign_id")[["n_treatment", "n_control"]].sum()
    assert (sizes.treatment == by_campaign.n_treatment).all()
    assert (sizes.control == by_campaign.n_control).all()


def test_campaign_effects_are_recovered_by_difference_in_means(small_shop):
    out, _ = small_shop
    _check_segments(out)


def test_treatment_is_randomised_and_only_treated_members_are_contacted(small_shop):
    out, _ = small_shop
    cm = pq.read_table(out / "campaign_members.parquet").to_pandas()
    share = (cm.group == "treatment").mean()
    assert abs(share - 0.8) < 0.02
    control = cm[cm.group == "control"]
    assert control[["sent_at", "opened_at", "clicked_at"]].isna().all().all()
    treated = cm[cm.group == "treatment"]
    assert treated.sent_at.notna().all()
    assert (treated.clicked_at.dropna() >= treated.sent_at[treated.clicked_at.notna()]).all()
    latent = pq.read_table(out / "truth" / "campaign_members.parquet").to_pandas()
    assert (latent.y1 >= latent.y0).all()
    assert not (latent.y1 & ~latent.y0 & ~latent.alive).any()  # only alive members respond


def test_campaign_effects_on_a_larger_shop(tmp_path):
    """With 20,000 members the lapsed segment's effect is clearly detectable and still covered."""
    simulate_shop(tmp_path, members=20_000, seed=99)
    _check_segments(tmp_path, min_lapsed_z=2.0)
