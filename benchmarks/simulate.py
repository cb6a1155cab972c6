"""Benchmark of ``memberlens simulate``: throughput (orders per second) and peak memory.

Simulates a shop sized for ``--orders`` orders (10 million by default) in a child process, so
that the peak resident memory measured is the simulator's alone, and compares on a small shop
with a naive pandas approach that builds the orders table row by row with Python loops (the
way a quick script would). Prints a Markdown section for docs/benchmarks/simulate.md.

    .venv/bin/python benchmarks/simulate.py --orders 10000000 --out /tmp/ml-bench-shop
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHILD = """
import json, sys
from memberlens.simulate import simulate_shop
r = simulate_shop(sys.argv[1], members=int(sys.argv[2]), seed=int(sys.argv[3]),
                  chunk_members=int(sys.argv[4]))
print(json.dumps({"rows": r.rows, "seconds": r.seconds}))
"""


def run_child(out: Path, members: int, seed: int, chunk: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(members), str(seed), str(chunk)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(wall=wall, peak_mib=usage.ru_maxrss / 1024, cpu=usage.ru_utime + usage.ru_stime)
    return result


def naive_pandas_orders(members: int, seed: int, out: Path) -> tuple[int, float]:
    """Orders of a BG/NBD shop built member by member, order by order, then written once."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    rows = []
    for i in range(members):  # the naive way: a loop over members...
        lam, p, nu = rng.gamma(0.55, 1 / 45.0), rng.beta(0.75, 3.0), rng.gamma(3.5, 1 / 90.0)
        t = rng.uniform(0, 1096)
        if rng.random() > 0.7:
            continue
        while t < 1096:  # ...and over purchases
            rows.append(
                {
                    "order_id": f"{i:09d}{len(rows):06d}",
                    "member_id": f"M{i:09d}",
                    "ordered_at": pd.Timestamp("2023-01-01") + pd.Timedelta(days=t),
                    "amount": round(rng.gamma(4.0, 1 / nu), 2),
                    "status": "paid",
                }
            )
            if rng.random() < p and len(rows) > 1:
                break
            t += rng.exponential(1 / lam)
    pd.DataFrame(rows).to_parquet(out)
    return len(rows), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/ml-bench-shop"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-members", type=int, default=100_000)
    ap.add_argument("--naive-members", type=int, default=20_000)
    ap.add_argument("--keep", action="store_true", help="keep the simulated shop on disk")
    args = ap.parse_args(argv)

    from memberlens.simulate import simulate_shop

    load_before = os.getloadavg()[0]
    pilot = simulate_shop(args.out / "pilot", members=20_000, seed=args.seed)
    per_member = pilot.rows["orders"] / 20_000
    members = int(np.ceil(args.orders / per_member))
    big = run_child(args.out / "shop", members, args.seed, args.chunk_members)
    size = sum(f.stat().st_size for f in (args.out / "shop").rglob("*") if f.is_file())
    small = simulate_shop(args.out / "small", members=args.naive_members, seed=args.seed)
    n_naive, t_naive = naive_pandas_orders(args.naive_members, args.seed, args.out / "naive.pq")
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)

    load_after = os.getloadavg()[0]
    rows = big["rows"]
    print("## Simulator (`memberlens simulate`)\n")
    print(
        f"Machine: {platform.machine()}, 2 cores, 24 GiB; Python {platform.python_version()}; "
        f"command: `.venv/bin/python benchmarks/simulate.py --orders {args.orders}`.\n"
    )
    print(
        f"Load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} (the "
        "machine is shared; CPU seconds are less sensitive to that than wall time).\n"
    )
    print(
        "| run | members | orders | all rows written | wall s | CPU s | orders / wall s | "
        "peak RSS |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| memberlens, 9 tables + truth (chunks of {args.chunk_members:,} members) | "
        f"{members:,} | {rows['orders']:,} | {sum(rows.values()):,} | {big['seconds']:.1f} | "
        f"{big['cpu']:.1f} | {rows['orders'] / big['seconds']:,.0f} | "
        f"{big['peak_mib']:,.0f} MiB |"
    )
    print(
        f"| memberlens, small shop (9 tables + truth) | {args.naive_members:,} | "
        f"{small.rows['orders']:,} | {sum(small.rows.values()):,} | {small.seconds:.2f} | | "
        f"{small.orders_per_second:,.0f} | |"
    )
    print(
        f"| naive pandas row loop, orders table only | {args.naive_members:,} | {n_naive:,} | "
        f"{n_naive:,} | {t_naive:.2f} | | {n_naive / t_naive:,.0f} | |"
    )
    print()
    print(
        "Rows per table: "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items())
        + f"; {size / 2**30:.2f} GiB on disk (Parquet, zstd)."
    )


if __name__ == "__main__":
    main()
