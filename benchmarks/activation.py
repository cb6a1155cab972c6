"""Benchmark: activation. Audiences: size a five-clause audience and a 5-way overlap over
10 million members on DuckDB (target: a size under 1 s).

Data: a ``mart_members``-shaped table generated directly in DuckDB SQL (not through the
simulator): member id, RFM class (8 values), value tier (5), lifecycle stage (7), province (31,
2 % missing), CLV (gamma-like, 3 % missing), days since the last order (0-730), P(alive),
frequency, total spend; written into a project's warehouse under ``benchmarks/_data/``
(git-ignored) through the warehouse writer and published as ``memberlens run`` publishes marts.
``--opt-outs`` members (default 100,000) are recorded as opted out of SMS in the project's
app-state store (SQLite).

Per figure: the first (cold: a new process' first query) and the median of ``--repeat`` later
calls in wall seconds, the median CPU seconds of the process (all threads; less sensitive to a
busy machine than wall time), and the peak RSS of the process:

* ``size``: ``audience_size(project, EXAMPLE, breakdowns=False)`` with the issue's example
  (``segment_cn8 == "important_value" and clv_12m > 500 and province in ["广东省", "浙江省"] and
  days_since_last_order <= 30 and not opted_out("sms")``): parse, type-check, read the opt-outs
  from the store, one Ibis count on the published snapshot;
* ``size_breakdown``: the same with the breakdown by segment, tier and province (the page's call);
* ``duckdb_sql``: the same count as one hand-written DuckDB SQL query over the same snapshot,
  the opt-outs as a registered Arrow table (the floor: what DuckDB itself needs);
* ``overlap5``: ``audience_overlap`` of five saved audiences (one grouped count).

    .venv/bin/python benchmarks/activation.py --members 10000000
    .venv/bin/python benchmarks/activation.py --members 1000000 --repeat 3   # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
EXAMPLE = (
    'segment_cn8 == "important_value" and clv_12m > 500 and province in ["广东省", "浙江省"] '
    'and days_since_last_order <= 30 and not opted_out("sms")'
)
OVERLAP = {
    "vip": 'segment_cn8 == "important_value"',
    "big_spenders": "clv > 800",
    "south": 'province in ["广东省", "福建省", "广西壮族自治区", "海南省"]',
    "recent": "days_since_last <= 60",
    "at_risk": "p_alive < 0.3",
}
SEGMENTS = (
    "important_value",
    "important_development",
    "important_retention",
    "important_winback",
    "general_value",
    "general_development",
    "general_retention",
    "general_winback",
)
TIERS = ("high_value", "medium_value", "low_value", "potential_value", "churn_risk")
STAGES = ("new", "active", "loyal", "declining", "dormant", "churned", "won_back")
PROVINCES = (
    "广东省", "浙江省", "江苏省", "山东省", "河南省", "四川省", "湖北省", "湖南省", "河北省",
    "福建省", "上海市", "北京市", "安徽省", "辽宁省", "陕西省", "江西省", "重庆市", "广西壮族自治区",
    "天津市", "云南省", "山西省", "内蒙古自治区", "黑龙江省", "吉林省", "贵州省", "新疆维吾尔自治区",
    "甘肃省", "海南省", "宁夏回族自治区", "青海省", "西藏自治区",
)  # fmt: skip


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def mart_sql(n: int, seed: int) -> str:
    """One DuckDB query generating ``n`` mart_members-like rows (hash-based, reproducible)."""
    h = f"hash(i + {seed * 1_000_003})"
    return f"""
        SELECT
            'M' || lpad(CAST(i AS VARCHAR), 10, '0') AS member_id,
            TIMESTAMP '2025-12-31' AS as_of,
            {_list(SEGMENTS)}[1 + ({h} % 8)::INT] AS segment_cn8,
            {_list(TIERS)}[1 + (({h} >> 8) % 5)::INT] AS value_tier,
            {_list(STAGES)}[1 + (({h} >> 12) % 7)::INT] AS lifecycle_stage,
            CASE WHEN ({h} >> 16) % 50 = 0 THEN NULL
                 ELSE {_list(PROVINCES)}[1 + (({h} >> 20) % 31)::INT] END AS province,
            CASE WHEN ({h} >> 26) % 33 = 0 THEN NULL
                 ELSE round(-400 * ln(1 - ((({h} >> 30) % 100000) / 100000.0)), 2) END AS clv,
            CAST(({h} >> 40) % 731 AS BIGINT) AS days_since_last,
            ((({h} >> 44) % 1000) / 1000.0) AS p_alive,
            CAST(({h} >> 50) % 20 AS BIGINT) AS frequency,
            round(((({h} >> 36) % 500000) / 100.0), 2) AS total_spend
        FROM range({n}) t(i)
    """


def build(n: int, opt_outs: int, seed: int) -> Path:
    """A project with ``n`` members in mart_members and ``opt_outs`` SMS opt-outs (reused when
    present)."""
    from memberlens.activation.audiences import add_opt_outs, create_audience, opted_out
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import Project, init_project

    root = DATA / f"activation_{n}"
    if not (root / "memberlens.toml").exists():
        init_project(root, currency="CNY", locale="zh-CN")
    project = Project.load(root)
    done = root / ".built"
    if not done.exists():
        t0 = time.perf_counter()
        with open_warehouse(project) as wh:
            wh.con.raw_sql(f"CREATE OR REPLACE TABLE mart_members AS {mart_sql(n, seed)}")
        print(f"generated {n:,} members in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        done.write_text("ok")
    if len(opted_out(project, "sms")) < opt_outs:
        step = max(n // opt_outs, 1)
        ids = [f"M{i:010d}" for i in range(0, n, step)][:opt_outs]
        t0 = time.perf_counter()
        add_opt_outs(project, ids, "sms", source="benchmark")
        print(f"stored {len(ids):,} opt-outs in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for name, where in OVERLAP.items():
        create_audience(project, name, where, replace=True)
    return root


def _sql_count(project) -> int:
    """The floor: the same count in one DuckDB SQL query on the published snapshot."""
    import pyarrow as pa

    from memberlens.activation.audiences import opted_out
    from memberlens.engine.warehouse import open_warehouse

    ids = pa.table({"member_id": sorted(opted_out(project, "sms"))})
    with open_warehouse(project, read_only=True) as wh:
        con = wh.con.con
        con.register("sms_opt_outs", ids)
        (count,) = con.execute(
            "SELECT count(*) FROM mart_members WHERE segment_cn8 = 'important_value' "
            "AND clv > 500 AND province IN ('广东省', '浙江省') AND days_since_last <= 30 "
            "AND member_id NOT IN (SELECT member_id FROM sms_opt_outs)"
        ).fetchone()
        con.unregister("sms_opt_outs")
    return int(count)


def _timed(fn, repeat: int) -> tuple[float, float, float, object]:
    """(first call's wall seconds, median wall seconds, median CPU seconds of the process, all
    threads: DuckDB's included, result) of ``fn``."""
    t0 = time.perf_counter()
    result = fn()
    cold = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return cold, statistics.median(walls), statistics.median(cpus), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--opt-outs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from memberlens.activation.audiences import audience_overlap, audience_size
    from memberlens.project import Project

    project = Project.load(build(args.members, args.opt_outs, args.seed))
    rows = []
    cold, warm, cpu, size = _timed(
        lambda: audience_size(project, EXAMPLE, breakdowns=False), args.repeat
    )
    rows.append(("size (5 clauses)", cold, warm, cpu, f"{size.size:,} of {size.total:,}"))  # type: ignore[attr-defined]
    cold, warm, cpu, full = _timed(lambda: audience_size(project, EXAMPLE), args.repeat)
    parts = ", ".join(f"{b.column} {len(b.rows)}" for b in full.breakdowns)  # type: ignore[attr-defined]
    rows.append(("size + breakdown", cold, warm, cpu, parts))
    cold, warm, cpu, count = _timed(lambda: _sql_count(project), args.repeat)
    assert count == size.size, (count, size.size)  # type: ignore[attr-defined]
    rows.append(("DuckDB SQL, same count", cold, warm, cpu, f"{count:,}"))
    cold, warm, cpu, ov = _timed(lambda: audience_overlap(project, list(OVERLAP)), args.repeat)
    rows.append(
        (
            "overlap, 5 audiences",
            cold,
            warm,
            cpu,
            f"union {ov.union:,}; {len(ov.intersections)} intersections",  # type: ignore[attr-defined]
        )
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"### Audiences: {args.members:,} members, {args.opt_outs:,} SMS opt-outs "
        f"(median of {args.repeat}; peak RSS {peak:,.0f} MiB)\n"
    )
    load = os.getloadavg()[0]
    print(f"Load average at the end: {load:.1f} on {os.cpu_count()} cores.\n")
    print("| figure | first call (s) | median wall (s) | median CPU (s) | result |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, first, median, cpu_s, note in rows:
        print(f"| {name} | {first:.3f} | {median:.3f} | {cpu_s:.3f} | {note} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:  # the send part lives in benchmarks/activation_send.py
        from activation_send import main as send_main

        send_main(sys.argv[2:])
    else:
        main()
