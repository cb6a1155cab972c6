"""Overview trends at every grain and KPIs of several ranges, against pandas (the definitions in
memberlens.web.queries.overview recomputed from the orders), and the cached answer."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def paid(shop) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        o = con.execute(
            "SELECT member_id, ordered_at, amount::DOUBLE AS amount, status FROM orders"
        ).df()
    finally:
        con.close()
    o["day"] = o["ordered_at"].dt.normalize()
    return o[(o.status == "paid") & o.member_id.notna()]


def _bucket(day: pd.Series, grain: str) -> pd.Series:
    if grain == "week":  # weeks start on Monday
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    if grain == "month":
        return day.dt.to_period("M").dt.start_time
    return day


# a range whose first and last weeks and months straddle its start and end
@pytest.mark.parametrize("start,end", [("2025-03-13", "2025-08-19"), ("2024-12-31", "2025-01-06")])
@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_trends_match_pandas(clients, paid, start, end, grain):
    body = (
        clients["viewer"]
        .get("/api/overview", params={"start": start, "end": end, "grain": grain})
        .json()
    )
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    ps, pe = pd.Timestamp(body["previous_start"]), pd.Timestamp(body["previous_end"])
    assert (pe - ps) == (e - s) and pe == s - pd.Timedelta(days=1)
    for key, lo, hi in (("trend", s, e), ("previous_trend", ps, pe)):
        part = paid[(paid.day >= lo) & (paid.day <= hi)]
        g = (
            part.assign(bucket=_bucket(part.day, grain))
            .groupby("bucket")
            .agg(
                revenue=("amount", "sum"),
                orders=("amount", "size"),
                active_members=("member_id", "nunique"),
            )
            .reset_index()
        )
        expected = [
            {
                "bucket": r.bucket.date().isoformat(),
                "revenue": pytest.approx(r.revenue, abs=0.01),
                "orders": r.orders,
                "active_members": r.active_members,
            }
            for r in g.itertuples()
        ]
        assert body[key] == expected, (key, grain)
    cur = paid[(paid.day >= s) & (paid.day <= e)]
    k = body["current"]
    assert (k["orders"], k["active_members"]) == (len(cur), cur.member_id.nunique())
    days = cur.groupby("member_id").day.nunique()
    assert k["repurchase_rate"] == pytest.approx((days >= 2).mean())


def test_cached_overview_is_answered_from_the_cache(clients, app):
    params = {"start": "2025-01-01", "end": "2025-03-31", "grain": "month"}
    first = clients["viewer"].get("/api/overview", params=params)
    keys = [k for k in app.state.ctx._cache if k[0][0] == "overview"]
    assert keys and all(isinstance(app.state.ctx._cache[k], bytes) for k in keys)
    again = clients["analyst"].get("/api/overview", params=params)
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert again.headers["cache-control"] == "no-store"
