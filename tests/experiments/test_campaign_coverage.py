"""Coverage of the campaign evaluation over 100 simulated shops (slow): the 95 % interval of the
campaigns' pooled conversion effect covers the simulator's planted effect (its potential
outcomes, ``truth/campaign_effects.parquet``) for at least 93 of 100 seeds. The estimates come
from ``campaign_results`` (every campaign in one GROUP BY of sufficient statistics, the path of the
``campaigns`` pipeline step and the benchmark)."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow.parquet as pq
import pytest

from memberlens.experiments.results import campaign_results
from memberlens.simulate import simulate_shop


def _covered(out) -> bool:
    con = ibis.duckdb.connect()
    campaigns, members, orders = (
        con.read_parquet(out / f"{n}.parquet") for n in ("campaigns", "campaign_members", "orders")
    )
    effects = pq.read_table(out / "truth" / "campaign_effects.parquet").to_pandas()
    effects["n_all"] = effects.n_treatment + effects.n_control
    sizes = effects.groupby("campaign_id").n_all.sum()
    truth = (effects.ate * effects.n_all).groupby(effects.campaign_id).sum() / sizes
    w = sizes / sizes.sum()
    estimate, variance = 0.0, 0.0
    mart = campaign_results(campaigns, members, orders)
    tested = mart[mart["by"].isna() & (mart.metric == "conversion_rate") & mart.p_value.notna()]
    first = tested.groupby("campaign_id").head(1).set_index("campaign_id")  # the first arm
    for cid in sizes.index:
        conv = first.loc[cid]
        se = (conv.ci_high - conv.ci_low) / (2 * 1.959963984540054)
        estimate += w[cid] * conv.difference
        variance += w[cid] ** 2 * se**2
    return abs(estimate - float(w @ truth)) <= 1.959963984540054 * np.sqrt(variance)


@pytest.mark.slow
def test_pooled_effect_is_covered_for_93_of_100_seeds(tmp_path):
    covered = 0
    for seed in range(100):
        out = tmp_path / str(seed)
        simulate_shop(out, members=4_000, seed=seed)
        covered += _covered(out)
    assert covered >= 93, covered
