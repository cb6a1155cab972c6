"""Value is net of what came back (issue 14): a shop where one customer cancelled nearly every
order (net 2.90 of 3,600.00 paid) and one returned everything (net 0) must not rank high by CLV,
monetary score, value tier or segment. The chain is the pipeline's: rfm_summary -> member_value
-> RFMScorer / assign_segments -> ValueTierModel. Gross spend would put the canceller at the top.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.clv.valuation import member_value
from memberlens.features import rfm_summary
from memberlens.segmentation import SCHEMES, RFMScorer, ValueTierModel, assign_segments

AS_OF = "2023-12-31"


def _shop() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    rows = []
    for m in range(400):  # ordinary members: ~50 a basket, rates and lifetimes vary
        first = int(rng.integers(0, 300))
        last = min(364, first + int(rng.exponential(rng.gamma(1.0, 150.0))))
        n = 1 + rng.poisson((last - first) * rng.gamma(1.0, 1 / 30))
        days = np.sort(first + rng.integers(0, last - first + 1, n))
        basket = rng.gamma(3.0, 50.0 / 3.0)  # the member's usual basket
        for d in days:
            rows.append((f"m{m}", d, round(float(rng.gamma(4.0, basket / 4.0)), 2), "paid"))
    # the canceller: a 300.00 order every month, all but 2.90 of it refunded a few days later
    for month in range(12):
        rows.append(("canceller", 30 * month + 2, 300.0, "paid"))
        refund = 300.0 if month < 11 else 297.10
        rows.append(("canceller", 30 * month + 5, -refund, "refunded"))
    # the returner: big spender early in the year, every order refunded
    for d in (3, 20, 40, 60):
        rows.append(("returner", d, 400.0, "paid"))
        rows.append(("returner", d + 2, -400.0, "refunded"))
    frame = pd.DataFrame(rows, columns=["member_id", "day", "amount", "status"])
    frame["ordered_at"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(frame["day"], unit="D")
    frame["order_id"] = [f"o{i}" for i in range(len(frame))]
    return frame.drop(columns="day")


@pytest.fixture(scope="module")
def members() -> pd.DataFrame:
    orders = _shop()
    summary = rfm_summary(orders, as_of=AS_OF).to_pandas()
    value = member_value(summary, orders, as_of=AS_OF)
    for column in value.frame.columns:
        summary[column] = value.frame[column].to_numpy()
    return summary.set_index("member_id", drop=False)


def test_net_value_columns(members):
    c, r = members.loc["canceller"], members.loc["returner"]
    assert (c.gross_spend, c.total_spend) == (3600.0, pytest.approx(2.90))
    assert (r.gross_spend, r.total_spend, bool(r.refunder)) == (1600.0, 0.0, True)
    assert not c.refunder


def test_clv_does_not_rank_the_canceller_high_and_gives_the_returner_none(members):
    clv = members["clv"]
    assert np.isnan(clv["returner"])
    assert members.loc["returner", "clv_note"].startswith("no net value")
    # by gross spend the canceller (12 purchases of 300) would be first by a wide margin
    assert clv.rank(ascending=False)["canceller"] > 0.5 * clv.notna().sum()


def test_monetary_score_and_segments_use_net_value(members):
    scorer = RFMScorer().fit(members)
    scores = scorer.transform(members).set_index(members.index)
    assert scores.loc["canceller", "M"] == 1
    assert scores.loc["returner", "M"] == 1
    cn8 = assign_segments(members, SCHEMES["cn8"], scorer).set_index(members.index)["segment"]
    assert not cn8["canceller"].startswith("important")
    assert cn8["returner"] != "important_winback"
    rfm11 = assign_segments(members, SCHEMES["rfm11"], scorer).set_index(members.index)
    assert rfm11.loc["canceller", "segment"] not in {"champions", "loyal", "cant_lose_them"}


def test_value_tiers_use_net_value(members):
    tiers = ValueTierModel().fit_transform(members).set_index(members.index)["tier"]
    assert tiers["canceller"] not in {"high_value", "medium_value"}
    assert tiers["returner"] == "low_value"
