"""Replenishment. References: the simulator's truth (planted member x product repurchase cycles
in ``truth/replenishment.parquet`` and ``truth/members.parquet``), a pandas computation of the
intervals, and scipy's lognormal distribution for the window probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import lognorm

from memberlens.behavior.replenishment import (
    backtest_replenishment,
    next_purchases,
    probability_within,
    purchase_intervals,
    shrunk_log_cycle,
)
from memberlens.exceptions import ConfigError, DataError


@pytest.fixture(scope="module")
def heavy_shop(tmp_path_factory):
    """A simulated shop of frequent buyers (an order every ~5 days, few drop-outs), so that
    the planted replenishment cycles (14 to 90 days) are visible in the gaps."""
    import ibis

    from memberlens.simulate import ShopParameters, simulate_shop
    from memberlens.simulate.parameters import PurchaseProcess

    out = tmp_path_factory.mktemp("heavy")
    params = ShopParameters(purchases=PurchaseProcess(r=2.0, alpha=10.0, a=0.5, b=20.0))
    simulate_shop(out, members=600, seed=3, params=params)
    con = ibis.duckdb.connect()
    tables = {
        name: con.read_parquet(out / f"{name}.parquet", table_name=name)
        for name in ("orders", "order_items", "products")
    }
    return out, tables


def test_planted_replenishment_cycles_are_found(heavy_shop):
    out, t = heavy_shop
    result = next_purchases(
        t["orders"], t["order_items"], t["products"], as_of="2025-12-31", level="product_id"
    )
    members = pd.read_parquet(out / "truth" / "members.parquet")
    truth = pd.read_parquet(out / "truth" / "replenishment.parquet")
    planted = (
        members[["member_id", "replenishment_product_id"]]
        .dropna()
        .rename(columns={"replenishment_product_id": "product_id"})
        .merge(
            truth[["product_id", "cycle_days"]].rename(columns={"cycle_days": "true_cycle"}),
            on="product_id",
        )
    )
    found = result.predictions.merge(planted, on=["member_id", "product_id"])
    found = found[found["n_intervals"] >= 3]
    assert len(found) >= 50
    error = (found["cycle_days"] / found["true_cycle"] - 1).abs()
    assert error.median() < 0.1
    assert (error < 0.2).mean() >= 0.65


def test_backtest_ranks_who_buys_in_the_window(heavy_shop):
    _, t = heavy_shop
    report = backtest_replenishment(
        t["orders"], t["order_items"], t["products"], cutoff="2025-06-30", window_days=30
    )
    assert report.pairs > 1000
    assert report.auc > 0.8
    assert 0 < report.brier < 0.25
    assert 0 < report.observed_rate < 1
    # the reliability table: every pair in one of ten bins, rates rising with the prediction
    cal = report.calibration
    assert cal["bin"].tolist() == list(range(1, 11)) and cal["pairs"].sum() == report.pairs
    assert np.isclose(
        (cal["pairs"] * cal["mean_predicted"]).sum() / report.pairs, report.mean_predicted
    )
    assert np.isclose(
        (cal["pairs"] * cal["observed_rate"]).sum() / report.pairs, report.observed_rate
    )
    assert cal["observed_rate"].iloc[-1] > 5 * cal["observed_rate"].iloc[0]
    assert 0 < report.repeat_pairs < report.pairs


def test_backtest_window_must_lie_inside_the_data(heavy_shop):
    _, t = heavy_shop
    with pytest.raises(DataError, match="pass a cutoff on or before 2025-12-01"):
        backtest_replenishment(
            t["orders"], t["order_items"], t["products"], cutoff="2025-12-20", window_days=30
        )
    with pytest.raises(ConfigError, match="cutoff"):
        backtest_replenishment(t["orders"], t["order_items"], t["products"], cutoff="someday")


def test_engine_intervals_match_pandas(on_backend):
    rng = np.random.default_rng(5)
    n = 400
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(n)],
            "member_id": rng.choice(["a", "b", "c", None], n),
            "ordered_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h"),
            "status": rng.choice(["paid", "paid", "paid", "refunded"], n),
        }
    )
    items = pd.DataFrame(
        {"order_id": orders["order_id"], "product_id": rng.choice(["p1", "p2", "p3"], n)}
    )
    products = pd.DataFrame({"product_id": ["p1", "p2", "p3"], "category": ["x", "x", "y"]})
    got = purchase_intervals(
        on_backend(orders, "rep_orders"),
        on_backend(items, "rep_items"),
        on_backend(products, "rep_products"),
    ).to_pandas()
    d = orders[(orders.status == "paid") & orders.member_id.notna()].merge(items).merge(products)
    d = d.assign(day=d.ordered_at.dt.normalize())[["member_id", "category", "day"]]
    d = d.drop_duplicates().sort_values(["member_id", "category", "day"])
    d["gap"] = d.groupby(["member_id", "category"])["day"].diff().dt.days
    ref = (
        d.groupby(["member_id", "category"])
        .agg(
            purchase_days=("day", "size"),
            n_intervals=("gap", "count"),
            sum_log=("gap", lambda g: np.log(g.dropna()).sum()),
        )
        .reset_index()
    )
    got = got.sort_values(["member_id", "category"], ignore_index=True)
    np.testing.assert_array_equal(got["member_id"], ref["member_id"])
    np.testing.assert_array_equal(got["purchase_days"], ref["purchase_days"])
    np.testing.assert_array_equal(got["n_intervals"], ref["n_intervals"])
    np.testing.assert_allclose(got["sum_log"], ref["sum_log"])


def test_regular_member_gets_their_own_cycle_and_a_newcomer_the_categorys():
    import ibis

    # member r buys every 20 days (10 times), s twice 60 days apart; category "c"
    days = [pd.Timestamp("2024-01-01") + pd.Timedelta(days=20 * i) for i in range(10)]
    days_s = [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-03-05")]
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(12)],
            "member_id": ["r"] * 10 + ["s"] * 2,
            "ordered_at": days + days_s,
            "status": "paid",
        }
    )
    items = pd.DataFrame({"order_id": orders["order_id"], "product_id": "p"})
    products = pd.DataFrame({"product_id": ["p"], "category": ["c"]})
    result = next_purchases(
        ibis.memtable(orders), ibis.memtable(items), ibis.memtable(products), as_of="2024-06-30"
    )
    pred = result.predictions.set_index("member_id")
    assert pred.loc["r", "own_cycle_days"] == pytest.approx(20.0)
    assert pred.loc["s", "own_cycle_days"] == pytest.approx(60.0)
    # more history, more weight on one's own intervals
    assert pred.loc["r", "weight"] > pred.loc["s", "weight"]
    assert pred.loc["r", "expected_next_purchase"] == days[-1] + pd.Timedelta(
        days=round(pred.loc["r", "cycle_days"])
    )
    assert ((pred["p_within_window"] >= 0) & (pred["p_within_window"] <= 1)).all()


def test_shrinkage_is_the_precision_weighted_mean():
    # kappa = 0: own mean; kappa -> inf: the category's; n = kappa: halfway
    assert shrunk_log_cycle(5, 3.0, 4.0, 0.0) == 3.0
    assert shrunk_log_cycle(5, 3.0, 4.0, 1e12) == pytest.approx(4.0)
    assert shrunk_log_cycle(4, 3.0, 4.0, 4.0) == pytest.approx(3.5)


def test_window_probability_is_the_conditional_lognormal():
    mu, s, elapsed, window = np.log(30.0), 0.4, np.array([1.0, 20.0, 45.0]), 30.0
    dist = lognorm(s=s, scale=np.exp(mu))
    expected = (dist.cdf(elapsed + window) - dist.cdf(elapsed)) / dist.sf(elapsed)
    np.testing.assert_allclose(probability_within(mu, s, elapsed, window), expected)
    assert np.all(np.diff(probability_within(mu, s, 10.0, np.array([7.0, 30.0, 90.0]))) > 0)


def test_bad_settings_are_named():
    import ibis

    empty = ibis.memtable(
        pd.DataFrame(
            {
                "order_id": ["1"],
                "member_id": ["a"],
                "ordered_at": [pd.Timestamp("2024-01-01")],
                "status": ["paid"],
            }
        )
    )
    items = ibis.memtable(pd.DataFrame({"order_id": ["1"], "product_id": ["p"]}))
    products = ibis.memtable(pd.DataFrame({"product_id": ["p"], "category": ["c"]}))
    with pytest.raises(ConfigError, match="window_days"):
        next_purchases(empty, items, products, as_of="2024-02-01", window_days=0)
    with pytest.raises(ConfigError, match="level"):
        next_purchases(empty, items, products, as_of="2024-02-01", level="brand")
    with pytest.raises(DataError, match="repeat"):
        next_purchases(empty, items, products, as_of="2024-02-01")


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    """``memberlens demo`` of 800 members (simulated shop, warehouse and marts)."""
    from memberlens.pipeline.demo import run_demo

    folder = tmp_path_factory.mktemp("replenishment-demo") / "shop"
    run_demo(folder, members=800, seed=2)
    return folder


def _invoke(args):
    from typer.testing import CliRunner

    import memberlens.cli.mine  # noqa: F401  registers the command
    from memberlens.cli._app import app

    return CliRunner().invoke(app, args)


def test_replenishment_command_exports_and_prints_json(demo_shop, tmp_path):
    import json

    out = _invoke(
        [
            "replenishment",
            "--project",
            str(demo_shop),
            "--window-days",
            "14",
            "--export",
            str(tmp_path / "due.xlsx"),
            "--json",
        ]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["window_days"] == 14 and payload["level"] == "category"
    assert {k["category"] for k in payload["keys"]} <= {
        "美妆",
        "个护",
        "母婴",
        "食品",
        "服饰",
        "数码",
        "家居",
        "运动户外",
        "宠物",
        "图书",
        "保健",
    }
    exported = pd.read_excel(tmp_path / "due.xlsx")
    assert len(exported) >= payload["members"] > 0
    assert exported["p_within_window"].between(0, 1).all()


def test_backtest_command_reports_the_library_figures(demo_shop):
    import json

    from memberlens.engine import connect

    out = _invoke(
        [
            "--quiet",
            "replenishment",
            "--project",
            str(demo_shop),
            "--backtest",
            "--cutoff",
            "2025-06-30",
            "--json",
        ]
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    # reference: backtest_replenishment called directly on the same warehouse
    con = connect(demo_shop, read_only=True)
    expected = backtest_replenishment(
        *(con.table(n) for n in ("orders", "order_items", "products")),
        cutoff="2025-06-30",
        window_days=30,
    ).to_dict()
    assert payload.keys() == expected.keys()
    for key in ("cutoff", "pairs", "repeat_pairs", "level", "window_days"):
        assert payload[key] == expected[key], key
    for key in (
        "auc",
        "brier",
        "mean_predicted",
        "observed_rate",
        "median_abs_error_days",
        "baseline_median_abs_error_days",
    ):
        assert payload[key] == pytest.approx(expected[key], rel=1e-12), key
    assert pd.DataFrame(payload["calibration"])["pairs"].sum() == payload["pairs"]
    text = _invoke(["--quiet", "replenishment", "--project", str(demo_shop), "--backtest"])
    assert text.exit_code == 0, text.output
    assert "AUC" in text.output and "baseline" in text.output and "Calibration" in text.output
    late = _invoke(
        ["replenishment", "--project", str(demo_shop), "--backtest", "--cutoff", "2025-12-20"]
    )
    assert late.exit_code != 0 and "pass a cutoff on or before" in str(late.exception)
    wrong = _invoke(["replenishment", "--project", str(demo_shop), "--cutoff", "2025-06-30"])
    assert wrong.exit_code != 0 and "--backtest" in str(wrong.exception)


def test_replenishment_page_examples_run():
    """Every Python block of docs/replenishment.md runs (docs that cannot drift)."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "replenishment.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/replenishment.md[{i}]", "exec"), namespace)
