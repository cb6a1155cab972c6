"""Benchmark of churn training and scoring on a large member base: wall time and peak memory.

Reads the benchmark orders (``benchmarks/_data/rfm_orders_<N>.parquet``, written by
``benchmarks/rfm_summary.py``; 10 million orders hold about 1 million members) into an
in-memory DuckDB through Ibis, then in two child processes (so each peak resident memory is its
own): (1) ``fit_at`` (features at 4 cutoffs, BG/NBD, LightGBM, calibration) saved to a folder,
(2) ``scores`` in batches of 100,000 members. Prints a Markdown section for
docs/benchmarks/churn.md.

    .venv/bin/python benchmarks/churn.py --orders 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
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


def child(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    args = parser.parse_args()
    path = DATA / f"rfm_orders_{args.orders}.parquet"
    if not path.exists():
        sys.exit(f"{path} is missing: run benchmarks/rfm_summary.py --orders {args.orders} first")
    with tempfile.TemporaryDirectory() as folder:
        train = child(TRAIN, str(path), folder)
        score = child(SCORE, str(path), folder)
    cores = os.cpu_count()
    print(f"## Churn: training and scoring ({args.orders:,} orders)\n")
    print(f"Machine: {platform.machine()}, {cores} cores, shared; command: "
          f"`.venv/bin/python benchmarks/churn.py --orders {args.orders}`\n")
    print("| step | members / rows | wall time (s) | peak memory (MiB) |")
    print("| --- | --- | --- | --- |")
    print(f"| train (4 cutoffs, LightGBM + Platt; horizon {train['horizon_days']} d) | "
          f"{train['n_train']:,} training rows | {train['seconds']:.1f} | {train['peak_mb']:,.0f} |")
    print(f"| score (batches of 100,000, with reasons) | {score['members']:,} members | "
          f"{score['seconds']:.1f} | {score['peak_mb']:,.0f} |")


if __name__ == "__main__":
    main()
