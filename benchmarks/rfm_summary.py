"""Benchmark: memberlens.features.rfm_summary against a bare DuckDB GROUP BY and lifetimes.

Prints a Markdown section (figures go to docs/benchmarks/rfm.md). Data: simulated orders
written with numpy to ``benchmarks/_data/rfm_orders_<n>.parquet`` (git-ignored; 3 % refunds,
1 % cancellations, 4 channels, DECIMAL(18, 2) amounts, members = orders / 10) and the CDNOW
sample. Per size and contender: median of ``--repeat`` runs (interleaved), wall and CPU
seconds, the result fully materialised (Arrow), one member per output row.

* ``memberlens``: ``rfm_summary(con.read_parquet(path), as_of=...)`` on Ibis + DuckDB, its
  defaults: the summary (same-day merge, frequency/recency/T/monetary value, first and last
  purchase times, totals, refunds; the favourites left null); and the same with
  ``favourites=True`` (the favourite channel from the channel column);
* ``duckdb_core``: one hand-written DuckDB SQL query over the same Parquet computing the BTYD
  core (same-day merge, frequency, recency, T, monetary value, total spend, order count);
* ``duckdb_full``: one hand-written DuckDB SQL query with the same columns as rfm_summary
  (adds refunds and the favourite channel: one more GROUP BY over the orders);
* ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` on the paid orders as a
  pandas frame (read time excluded), run in the peers' venv through subprocess
  (``--peer-python``, default /work/peers-venv/bin/python; ``pip install -r
  benchmarks/requirements-peers.txt``), skipped above ``--lifetimes-max`` orders.

    .venv/bin/python benchmarks/rfm_summary.py --sizes 100000,1000000,10000000
    .venv/bin/python benchmarks/rfm_summary.py --sizes 10000000 --repeat 1 --lifetimes-max 0 \
        --behaviour      # lifecycle and cohort tables on 10 M orders
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
AS_OF = "2024-12-31"


# -- peer side (runs in the peers' venv: only pandas, pyarrow and lifetimes) --------------------
def _peer_lifetimes(path: str, as_of: str) -> None:
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    frame = pd.read_parquet(path, columns=["member_id", "ordered_at", "amount", "status"])
    frame = frame[frame["status"] == "paid"]
    frame = frame.assign(amount=frame["amount"].astype("float64"))
    start = time.perf_counter()
    summary = summary_data_from_transaction_data(
        frame,
        "member_id",
        "ordered_at",
        monetary_value_col="amount",
        observation_period_end=as_of,
        freq="D",
    )
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": len(summary),
                "sum_frequency": float(summary["frequency"].sum()),
            }
        )
    )


# -- data ----------------------------------------------------------------------------------------
def _write_orders(n_orders: int, path: Path, seed: int = 20261124) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_members = max(n_orders // 10, 1)
    member = rng.integers(0, n_members, n_orders)
    seconds = rng.integers(0, 2 * 365 * 86_400, n_orders)
    ordered_at = np.datetime64("2023-01-01T00:00:00", "us") + seconds * 1_000_000
    cents = np.round(rng.gamma(2.0, 4_000.0, n_orders)).astype("int64") + 100
    u = rng.uniform(size=n_orders)
    status = np.where(u < 0.96, "paid", np.where(u < 0.99, "refunded", "cancelled"))
    cents = np.where(status == "refunded", -cents, cents)
    channel = rng.choice(
        np.array(["app", "store", "mini_program", "web"]), n_orders, p=[0.4, 0.3, 0.2, 0.1]
    )
    table = pa.table(
        {
            "order_id": pa.array(np.char.add("o", np.arange(n_orders).astype(str))),
            "member_id": pa.array(np.char.add("m", member.astype(str))),
            "ordered_at": pa.array(ordered_at, type=pa.timestamp("us")),
            "amount": _cents_to_decimal(cents),
            "status": pa.array(status),
            "channel": pa.array(channel),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _cents_to_decimal(cents):
    """Integer cents as an exact DECIMAL(18, 2) Arrow array (little-endian int128 values)."""
    import numpy as np
    import pyarrow as pa

    words = np.empty((len(cents), 2), dtype="<i8")
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)  # sign extension to 128 bits
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words.tobytes())]
    )


def _write_cdnow(path: Path) -> None:
    import numpy as np
    import pandas as pd

    from memberlens.datasets import load_cdnow_sample

    raw = load_cdnow_sample()
    pd.DataFrame(
        {
            "order_id": (np.arange(len(raw)) + 1).astype(str),
            "member_id": raw["member_id"],
            "ordered_at": raw["ordered_at"],
            "amount": raw["amount"],
            "status": "paid",
            "channel": "web",
        }
    ).to_parquet(path)


# -- contenders ----------------------------------------------------------------------------------
CORE_SQL = """
WITH paid AS (
    SELECT member_id, CAST(ordered_at AS DATE) AS day, amount
    FROM read_parquet('{path}')
    WHERE status = 'paid' AND member_id IS NOT NULL AND CAST(ordered_at AS DATE) <= DATE '{as_of}'
), days AS (
    SELECT member_id, day, SUM(amount) AS day_amount, COUNT(*) AS n FROM paid GROUP BY 1, 2
)
SELECT member_id,
       COUNT(*) - 1 AS frequency,
       CAST(date_diff('day', MIN(day), MAX(day)) AS DOUBLE) AS recency,
       CAST(date_diff('day', MIN(day), DATE '{as_of}') AS DOUBLE) AS T,
       CASE WHEN COUNT(*) > 1
            THEN CAST(SUM(day_amount) - arg_min(day_amount, day) AS DOUBLE) / (COUNT(*) - 1)
            ELSE 0 END AS monetary_value,
       CAST(SUM(day_amount) AS DOUBLE) AS total_spend,
       SUM(n) AS order_count
FROM days GROUP BY member_id
"""


FULL_SQL = """
WITH base AS (
    SELECT member_id, ordered_at, CAST(ordered_at AS DATE) AS day, amount, status, channel
    FROM read_parquet('{path}')
    WHERE member_id IS NOT NULL AND CAST(ordered_at AS DATE) <= DATE '{as_of}'
), days AS (
    SELECT member_id, day, SUM(amount) AS day_amount, COUNT(*) AS n,
           MIN(ordered_at) AS first_at, MAX(ordered_at) AS last_at
    FROM base WHERE status = 'paid' GROUP BY 1, 2
), core AS (
    SELECT member_id, MIN(first_at) AS first_purchase_at, MAX(last_at) AS last_purchase_at,
           COUNT(*) AS purchase_days, COUNT(*) - 1 AS frequency,
           CAST(date_diff('day', MIN(day), MAX(day)) AS DOUBLE) AS recency,
           CAST(date_diff('day', MIN(day), DATE '{as_of}') AS DOUBLE) AS T,
           CASE WHEN COUNT(*) > 1
                THEN CAST(SUM(day_amount) - arg_min(day_amount, day) AS DOUBLE) / (COUNT(*) - 1)
                ELSE 0 END AS monetary_value,
           CAST(SUM(day_amount) AS DOUBLE) AS total_spend, SUM(n) AS order_count,
           CAST(SUM(day_amount) AS DOUBLE) / SUM(n) AS aov,
           date_diff('day', MAX(day), DATE '{as_of}') AS days_since_last
    FROM days GROUP BY member_id
), refunded AS (
    SELECT member_id, CAST(SUM(abs(amount)) AS DOUBLE) AS refunded_amount
    FROM base WHERE status = 'refunded' GROUP BY 1
), channels AS (
    SELECT member_id, channel FROM (
        SELECT member_id, channel, row_number() OVER (
            PARTITION BY member_id ORDER BY COUNT(*) DESC, channel) AS rn
        FROM base WHERE status = 'paid' AND channel IS NOT NULL GROUP BY 1, 2)
    WHERE rn = 1
)
SELECT core.*, coalesce(refunded_amount, 0) AS refunded_amount,
       CASE WHEN coalesce(refunded_amount, 0) = 0 THEN 0
            WHEN total_spend > 0 THEN refunded_amount / total_spend END AS refund_share,
       NULL AS favourite_category, channels.channel AS favourite_channel
FROM core LEFT JOIN refunded USING (member_id) LEFT JOIN channels USING (member_id)
"""


def _interleaved(fns: dict, repeat: int) -> dict[str, tuple[float, float, object]]:
    """Median wall and CPU seconds of each contender over ``repeat`` runs, interleaved (a, b,
    c, a, b, c, ...) so that load from other processes on the shared machine hits every
    contender alike; CPU time is the process's (DuckDB's threads included)."""
    walls = {name: [] for name in fns}
    cpus = {name: [] for name in fns}
    results = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            start, cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.process_time() - cpu)
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name]), results[name])
        for name in fns
    }


def _run_size(label: str, path: Path, as_of: str, args) -> dict:
    import duckdb
    import ibis

    from memberlens.features import rfm_summary

    con = ibis.duckdb.connect()
    orders = con.read_parquet(path, table_name="orders")
    n_orders = orders.count().execute()
    raw = duckdb.connect()
    timed = _interleaved(
        {
            "ours": lambda: con.to_pyarrow(rfm_summary(orders, as_of=as_of)),
            "fav": lambda: con.to_pyarrow(rfm_summary(orders, as_of=as_of, favourites=True)),
            "core": lambda: raw.sql(CORE_SQL.format(path=path, as_of=as_of)).to_arrow_table(),
            "full": lambda: raw.sql(FULL_SQL.format(path=path, as_of=as_of)).to_arrow_table(),
        },
        args.repeat,
    )
    row = {"size": label, "orders": n_orders, "members": timed["ours"][2].num_rows}
    compiles = []
    for _ in range(args.repeat):  # the fixed part of "ours": build the expression, compile SQL
        start = time.perf_counter()
        con.compile(rfm_summary(orders, as_of=as_of))
        compiles.append(time.perf_counter() - start)
    row["compile_s"] = statistics.median(compiles)
    for name, (wall, cpu, result) in timed.items():
        row[f"{name}_s"], row[f"{name}_cpu_s"] = wall, cpu
        row[f"{name}_sum_frequency"] = int(result["frequency"].to_numpy().sum())
    if n_orders <= args.lifetimes_max and Path(args.peer_python).exists():
        done = subprocess.run(
            [args.peer_python, __file__, "--peer-lifetimes", str(path), "--as-of", as_of],
            capture_output=True,
            text=True,
            timeout=args.lifetimes_timeout,
        )
        if done.returncode == 0:
            peer = json.loads(done.stdout.strip().splitlines()[-1])
            row["lifetimes_s"] = peer["seconds"]
            row["lifetimes_sum_frequency"] = int(peer["sum_frequency"])
        else:
            row["lifetimes_error"] = done.stderr.strip().splitlines()[-1][:120]
    return row


def _behaviour(path: Path) -> None:
    """Time the other member analytics (lifecycle, cohorts) on one Parquet, one run each."""
    import ibis

    from memberlens.behavior import (
        cohort_retention,
        lifecycle_counts,
        lifecycle_stages,
        stage_transitions,
    )

    con = ibis.duckdb.connect()
    orders = con.read_parquet(path, table_name="orders")
    calls = {
        "lifecycle_stages(as_of)": lambda: lifecycle_stages(orders, as_of=AS_OF),
        "lifecycle_counts(24 month ends)": lambda: lifecycle_counts(
            orders, start="2023-01-01", end=AS_OF
        ),
        "stage_transitions(24 month ends)": lambda: stage_transitions(
            orders, start="2023-01-01", end=AS_OF
        ),
        "cohort_retention(as_of)": lambda: cohort_retention(orders, as_of=AS_OF),
    }
    print(f"\n### Other member analytics on {path.name} (Ibis + DuckDB, one run each)\n")
    print("| call | seconds | rows |")
    print("| --- | ---: | ---: |")
    for name, build in calls.items():
        start = time.perf_counter()
        rows = con.to_pyarrow(build()).num_rows
        print(f"| `{name}` | {time.perf_counter() - start:.1f} | {rows:,} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lifetimes-max", type=int, default=10_000_000)
    parser.add_argument("--lifetimes-timeout", type=int, default=900)
    parser.add_argument("--peer-python", default="/work/peers-venv/bin/python")
    parser.add_argument("--peer-lifetimes")
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument(
        "--behaviour",
        action="store_true",
        help="also time lifecycle and cohort tables on the largest size",
    )
    args = parser.parse_args()
    if args.peer_lifetimes:
        _peer_lifetimes(args.peer_lifetimes, args.as_of)
        return

    rows = []
    cdnow = DATA / "rfm_cdnow.parquet"
    DATA.mkdir(parents=True, exist_ok=True)
    _write_cdnow(cdnow)
    rows.append(_run_size("CDNOW sample", cdnow, "1998-06-30", args))
    for size in (int(float(s)) for s in args.sizes.split(",") if s):
        path = DATA / f"rfm_orders_{size}.parquet"
        if not path.exists():
            _write_orders(size, path)
        rows.append(_run_size(f"{size:,} orders", path, AS_OF, args))
        print(json.dumps(rows[-1]), file=sys.stderr)

    print("## rfm_summary\n")
    print(
        f"Median of {args.repeat} interleaved runs per contender; wall seconds, and CPU "
        "seconds (process time, DuckDB's threads included) in brackets; ratios are "
        "memberlens / DuckDB SQL BTYD core.\n"
    )
    print(
        "| data | orders | members | memberlens (defaults) s | of which Ibis build + compile s | "
        "memberlens, favourites=True s | "
        "DuckDB SQL, BTYD core s | DuckDB SQL, same columns s | ratio (wall) | ratio (CPU) "
        "| ratio favourites=True (wall / CPU) | lifetimes s | Σ frequency agrees |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )
    for r in rows:
        life = r.get("lifetimes_s")
        sums = {r[f"{k}_sum_frequency"] for k in ("ours", "fav", "core", "full")}
        agree = len(sums) == 1 and (
            life is None or r["ours_sum_frequency"] == r.get("lifetimes_sum_frequency")
        )
        cells = [
            f"{r[k + '_s']:.3f} ({r[k + '_cpu_s']:.3f})" for k in ("ours", "fav", "core", "full")
        ]
        cells.insert(1, f"{r['compile_s']:.3f}")
        print(
            f"| {r['size']} | {r['orders']:,} | {r['members']:,} | "
            + " | ".join(cells)
            + f" | {r['ours_s'] / r['core_s']:.2f}x | {r['ours_cpu_s'] / r['core_cpu_s']:.2f}x"
            f" | {r['fav_s'] / r['core_s']:.2f}x / {r['fav_cpu_s'] / r['core_cpu_s']:.2f}x | "
            f"{f'{life:.2f}' if life else r.get('lifetimes_error', 'not run')} | "
            f"{'yes' if agree else 'NO'} |"
        )
    if args.behaviour and args.sizes:
        largest = max(int(float(s)) for s in args.sizes.split(",") if s)
        _behaviour(DATA / f"rfm_orders_{largest}.parquet")


if __name__ == "__main__":
    main()
