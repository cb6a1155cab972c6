"""CPU seconds of the recommendations step's mart function on 1 in N members of the 10M shop.

    python benchmarks/recommend_step.py 14            # fit as a first run does
    python benchmarks/recommend_step.py 14 --reuse    # fit once, then time a run that reuses
                                                      # the ALS item factors

Reads ``benchmarks/_data/shop-10m`` (``run_pipeline.py`` simulates it) with DuckDB, keeps the
members with ``hash(member_id) % N = 0`` and calls ``recommendation_mart`` with the pipeline's
defaults (hybrid, k = 10), bought-together left out. As the ``recommendations`` step does, a
fit's item factors are written to a file (a temporary folder here) and a reusing run reads them
back: both are inside the timed part. Prints one JSON line: CPU seconds (user + system, all
threads) per phase, wall seconds and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import tempfile
import time
from pathlib import Path

import ibis
import pandas as pd

SHOP = Path(__file__).parent / "_data" / "shop-10m"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from memberlens.recommend import Recommender
    from memberlens.recommend._factors import fit_settings, save_item_factors, saved_item_factors
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

    as_of = dt.date(2025, 12, 31)
    folder = Path(tempfile.mkdtemp(prefix="recommend-step-"))

    def keep(model) -> None:
        if str(model.als_decision_).startswith("ALS fitted"):
            save_item_factors(folder, model, fitted_on=as_of)

    if args.reuse:
        recommendation_mart(
            *tables, None, as_of=as_of, sink=sink, rules=pd.DataFrame(), fitted=keep
        )  # fmt: skip
        rows[0] = 0
    marks: list[tuple[str, float]] = []
    c0, t0 = cpu(), time.perf_counter()
    decision: list[str] = []

    def kept(model) -> None:
        keep(model)
        decision.append(str(model.als_decision_))
        marks.append(("recommending", cpu()))

    marks.append(("saved factors", cpu()))
    saved, _why = saved_item_factors(
        folder, fit_settings(Recommender()), as_of=as_of, retrain_days=30
    )
    recommendation_mart(
        *tables, None, as_of=as_of, sink=sink, rules=pd.DataFrame(),
        progress=lambda msg: marks.append((msg, cpu())) if msg != "recommending" else None,
        item_factors=saved, fitted=kept,
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
