"""The whole `memberlens run` on a large simulated shop: wall time and peak memory per stage.

    python benchmarks/run_pipeline.py [--members 4100000] [--out benchmarks/_data/shop-10m]

Simulates a shop (about 2.4 orders per member: 4.1M members give about 10M orders), loads
members, products, orders and order lines through the public ingest, then runs the pipeline.
Each stage runs in its own subprocess so that its peak RSS is its own. Prints a Markdown
section for docs/benchmarks.md. Target (issue 5): peak memory of `run` under 8 GiB.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

STAGE = """
import json, resource, sys, time
stage, shop, project = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
info = {}
if stage == "simulate":
    from memberlens.simulate import simulate_shop
    r = simulate_shop(shop, members=int(sys.argv[4]), seed=11)
    info = {"orders": r.rows["orders"], "members": r.members}
elif stage == "ingest":
    from memberlens.project import init_project
    from memberlens.ingest import load
    proj = init_project(project, force=True)
    for table in ("members", "products", "orders", "order_items"):
        rep = load(table, f"{shop}/{table}.parquet", project=proj)
        info[table] = rep.rows_stored
else:
    from memberlens.pipeline.run import run_pipeline
    res = run_pipeline(project)
    info = {s.step: round(s.seconds, 1) for s in res.steps} | {"marts": res.marts}
print(json.dumps({"seconds": time.perf_counter() - t, "info": info,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def stage(name: str, shop: Path, project: Path, *extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", STAGE, name, str(shop), str(project), *extra],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4_100_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "_data" / "shop-10m")
    args = parser.parse_args()
    results = {}
    if not (args.out / "orders.parquet").exists():
        results["simulate"] = stage("simulate", args.out, Path("-"), str(args.members))
        print("simulate", results["simulate"], file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "shop"
        for name in ("ingest", "run"):
            results[name] = stage(name, args.out, project)
            print(name, results[name], file=sys.stderr)
    orders = results["ingest"]["info"]["orders"]
    print(f"\n### `memberlens run` on {orders:,} orders\n")
    print(
        f"Machine: {platform.machine()}, 2 cores, 24 GiB; Python {platform.python_version()}. "
        f"Command: `python benchmarks/run_pipeline.py --members {args.members}`.\n"
    )
    print("| stage | wall s | peak RSS (MiB) | detail |")
    print("| --- | ---: | ---: | --- |")
    for name, r in results.items():
        detail = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
            for k, v in r["info"].items()
            if k != "marts"
        )
        print(f"| {name} | {r['seconds']:.1f} | {r['rss_mib']:,.0f} | {detail} |")


if __name__ == "__main__":
    main()
