"""member_value: the pipeline's value step degrades instead of failing (issue 14)."""

from __future__ import annotations

import numpy as np

from memberlens.clv.valuation import member_value
from memberlens.features import rfm_summary

AS_OF = "1998-06-30"


def test_cdnow_end_to_end(cdnow_transactions):
    summary = rfm_summary(cdnow_transactions, as_of=AS_OF).to_pandas()
    result = member_value(summary, cdnow_transactions, as_of=AS_OF)
    assert result.status == "ok"
    assert result.choice is not None and result.choice.criterion == "holdout"
    assert result.message.startswith(f"purchase model {result.choice.name} (by holdout)")
    frame = result.frame
    # CDNOW has members whose only orders cost 0.00: no net value, so no CLV, and said why
    free = summary["total_spend"].to_numpy() <= 0
    assert free.sum() > 0
    assert np.isnan(frame["clv"].to_numpy()[free]).all()
    assert (frame["clv_note"].to_numpy()[free] == "no net value (refunded or free orders)").all()
    assert frame["clv"].to_numpy()[~free].min() >= 0
    assert frame["p_alive"].between(0, 1).all()
    assert result.models["purchase_model"]["degenerate"] is False
    assert len(result.comparison()) == 4


def test_equal_amounts_skip_the_spend_model_and_keep_the_rest(cdnow_transactions):
    # one 10.00 order per purchase day: every repeat purchase is worth the same
    day = cdnow_transactions["ordered_at"].dt.normalize()
    orders = cdnow_transactions[
        ~day.to_frame().assign(m=cdnow_transactions["member_id"]).duplicated()
    ]
    orders = orders.assign(amount=10.0)
    summary = rfm_summary(orders, as_of=AS_OF).to_pandas()
    result = member_value(summary, orders, as_of=AS_OF)
    assert result.status == "degraded"
    assert "spend model skipped: all repeat purchase amounts are equal" in result.message
    assert result.frame["clv"].isna().all()
    assert result.frame["p_alive"].notna().all()


def test_too_few_repeat_buyers_is_skipped_with_a_reason(cdnow_transactions):
    orders = cdnow_transactions[cdnow_transactions["member_id"].isin(["1", "2", "3", "4"])]
    summary = rfm_summary(orders, as_of=AS_OF).to_pandas()
    result = member_value(summary, orders, as_of=AS_OF)
    assert result.status == "skipped" and "bought more than once" in result.message
    assert result.frame["clv"].isna().all()
