"""Hand-written DuckDB formulations of the member summary's aggregates, timed against the
BTYD-core GROUP BY of ``benchmarks/rfm_summary.py`` (CPU seconds of the process, all threads):
what was tried to bring ``rfm_summary`` within 1.3x (docs/benchmarks/rfm.md).

    python benchmarks/rfm_variants.py --size 10000000 --repeat 3

Every variant returns one row per buyer; the favourite-channel variants decode nothing (the
packed sums are what costs). ``orders`` is a view over ``benchmarks/_data/rfm_orders_<n>.parquet``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import duckdb

from rfm_summary import CORE_SQL

DATA = Path(__file__).resolve().parent / "_data"

#: v_sentinel (timestamps carry the days) with extra per-row columns ``{rows}`` summed or
#: maxed at both levels by ``{sums}``.
SENTINEL_WITH = """
WITH t1 AS (
  SELECT member_id, ordered_at, amount,
    CASE WHEN status = 'paid' THEN CAST(ordered_at AS DATE) ELSE DATE '0001-01-01' END AS day
    {rows}
  FROM orders
  WHERE (status = 'paid' OR status = 'refunded') AND member_id IS NOT NULL
    AND CAST(ordered_at AS DATE) <= DATE '{{as_of}}'
), t2 AS (
  SELECT member_id, day,
    SUM(CASE WHEN day > DATE '0001-01-01' THEN amount ELSE ABS(amount) END) AS amount,
    COUNT(*) AS orders, MIN(ordered_at) AS first_at, MAX(ordered_at) AS last_at {sums}
  FROM t1 GROUP BY 1, 2
), t3 AS (
  SELECT member_id,
    COUNT(*) FILTER (day > DATE '0001-01-01') AS purchase_days,
    SUM(amount) FILTER (day > DATE '0001-01-01') AS spend,
    ARG_MIN(amount, first_at) FILTER (day > DATE '0001-01-01') AS first_day_amount,
    SUM(orders) FILTER (day > DATE '0001-01-01') AS order_count,
    MIN(first_at) FILTER (day > DATE '0001-01-01') AS first_at,
    MAX(last_at) AS last_at,
    SUM(amount) FILTER (day = DATE '0001-01-01') AS refunded_dec {sums}
  FROM t2 GROUP BY 1
)
SELECT *, CAST(first_at AS DATE) AS first_day, CAST(last_at AS DATE) AS last_day
FROM t3 WHERE purchase_days > 0
"""

VARIANTS: dict[str, tuple[str, str]] = {
    "sentinel": (
        "refund rows of a member in one group (null/sentinel day) instead of a key column; the "
        "purchase days are the dates of the purchase times (since 2026-12-07 19:00; before, "
        "MIN and MAX of the day beside those of the times)",
        SENTINEL_WITH.format(rows="", sums=""),
    ),
    "nots": (
        "the kept shape, favourites=False, without the first/last purchase timestamps",
        """
WITH t1 AS (
  SELECT member_id, amount, CAST(ordered_at AS DATE) AS day, status = 'paid' AS is_paid
  FROM orders
  WHERE (status = 'paid' OR status = 'refunded') AND member_id IS NOT NULL
    AND CAST(ordered_at AS DATE) <= DATE '{as_of}'
), t2 AS (
  SELECT member_id, day, is_paid, SUM(CASE WHEN is_paid THEN amount ELSE ABS(amount) END) AS amount,
    COUNT(*) AS orders
  FROM t1 GROUP BY 1, 2, 3
), t3 AS (
  SELECT member_id,
    MIN(day) FILTER (is_paid) AS first_day,
    MAX(day) FILTER (is_paid) AS last_day,
    COUNT(*) FILTER (is_paid) AS purchase_days,
    SUM(amount) FILTER (is_paid) AS spend,
    ARG_MIN(amount, day) FILTER (is_paid) AS first_day_amount,
    SUM(orders) FILTER (is_paid) AS order_count,
    SUM(amount) FILTER (NOT is_paid) AS refunded_dec
  FROM t2 GROUP BY 1
)
SELECT * FROM t3 WHERE purchase_days > 0
""",
    ),
    "sent2_pack": (
        "v_sentinel with the channel counts packed two to a BIGINT (the kept form)",
        SENTINEL_WITH.format(
            rows=", CASE WHEN status = 'paid' THEN (CASE channel WHEN 'app' THEN 1 "
            "WHEN 'mini_program' THEN 2147483648 ELSE 0 END) ELSE 0 END AS p0, "
            "CASE WHEN status = 'paid' THEN (CASE channel WHEN 'store' THEN 1 "
            "WHEN 'web' THEN 2147483648 ELSE 0 END) ELSE 0 END AS p1",
            sums=", SUM(p0) AS p0, SUM(p1) AS p1",
        ),
    ),
    "sent2_double": (
        "v_sentinel with the channel counts packed two to a DOUBLE (26 bits each: no 128-bit sums)",
        SENTINEL_WITH.format(
            rows=", CASE WHEN status = 'paid' THEN (CASE channel WHEN 'app' THEN 1.0 "
            "WHEN 'mini_program' THEN 67108864.0 ELSE 0.0 END) ELSE 0.0 END AS p0, "
            "CASE WHEN status = 'paid' THEN (CASE channel WHEN 'store' THEN 1.0 "
            "WHEN 'web' THEN 67108864.0 ELSE 0.0 END) ELSE 0.0 END AS p1",
            sums=", SUM(p0) AS p0, SUM(p1) AS p1",
        ),
    ),
    "sent2_code": (
        "v_sentinel reading the channel and carrying one small code (MAX): the floor of any "
        "favourite channel computed in this pass",
        SENTINEL_WITH.format(
            rows=", CASE WHEN status = 'paid' THEN (CASE channel WHEN 'app' THEN 1 "
            "WHEN 'mini_program' THEN 2 WHEN 'store' THEN 3 WHEN 'web' THEN 4 ELSE 0 END) "
            "ELSE 0 END AS p0",
            sums=", MAX(p0) AS p0",
        ),
    ),
    "sent2_huge": (
        "v_sentinel with the four channel counts packed into one HUGEINT (DuckDB only)",
        SENTINEL_WITH.format(
            rows=", CASE WHEN status = 'paid' THEN (CASE channel WHEN 'app' THEN 1::HUGEINT "
            "WHEN 'mini_program' THEN 2147483648::HUGEINT "
            "WHEN 'store' THEN 4611686018427387904::HUGEINT "
            "WHEN 'web' THEN 9903520314283042199192993792::HUGEINT ELSE 0::HUGEINT END) "
            "ELSE 0::HUGEINT END AS p0",
            sums=", SUM(p0) AS p0",
        ),
    ),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", default="2024-12-30")
    args = parser.parse_args()
    path = DATA / f"rfm_orders_{args.size}.parquet"
    con = duckdb.connect()
    con.sql(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{path}')")
    queries = {"core": CORE_SQL.format(path=path, as_of=args.as_of)}
    queries |= {name: sql.format(as_of=args.as_of) for name, (_, sql) in VARIANTS.items()}
    cpu: dict[str, list[float]] = {name: [] for name in queries}
    wall: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(args.repeat):  # interleaved: load from others hits every variant alike
        for name, sql in queries.items():
            c, w = _cpu(), time.perf_counter()
            con.sql(sql).to_arrow_table()
            cpu[name].append(_cpu() - c)
            wall[name].append(time.perf_counter() - w)
    core = statistics.median(cpu["core"])
    print(f"load average {os.getloadavg()}")
    print("| variant | wall s | CPU s | CPU / core |")
    print("| --- | ---: | ---: | ---: |")
    for name in queries:
        m = statistics.median(cpu[name])
        print(f"| {name} | {statistics.median(wall[name]):.2f} | {m:.2f} | {m / core:.2f}x |")


if __name__ == "__main__":
    main()
