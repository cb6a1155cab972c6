"""Benchmark of member clusters and replenishment at scale.

- ``cluster_members`` on ``--members`` synthetic members (1 million by default): five planted
  member types on RFM-like columns (frequency, total_spend, aov, days_since_last, T), k-means
  with ``k="auto"`` (k search on 5,000, fit on 200,000, everyone assigned by nearest centroid
  in batches); reports wall time, peak resident memory (``VmHWM``) and the adjusted Rand index
  against the planted types.
- ``next_purchases`` per category on a simulated shop of ``--shop-members`` frequent buyers
  (DuckDB engine for the intervals); wall time and pairs scored.

Each part runs in its own child process so each peak memory is its own.

    .venv/bin/python benchmarks/mine.py --members 1000000 --shop-members 20000

Prints a Markdown section for docs/benchmarks/mine.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time


def _peak_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def clusters_child(members: int) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from memberlens.segmentation.clusters import cluster_members

    rng = np.random.default_rng(0)
    kinds = np.array([[1, 80, 600], [12, 3000, 20], [1, 90, 30], [15, 4000, 500], [5, 600, 120]])
    truth = rng.integers(0, len(kinds), members)
    centre = kinds[truth]
    frame = pd.DataFrame(
        {
            "member_id": np.char.add("M", np.arange(members).astype(str)),
            "frequency": np.maximum(
                0, np.round(rng.normal(centre[:, 0], 0.15 * centre[:, 0] + 0.1))
            ),
            "total_spend": centre[:, 1] * np.exp(rng.normal(0, 0.15, members)),
            "days_since_last": np.abs(rng.normal(centre[:, 2], 0.08 * centre[:, 2])),
        }
    )
    frame["aov"] = frame["total_spend"] / (frame["frequency"] + 1)
    frame["T"] = frame["days_since_last"] + rng.uniform(0, 700, members)
    start = time.perf_counter()
    result = cluster_members(frame, k="auto")
    seconds = time.perf_counter() - start
    return {
        "members": members,
        "seconds": seconds,
        "k": result.k,
        "ari": adjusted_rand_score(truth, result.labels["cluster"]),
        "peak_mib": _peak_mib(),
    }


def replenishment_child(members: int) -> dict:
    import ibis

    from memberlens.behavior.replenishment import next_purchases
    from memberlens.simulate import ShopParameters, simulate_shop
    from memberlens.simulate.parameters import PurchaseProcess

    folder = tempfile.mkdtemp()
    params = ShopParameters(purchases=PurchaseProcess(r=2.0, alpha=10.0, a=0.5, b=20.0))
    simulate_shop(folder, members=members, seed=3, params=params)
    con = ibis.duckdb.connect()
    tables = [
        con.read_parquet(f"{folder}/{name}.parquet", table_name=name)
        for name in ("orders", "order_items", "products")
    ]
    lines = tables[1].count().execute()
    start = time.perf_counter()
    result = next_purchases(*tables, as_of="2025-12-31")
    seconds = time.perf_counter() - start
    return {
        "members": members,
        "order_lines": int(lines),
        "seconds": seconds,
        "pairs": len(result.predictions),
        "peak_mib": _peak_mib(),
    }


def _child(part: str, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", part, "--n", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--shop-members", type=int, default=20_000)
    parser.add_argument("--child")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    if args.child:
        fn = clusters_child if args.child == "clusters" else replenishment_child
        print(json.dumps(fn(args.n)))
        return
    c = _child("clusters", args.members)
    r = _child("replenishment", args.shop_members)
    print("## Clusters and replenishment\n")
    print("| task | size | wall time | peak memory | result |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f'| `cluster_members` k-means, k="auto" | {c["members"]:,} members | '
        f"{c['seconds']:.1f} s | {c['peak_mib']:,.0f} MiB | k = {c['k']}, "
        f"ARI vs planted {c['ari']:.3f} |"
    )
    print(
        f"| `next_purchases` per category | {r['members']:,} members, "
        f"{r['order_lines']:,} order lines | {r['seconds']:.1f} s | {r['peak_mib']:,.0f} MiB "
        f"| {r['pairs']:,} member-category pairs |"
    )


if __name__ == "__main__":
    main()
