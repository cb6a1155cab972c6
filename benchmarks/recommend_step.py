"""CPU seconds of the recommendations step's mart function on 1 in N members of the 10M shop.

    python benchmarks/recommend_step.py 14            # fit as a first run does
    python benchmarks/recommend_step.py 14 --reuse    # fit once, then time a run that reuses
                                                      # the ALS item factors

Reads ``benchmarks/_data/shop-10m`` (``run_pipeline.py`` simulates it) with DuckDB, keeps the
members with ``hash(member_id) % N = 0`` and calls ``recommendation_mart`` with the pipeline's
defaults (hybrid, k = 10), bought-together left out. Prints one JSON line: CPU seconds (user +
system, all threads) per phase, wall seconds and the load average.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import ibis
import pandas as pd

SHOP = Path(__file__).parent / "_data" / "shop-10m"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from memberlens.recommend._factors import item_factor_frame
    from memberlens.recommend.mart import recommendation_mart

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("one_in", type=int)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    con = ibis.duckdb.connect()
    con.raw_sql("set enable_progress_bar = false")
    con.raw_sql(
        f"create table orders as select * from read_parquet('{SHOP}/orders.parquet') "
        f"where hash(member_id) % {args.one_in} = 0"
    )
    con.raw_sql(
        f"create table order_items as select i.* from read_parquet('{SHOP}/order_items.parquet') "
        "i semi join orders o using (order_id)"
    )
    con.raw_sql(f"create table products as select * from read_parquet('{SHOP}/products.parquet')")
    tables = [con.table(n) for n in ("orders", "order_items", "products")]
    rows = [0]

    def sink(batch) -> None:
        rows[0] += batch.num_rows

    saved: dict = {}
    if args.reuse:
        recommendation_mart(
            *tables, None, as_of="2025-12-31", sink=sink, rules=pd.DataFrame(),
            fitted=lambda model: saved.update(factors=item_factor_frame(model)),
        )  # fmt: skip
        rows[0] = 0
    marks: list[tuple[str, float]] = []
    c0, t0 = cpu(), time.perf_counter()
    decision: list[str] = []
    recommendation_mart(
        *tables, None, as_of="2025-12-31", sink=sink, rules=pd.DataFrame(),
        progress=lambda msg: marks.append((msg, cpu())),
        item_factors=saved.get("factors"),
        fitted=lambda model: decision.append(str(model.als_decision_)),
    )  # fmt: skip
    marks.append(("end", cpu()))
    phases = {marks[i][0]: round(marks[i + 1][1] - marks[i][1], 1) for i in range(len(marks) - 1)}
    with open("/proc/loadavg", encoding="ascii") as load:
        loadavg = load.read().split()[0]
    out = {"one_in": args.one_in, "reuse": args.reuse, "rows": rows[0], "decision": decision}
    out |= {"cpu_s": round(cpu() - c0, 1), "wall_s": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out | {"phases_cpu_s": phases, "load": loadavg}))


if __name__ == "__main__":
    main()
