"""Benchmark of churn training and scoring on a large member base: wall time and peak memory.

Part 1 reads the benchmark orders (``benchmarks/_data/rfm_orders_<N>.parquet``, written by
``benchmarks/rfm_summary.py``; 10 million orders hold about 1 million members) into an
in-memory DuckDB through Ibis, then in two child processes (so each peak resident memory is its
own): (1) ``fit_at`` (features at 4 cutoffs, BG/NBD, LightGBM, calibration) saved to a folder,
(2) ``scores`` in batches of 100,000 members.

Part 2 (``--shop-members``, 0 to skip) simulates a shop with order lines and categories
(``memberlens.simulate.simulate_shop``) and measures, each in a child process: (3) the
per-category propensity (top 5 categories, one pooled LightGBM) with its time-split back-test
against the baseline a marketer would otherwise use (the member's share of the category x their
overall 30-day propensity), (4) ``churn_mart`` without saved models: churn and purchase models
trained with their back-tests, then every member scored in batches with reasons.

Prints a Markdown section for docs/benchmarks/churn.md.

    .venv/bin/python benchmarks/churn.py --orders 10000000 --shop-members 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "_data"

TRAIN = """
import json, resource, sys, time
import ibis
from memberlens.churn import ChurnInputs, fit_at
from memberlens.churn.labels import default_horizon_days, last_purchase_day
con = ibis.duckdb.connect()
inputs = ChurnInputs(orders=con.read_parquet(sys.argv[1], table_name="orders"))
t0 = time.perf_counter()
last = last_purchase_day(inputs.orders)
h = default_horizon_days(inputs.orders, cutoff=last)
model, used = fit_at(inputs, known_through=last, horizon_days=h)
seconds = time.perf_counter() - t0
model.save(sys.argv[2], metadata={"cutoff": last.isoformat(), "horizon_days": h})
print(json.dumps({"seconds": seconds, "n_train": used["n_train"], "horizon_days": h,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SCORE = """
import json, resource, sys, time
import ibis
from memberlens.churn import ChurnInputs, ChurnModel
from memberlens.churn.training import scores
con = ibis.duckdb.connect()
inputs = ChurnInputs(orders=con.read_parquet(sys.argv[1], table_name="orders"))
model, meta = ChurnModel.load(sys.argv[2])
t0 = time.perf_counter()
rows = 0
for batch in scores(model, inputs, as_of=meta["cutoff"], horizon_days=meta["horizon_days"]):
    rows += len(batch)
print(json.dumps({"seconds": time.perf_counter() - t0, "members": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SHOP = """
import ibis
from memberlens.churn import ChurnInputs
con = ibis.duckdb.connect()
inputs = ChurnInputs(**{name: con.read_parquet(f"{sys.argv[1]}/{name}.parquet", table_name=name)
                        for name in ("orders", "order_items", "products")})
"""

CATEGORY = (
    """
import json, resource, sys, time
"""
    + SHOP
    + """
from memberlens.churn import train_inputs
from memberlens.churn.labels import last_purchase_day
t0 = time.perf_counter()
model, meta = train_inputs(inputs, cutoff=last_purchase_day(inputs.orders), target="category")
seconds = time.perf_counter() - t0
metrics = {(m["model"], m["category"]): m for m in meta["backtest"]["metrics"]}
print(json.dumps({"seconds": seconds, "n_train": meta["n_train"],
                  "categories": meta["categories"],
                  "auc": metrics[("lightgbm", None)]["auc"],
                  "baseline_auc": metrics[("share_x_propensity", None)]["auc"],
                  "popularity_auc": metrics[("category_popularity", None)]["auc"],
                  "per_category": {c: [metrics[("lightgbm", c)]["auc"],
                                       metrics[("share_x_propensity", c)]["auc"]]
                                   for c in meta["categories"]},
                  "positive_rate": metrics[("lightgbm", None)]["positive_rate"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)

MART = (
    """
import json, resource, sys, time
"""
    + SHOP
    + """
from memberlens.churn import churn_mart
from memberlens.churn.labels import last_purchase_day
t0 = time.perf_counter()
frame, summary = churn_mart(inputs, as_of=last_purchase_day(inputs.orders))
print(json.dumps({"seconds": time.perf_counter() - t0, "members": len(frame),
                  "auc": summary["auc"], "propensity_auc": summary["propensity"]["auc"],
                  "horizon_days": summary["horizon_days"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
)


def child(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def orders_part(n_orders: int) -> None:
    path = DATA / f"rfm_orders_{n_orders}.parquet"
    if not path.exists():
        sys.exit(f"{path} is missing: run benchmarks/rfm_summary.py --orders {n_orders} first")
    with tempfile.TemporaryDirectory() as folder:
        train = child(TRAIN, str(path), folder)
        score = child(SCORE, str(path), folder)
    print(f"### {n_orders:,} orders\n")
    print("| step | members / rows | wall time (s) | peak memory (MiB) |")
    print("| --- | --- | --- | --- |")
    print(
        f"| train (4 cutoffs, LightGBM + Platt; horizon {train['horizon_days']} d) | "
        f"{train['n_train']:,} training rows | {train['seconds']:.1f} | {train['peak_mb']:,.0f} |"
    )
    print(
        f"| score (batches of 100,000, with reasons) | {score['members']:,} members | "
        f"{score['seconds']:.1f} | {score['peak_mb']:,.0f} |\n"
    )


def shop_part(members: int, seed: int) -> None:
    from memberlens.simulate import simulate_shop

    with tempfile.TemporaryDirectory() as folder:
        simulate_shop(folder, members=members, seed=seed)
        category = child(CATEGORY, folder)
        mart = child(MART, folder)
    print(f"### Simulated shop, {members:,} members (seed {seed})\n")
    print("| step | rows | wall time (s) | peak memory (MiB) | back-test |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| per-category propensity, top 5 ({', '.join(category['categories'])}): back-test + "
        f"final fit | {category['n_train']:,} member x category training rows | "
        f"{category['seconds']:.1f} | {category['peak_mb']:,.0f} | AUC {category['auc']:.3f} "
        f"vs share x propensity {category['baseline_auc']:.3f}, category popularity "
        f"{category['popularity_auc']:.3f} (positive rate {category['positive_rate']:.3f}) |"
    )
    print(
        f"| `churn_mart`, no saved model: churn (horizon {mart['horizon_days']} d) and 30-day "
        f"models trained with back-tests, all members scored with reasons | "
        f"{mart['members']:,} members | {mart['seconds']:.1f} | {mart['peak_mb']:,.0f} | churn "
        f"AUC {mart['auc']:.3f}, propensity AUC {mart['propensity_auc']:.3f} |\n"
    )
    print(
        "Per category (LightGBM AUC / share x propensity AUC): "
        + "; ".join(f"{c} {a:.3f} / {b:.3f}" for c, (a, b) in category["per_category"].items())
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000, help="0 skips part 1")
    parser.add_argument("--shop-members", type=int, default=100_000, help="0 skips part 2")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("## Churn: training and scoring\n")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared, load average before "
        f"the run {', '.join(f'{x:.1f}' for x in os.getloadavg())}; command: "
        f"`.venv/bin/python benchmarks/churn.py --orders {args.orders} --shop-members "
        f"{args.shop_members}`\n"
    )
    if args.orders:
        orders_part(args.orders)
    if args.shop_members:
        shop_part(args.shop_members, args.seed)


if __name__ == "__main__":
    main()
