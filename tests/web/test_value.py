"""The value page: the purchase-model back-test (tracking plot, conditional expectations) and the
expected next purchases (mart_members.next_purchase_date, mart_replenishment)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).parent.parent / "reference" / "cdnow_clv.json"


@pytest.fixture(scope="module")
def cdnow_client(bare, tmp_path_factory, login):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(bare, database=f"sqlite:///{tmp_path_factory.mktemp('v') / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "v", "quiet-harbour-7", "viewer")
    with TestClient(app) as c:
        login(c, "v", "quiet-harbour-7")
        yield c


def test_backtest_on_cdnow_reproduces_fader_hardie_lee_2005(cdnow_client):
    # reference: FHL (2005) BG/NBD on the CDNOW sample, 39 + 39 weeks (tests/reference/
    # cdnow_clv.json: paper parameters, holdout figures verified with lifetimes / BTYD)
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    body = cdnow_client.get(
        "/api/value/backtest", params={"calibration_end": "1997-09-30", "holdout_end": "1998-06-30"}
    ).json()
    for name, value in ref["bgnbd_paper"].items():
        if name != "log_likelihood":
            assert round(body["params"][name], 3) == value, name
    track = body["tracking"]["periods"]
    assert track["actual_cumulative"][-1] == ref["holdout"]["actual_cumulative_week_78"]
    assert track["actual_cumulative"][19:25] == ref["holdout"]["actual_cumulative_weeks_20_25"]
    assert track["expected_cumulative"][38] == pytest.approx(
        ref["holdout"]["bgnbd_cumulative_week_39"], abs=0.5
    )
    assert track["expected_cumulative"][77] == pytest.approx(
        ref["holdout"]["bgnbd_cumulative_week_78"], abs=0.5
    )
    assert body["error"]["expected_total"] == pytest.approx(
        ref["holdout"]["bgnbd_expected_holdout_total"], abs=0.5
    )
    assert round(body["error"]["correlation"], 3) == ref["holdout"]["bgnbd_correlation_paper"]
    assert [r["members"] for r in body["by_frequency"]] == ref["bgnbd_by_frequency_btyd"]["members"]
    assert body["tracking"]["period_end"][38] == "1997-09-30"  # week 39 ends on the split
    assert body["tracking"]["calibration_periods"] == 39


def test_backtest_default_split_and_actuals_match_pandas(clients, shop):
    """The default split (holdout: the last 26 weeks up to the as-of) and the actual repeat
    purchases per week, recounted with pandas from the orders."""
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        o = con.execute(
            "SELECT member_id, ordered_at FROM orders WHERE status = 'paid' "
            "AND member_id IS NOT NULL"
        ).df()
        first, last = con.execute(
            "SELECT min(ordered_at)::DATE, max(ordered_at)::DATE FROM orders"
        ).fetchone()
    finally:
        con.close()
    body = clients["viewer"].get("/api/value/backtest").json()
    assert (last - first).days >= 3 * 26 * 7  # so the rule gives 26 holdout weeks
    assert body["holdout_end"] == last.isoformat()
    assert body["calibration_end"] == (last - dt.timedelta(weeks=26)).isoformat()
    cal_end = pd.Timestamp(body["calibration_end"])
    days = o.assign(day=o.ordered_at.dt.normalize())[["member_id", "day"]].drop_duplicates()
    birth = days.groupby("member_id").day.transform("min")
    cohort = days[birth <= cal_end]
    birth = birth[birth <= cal_end]
    origin = birth.min()
    repeat = cohort[cohort.day > birth]
    week = ((repeat.day - origin).dt.days // 7).value_counts().sort_index()
    track = body["tracking"]["periods"]
    assert body["tracking"]["origin"] == origin.date().isoformat()
    assert track["actual_incremental"] == [int(week.get(k, 0)) for k in range(len(track["period"]))]
    # conditional expectations: members by calibration frequency (0..6, 7+) and their mean
    # holdout purchase days
    cal = cohort[cohort.day <= cal_end].groupby("member_id").size() - 1
    hold = cohort[cohort.day > cal_end].groupby("member_id").size().reindex(cal.index, fill_value=0)
    group = cal.clip(upper=7)
    for row in body["by_frequency"]:
        k = 7 if row["frequency"] == "7+" else int(row["frequency"])
        assert row["members"] == int((group == k).sum())
        if row["members"]:
            assert row["actual_mean"] == pytest.approx(hold[group == k].mean())


def test_backtest_is_cached_per_pipeline_run_and_validates_the_split(clients, app, shop):
    import duckdb

    first = clients["viewer"].get("/api/value/backtest")
    again = clients["analyst"].get("/api/value/backtest")
    assert first.content == again.content
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        run = con.execute("SELECT max(run_id) FROM _runs").fetchone()[0]
    finally:
        con.close()
    keys = [k for k in app.state.ctx._cache if k[0][0] == "backtest"]
    assert keys and all(k[1] == ("run", run) for k in keys)
    custom = (
        clients["viewer"]
        .get(
            "/api/value/backtest",
            params={
                "calibration_end": "2024-12-31",
                "holdout_end": "2025-06-30",
                "model": "mbgnbd",
            },
        )
        .json()
    )
    assert (custom["calibration_end"], custom["holdout_end"], custom["model"]) == (
        "2024-12-31",
        "2025-06-30",
        "mbgnbd",
    )
    assert custom["tracking"]["period_end"][-1] >= "2025-06-30"
    bad = clients["viewer"].get(
        "/api/value/backtest", params={"calibration_end": "2025-06-30", "holdout_end": "2025-01-31"}
    )
    assert bad.status_code == 400 and "calibration_end" in bad.json()["detail"]
    assert clients["viewer"].get("/api/value/backtest", params={"model": "nope"}).status_code == 422


def test_default_split_rule():
    from memberlens.exceptions import DataError
    from memberlens.web.queries.value import default_split

    end = dt.date(2025, 12, 31)
    assert default_split(dt.date(2023, 1, 1), end) == (end - dt.timedelta(weeks=26), end)
    # 30 weeks of history: the last third (10 weeks) is the holdout
    assert default_split(end - dt.timedelta(weeks=30), end) == (end - dt.timedelta(weeks=10), end)
    with pytest.raises(DataError, match="at least 18 weeks"):
        default_split(end - dt.timedelta(weeks=10), end)


def test_next_purchases_match_the_marts(clients, shop):
    # reference: the marts themselves, counted with DuckDB SQL outside the app
    import duckdb

    body = clients["analyst"].get("/api/value").json()["next_purchase"]
    assert body["available"] is True
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        as_of = con.execute("SELECT max(as_of)::DATE FROM mart_members").fetchone()[0]
        weeks = body["members"]["weeks"]
        assert (
            len(weeks) == 13
            and weeks[0]["week_start"] == (as_of + dt.timedelta(days=1)).isoformat()
        )
        for w in weeks:
            lo = dt.date.fromisoformat(w["week_start"])
            n, alive = con.execute(
                "SELECT count(*), coalesce(sum(p_alive), 0) FROM mart_members "
                "WHERE next_purchase_date BETWEEN ? AND ?",
                [lo, lo + dt.timedelta(days=6)],
            ).fetchone()
            assert (w["members"], w["expected"]) == (n, pytest.approx(alive, abs=0.01))
        assert sum(w["members"] for w in weeks) > 0
        rep = body["replenishment"]
        assert rep["window_days"] == 30 and rep["as_of"] == as_of.isoformat()
        for c in rep["categories"]:
            members, due, overdue, expected = con.execute(
                "SELECT count(DISTINCT member_id), count(*) FILTER (WHERE "
                "expected_next_purchase::DATE > ? AND expected_next_purchase::DATE <= ?), "
                "count(*) FILTER (WHERE days_overdue > 0), sum(p_within_window) "
                "FROM mart_replenishment WHERE category = ?",
                [as_of, as_of + dt.timedelta(days=30), c["category"]],
            ).fetchone()
            assert (c["members"], c["due"], c["overdue"]) == (members, due, overdue)
            assert c["expected_buyers"] == pytest.approx(expected, abs=0.01)
        top = con.execute("SELECT max(p_within_window) FROM mart_replenishment").fetchone()[0]
    finally:
        con.close()
    probs = [r["p_within_window"] for r in rep["likely"]]
    assert probs == sorted(probs, reverse=True) and probs[0] == pytest.approx(top)
    assert len(rep["likely"]) == 50


def test_a_split_the_data_cannot_fit_is_reported_not_raised(cdnow_client):
    body = cdnow_client.get(
        "/api/value/backtest", params={"calibration_end": "1990-01-31", "holdout_end": "1997-06-30"}
    )
    assert body.status_code == 200
    got = body.json()
    assert (got["available"], got["error"]) == (False, "DataError")
    assert "calibration_end" in got["detail"]


def test_value_without_marts_says_run_and_backtest_still_works(cdnow_client):
    body = cdnow_client.get("/api/value").json()
    assert body["available"] is False and "memberlens run" in body["hint"]
    default = cdnow_client.get("/api/value/backtest").json()
    # CDNOW: 1997-01-01 .. 1998-06-30, 545 days < 78 weeks: the last third (25 weeks) is held out
    assert (default["calibration_end"], default["holdout_end"]) == ("1998-01-06", "1998-06-30")


def test_the_value_page_shows_the_purchase_models_compared(clients, shop, cdnow_client):
    # reference: mart_model_comparison as the clv step stored it, read with DuckDB outside the app
    import duckdb

    body = clients["viewer"].get("/api/value/models").json()
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT model, name, aic, holdout_mae, chosen, params FROM mart_model_comparison "
            "ORDER BY model"
        ).fetchall()
    finally:
        con.close()
    assert [r["model"] for r in body["models"]] == [r[0] for r in rows]
    for got, (_, name, aic, mae, chosen, params) in zip(body["models"], rows, strict=True):
        assert (got["name"], got["chosen"]) == (name, chosen)
        assert got["aic"] == pytest.approx(aic) and got["params"] == json.loads(params)
        assert got["holdout_mae"] == (None if mae is None else pytest.approx(mae))
    assert body["chosen"] == next(r[0] for r in rows if r[4])
    assert body["criterion"] == ("holdout" if any(r[3] is not None for r in rows) else "aic")
    assert {"BG/NBD", "MBG/NBD", "Pareto/NBD", "MBG/CNBD-k"} <= {r["name"] for r in body["models"]}
    # a warning exactly when the chosen model's holdout total misses by more than 20 %
    best = next(r for r in body["models"] if r["chosen"])
    error = best.get("holdout_total_error")
    assert body["warning_threshold"] == 0.2
    assert (body["warning"] is not None) == (error is not None and abs(error) > 0.2)
    # the page has the table and both languages label it
    page = clients["viewer"].get("/value").text
    assert 'id="models-table"' in page and 'id="models-warning"' in page
    from memberlens.web.i18n import text

    assert text("value.models", "zh-CN") == "购买模型比较"
    assert text("col.holdout_mae", "en") == "Holdout MAE"
    # a project without a run says so
    assert cdnow_client.get("/api/value/models").json()["available"] is False
