"""Benchmark: what a writer's close costs in snapshot publication (memberlens.engine.snapshots).

For warehouses of growing size (orders from ``benchmarks/_data/rfm_orders_<n>.parquet``, the
largest also with the simulated 10M-order shop's events and order lines from
``benchmarks/_data/shop-10m``), times, median of ``--repeat``, wall and CPU seconds:

* ``publish``: :meth:`Snapshots.publish` (copy, fsync, rename, pointer): what every writer's
  close cost before, and still costs when the writer changed the warehouse;
* ``close, one row written``: a writer through ``open_warehouse`` that inserts one row;
* ``close, nothing written``: a writer through ``open_warehouse`` that only reads (now: the
  signature check, no copy).

    python benchmarks/snapshot_publish.py --sizes 1000000,10000000 --large

The warehouses are built once under ``benchmarks/_data/publish/`` (git-ignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "_data"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        c, w = cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def build(name: str, statements: list[str]):
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import Project, init_project

    root = DATA / "publish" / name
    if (root / "memberlens.toml").exists() and (root / ".built").exists():
        return Project.load(root)
    project = init_project(root)
    with open_warehouse(project) as wh:
        for sql in statements:
            wh.con.raw_sql(sql)
    (root / ".built").write_text("ok\n")
    return project


def measure(project, repeat: int) -> dict:
    from memberlens.engine.snapshots import Snapshots
    from memberlens.engine.warehouse import open_warehouse, writer_lock

    snapshots = Snapshots(project.warehouse)

    def publish() -> None:
        with writer_lock(project, what="benchmark"):
            snapshots.publish()

    def write_one() -> None:
        with open_warehouse(project) as wh:
            wh.con.raw_sql("CREATE OR REPLACE TABLE _bench_touch AS SELECT now() AS at")

    def read_only_writer() -> None:
        with open_warehouse(project) as wh:
            wh.con.raw_sql("SELECT count(*) FROM orders").fetchall()

    write_one()
    out = {
        "warehouse_mib": project.warehouse.stat().st_size / 2**20,
        "publish": timed(publish, repeat),
        "write_one": timed(write_one, repeat),
        "nothing": timed(read_only_writer, repeat),
    }
    before = snapshots.version()
    read_only_writer()
    out["skipped"] = snapshots.version() == before
    return out


def _cell(m: dict, key: str) -> str:
    return f"{m[key][0]:.3f} ({m[key][1]:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--large", action="store_true", help="also the 10M shop with events")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = []
    for n in (int(s) for s in args.sizes.split(",")):
        src = DATA / f"rfm_orders_{n}.parquet"
        cases.append(
            (
                f"{n:,} orders",
                build(
                    f"orders-{n}", [f"CREATE TABLE orders AS SELECT * FROM read_parquet('{src}')"]
                ),
            )
        )
    if args.large:
        shop = DATA / "shop-10m"
        cases.append(
            (
                "10M-order shop: orders, order lines, events",
                build(
                    "shop-10m",
                    [
                        f"CREATE TABLE {t} AS SELECT * FROM read_parquet('{shop / (t + '.parquet')}')"
                        for t in ("orders", "order_items", "events")
                    ],
                ),
            )
        )
    print(f"load average {os.getloadavg()}")
    print(
        "| warehouse | size (MiB) | publish s (CPU) | writer close, one table written s (CPU) "
        "| writer close, nothing written s (CPU) | nothing written: publication skipped |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for label, project in cases:
        m = measure(project, args.repeat)
        print(
            f"| {label} | {m['warehouse_mib']:,.0f} | {_cell(m, 'publish')} | {_cell(m, 'write_one')} "
            f"| {_cell(m, 'nothing')} | {'yes' if m['skipped'] else 'no'} |"
        )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
