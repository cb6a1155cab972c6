"""Ingest throughput and peak memory: memberlens against the routes a user would otherwise take.

    python benchmarks/ingest.py [--rows 10000000] [--out benchmarks/_data]

Generates an orders export (order_id, member_id, ordered_at, amount, status, channel) as CSV and
Parquet, then measures, each in its own subprocess (so peak RSS is that route's alone):

* ``memberlens ingest`` (full mapping, validation, quarantine, duplicate checks, atomic store);
* DuckDB's own ``read_csv`` / ``read_parquet`` into a table (no checks: the practical limit);
* pandas ``read_csv`` + ``to_sql`` into SQLite (the script a user might write).

Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUTES = {
    "memberlens": """
import sys, time, resource, json
from memberlens.project import init_project
from memberlens.ingest import load
proj = init_project(sys.argv[2], force=True)
t = time.perf_counter()
r = load("orders", sys.argv[1], project=proj)
dt = time.perf_counter() - t
assert r.rows_stored + r.rows_quarantined + r.duplicates_dropped == r.rows_read
print(json.dumps({"seconds": dt, "rows": r.rows_stored,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""",
    "duckdb": """
import sys, time, resource, json, duckdb
con = duckdb.connect(sys.argv[2] + "/bare.duckdb")
t = time.perf_counter()
reader = "read_parquet" if sys.argv[1].endswith(".parquet") else "read_csv"
con.execute(f"CREATE TABLE orders AS SELECT * FROM {reader}('{sys.argv[1]}')")
n = con.execute("SELECT count(*) FROM orders").fetchone()[0]
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "rows": n,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""",
    "pandas+to_sql": """
import sys, time, resource, json, sqlite3
import pandas as pd
t = time.perf_counter()
df = pd.read_parquet(sys.argv[1]) if sys.argv[1].endswith(".parquet") else pd.read_csv(sys.argv[1])
con = sqlite3.connect(sys.argv[2] + "/pandas.sqlite")
df.to_sql("orders", con, index=False, chunksize=100_000)
con.commit()
n = con.execute("SELECT count(*) FROM orders").fetchone()[0]
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "rows": n,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""",
}


def generate(rows: int, out: Path) -> tuple[Path, Path]:
    """A realistic orders export; 0.1% of rows carry an error so the checks have work to do."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    csv_path, pq_path = out / f"orders_{rows}.csv", out / f"orders_{rows}.parquet"
    if csv_path.exists() and pq_path.exists():
        return csv_path, pq_path
    rng = np.random.default_rng(7)
    writer = None
    chunk = 1_000_000
    start = np.datetime64("2023-01-01T00:00:00")
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        ts = start + rng.integers(0, 730 * 86400, n).astype("timedelta64[s]")
        amount = np.round(rng.gamma(2.0, 60.0, n), 2).astype(str)
        bad = rng.random(n) < 0.001
        amount[bad] = "n/a"
        table = pa.table({
            "order_id": pa.array(np.char.add("o", np.arange(lo, lo + n).astype(str))),
            "member_id": pa.array(np.char.add("m", rng.integers(0, rows // 8, n).astype(str))),
            "ordered_at": pa.array(np.datetime_as_string(ts, unit="s")).cast(pa.string()),
            "amount": pa.array(amount),
            "status": pa.array(rng.choice(["paid", "refunded", "cancelled"], n, p=[.9, .07, .03])),
            "channel": pa.array(rng.choice(["app", "mini_program", "web", "store"], n)),
        })
        if writer is None:
            writer = pacsv.CSVWriter(csv_path, table.schema)
            pwriter = pq.ParquetWriter(pq_path, table.schema)
        writer.write_table(table)
        pwriter.write_table(table)
    writer.close()
    pwriter.close()
    return csv_path, pq_path


def run(route: str, source: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", ROUTES[route], str(source), tmp],
                              capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "_data")
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    t = time.perf_counter()
    csv_path, pq_path = generate(args.rows, args.out)
    print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    routes = [r for r in ROUTES if not (args.skip_pandas and r.startswith("pandas"))]
    results = {}
    for fmt, src in (("CSV", csv_path), ("Parquet", pq_path)):
        for route in routes:
            results[(fmt, route)] = run(route, src)
            print(fmt, route, results[(fmt, route)], file=sys.stderr)
    print(f"\n### Ingest of {args.rows:,} order rows\n")
    print(f"Machine: {platform.machine()}, 2 cores, 24 GiB; Python {platform.python_version()}. "
          f"Command: `python benchmarks/ingest.py --rows {args.rows}`.\n")
    print("| format | route | seconds | rows/s | vs DuckDB bare | peak RSS (MiB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (fmt, route), r in results.items():
        if "error" in r:
            print(f"| {fmt} | {route} | failed: {r['error']} | | | |")
            continue
        bare = results[(fmt, "duckdb")]["seconds"]
        print(f"| {fmt} | {route} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
              f"{bare / r['seconds']:.2f}x | {r['rss'] / 1024:,.0f} |")


if __name__ == "__main__":
    main()
