"""The whole `memberlens run` on a large simulated shop: wall time and peak memory per stage.

    python benchmarks/run_pipeline.py [--members 4100000] [--out benchmarks/_data/shop-10m]
    python benchmarks/run_pipeline.py --line-export [--out benchmarks/_data/uk-export]
    python benchmarks/run_pipeline.py --daily [--again]   # + the next day's file and its run

Simulates a shop (about 2.4 orders per member: 4.1M members give about 10M orders), loads
members, products, orders and order lines through the public ingest, then runs the pipeline.
With ``--line-export`` the data is instead the real-shaped UK line-level export of
``benchmarks/line_export.py`` (about 0.5M lines, 4,000 members, 23,000 invoices), loaded as
``memberlens ingest order_items lines.csv`` does (orders derived from the lines).
Each stage runs in its own subprocess so that its peak RSS is its own. Prints a Markdown
section for docs/benchmarks.md with per-step seconds. Targets (issues 5, 13): peak memory of
`run` under 8 GiB; the run under 2 minutes at 10M orders and under 20 s on the line export.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

STAGE = """
import json, resource, sys, time
stage, shop, project = sys.argv[1], sys.argv[2], sys.argv[3]


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


t, cpu0 = time.perf_counter(), cpu_s()
info, cpu = {}, {}
load0 = open("/proc/loadavg").read().split()[0]
if stage == "simulate":
    from memberlens.simulate import simulate_shop
    r = simulate_shop(shop, members=int(sys.argv[4]), seed=11)
    info = {"orders": r.rows["orders"], "members": r.members}
elif stage == "ingest-lines":
    from memberlens.project import init_project
    from memberlens.ingest import load
    proj = init_project(project, force=True, currency="GBP", locale="en")
    rep = load("order_items", f"{shop}/lines.csv", project=proj)
    info = {"order_items": rep.rows_stored} | rep.derived
elif stage == "ingest":
    from memberlens.project import init_project
    from memberlens.ingest import load
    proj = init_project(project, force=True)
    for table in ("members", "products", "orders", "order_items"):
        rep = load(table, f"{shop}/{table}.parquet", project=proj)
        info[table] = rep.rows_stored
elif stage == "ingest-day":  # the next day's orders and lines, as a shop's daily file
    from memberlens.project import Project
    from memberlens.ingest import load
    proj = Project.load(project)
    for table in ("orders", "order_items"):
        rep = load(table, f"{shop}/{table}.day.parquet", project=proj)
        info[table] = rep.rows_stored
else:
    import memberlens.pipeline.run as pipeline_run
    from memberlens.pipeline.run import run_pipeline
    timed = pipeline_run._timed

    def cpu_timed(step, ctx):  # CPU seconds (user + system, all threads) of each step
        c = cpu_s()
        try:
            return timed(step, ctx)
        finally:
            cpu[step.name] = round(cpu_s() - c, 1)

    pipeline_run._timed = cpu_timed
    res = run_pipeline(project)
    info = {s.step: round(s.seconds, 1) for s in res.steps} | {"marts": res.marts}
    info["messages"] = {s.step: s.message for s in res.steps if s.message}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
for line in open("/proc/self/status", encoding="ascii"):
    if line.startswith("VmHWM:"):  # ru_maxrss keeps the forking parent's high-water mark
        rss = int(line.split()[1]) / 1024
load1 = open("/proc/loadavg").read().split()[0]
out = {"seconds": time.perf_counter() - t, "cpu_s": cpu_s() - cpu0, "info": info, "rss_mib": rss}
print(json.dumps(out | {"step_cpu_s": cpu, "load": f"{load0} -> {load1}"}))
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


def next_day_file(shop: Path, days: int = 1) -> dict:
    """Write ``orders.day`` / ``order_items.day``: the orders of the shop's last order day and
    their lines, moved ``days`` days later under new order ids (prefix ``D<days>-``): the same
    members buying the same baskets again, the next day (or the one after, for a second
    daily run on the same project)."""
    import duckdb

    con = duckdb.connect()
    con.sql("set enable_progress_bar = false")
    orders, items = shop / "orders.parquet", shop / "order_items.parquet"
    last = con.sql(f"select max(ordered_at)::date from '{orders}'").fetchone()[0]
    con.sql(
        f"copy (select * replace ('D{days}-' || order_id as order_id, ordered_at + interval "
        f"{days} day "
        f"as ordered_at) from '{orders}' where ordered_at::date = date '{last}') "
        f"to '{shop}/orders.day.parquet'"
    )
    con.sql(
        f"copy (select i.* replace ('D{days}-' || i.order_id as order_id, i.ordered_at + "
        f"interval {days} day as ordered_at) from '{items}' i "
        f"semi join (select order_id from '{orders}' where ordered_at::date = date '{last}') o "
        f"using (order_id)) to '{shop}/order_items.day.parquet'"
    )
    counted = con.sql(f"select count(*) from '{shop}/orders.day.parquet'").fetchone()
    return {"day": str(last + dt.timedelta(days=days)), "orders": counted[0] if counted else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4_100_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--line-export",
        action="store_true",
        help="benchmark the real-shaped UK line export (benchmarks/line_export.py) instead",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="run a second time on the same project (models saved by the first are reused)",
    )
    parser.add_argument(
        "--daily",
        action="store_true",
        help="after the first run, load a next day's orders and lines (the last day's, "
        "moved one day later under new order ids: a shop's daily file) and run again, on that "
        "day: the run a shop makes every day",
    )
    args = parser.parse_args()
    data = Path(__file__).parent / "_data"
    out = args.out or (data / ("uk-export" if args.line_export else "shop-10m"))
    results = {}
    if args.line_export and not (out / "lines.csv").exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from line_export import generate

        print("line export", generate(out / "lines.csv"), file=sys.stderr)
    elif not args.line_export and not (out / "orders.parquet").exists():
        results["simulate"] = stage("simulate", out, Path("-"), str(args.members))
        print("simulate", results["simulate"], file=sys.stderr)
    load_stage = "ingest-lines" if args.line_export else "ingest"
    if args.daily:
        if args.line_export:
            raise SystemExit("--daily is for the simulated shop")
        print("next day's file:", next_day_file(out), file=sys.stderr)
    stages = [load_stage, "run"]
    stages += ["ingest-day", "run next day"] if args.daily else []
    stages += ["run again"] if args.again else []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "shop"
        for name in stages:
            results[name] = stage(name.split()[0], out, project)
            print(name, results[name], file=sys.stderr)
    orders = results[load_stage]["info"]["orders"]
    print(f"\n### `memberlens run` on {orders:,} orders\n")
    command = "--line-export" if args.line_export else f"--members {args.members}"
    command += " --again" if args.again else ""
    command += " --daily" if args.daily else ""
    with open("/proc/loadavg", encoding="ascii") as load:
        loadavg = " ".join(load.read().split()[:3])
    print(
        f"Machine: {platform.machine()}, 2 cores, 24 GiB; Python {platform.python_version()}; "
        f"load average at the end {loadavg}. "
        f"Command: `python benchmarks/run_pipeline.py {command}`.\n"
    )
    print(
        "| stage | wall s | CPU s | peak RSS (MiB) | load (1 min, start -> end) | detail "
        "(per step: wall s / CPU s) |"
    )
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for name, r in results.items():
        steps = r.get("step_cpu_s", {})
        detail = ", ".join(
            f"{k} {v:,}"
            if isinstance(v, int)
            else f"{k} {v} / {steps[k]}"
            if k in steps
            else f"{k} {v}"
            for k, v in r["info"].items()
            if k not in ("marts", "messages")
        )
        print(
            f"| {name} | {r['seconds']:.1f} | {r.get('cpu_s', 0):.1f} | {r['rss_mib']:,.0f} | "
            f"{r.get('load', '')} | {detail} |"
        )
    for name in ("run", "run next day", "run again"):
        if name not in results:
            continue
        run = results[name]["info"]
        print(f"\n{name}: marts " + ", ".join(f"{k} {v:,}" for k, v in run["marts"].items()))
        print()
        for step, message in run.get("messages", {}).items():
            print(f"- {step}: {message}")


if __name__ == "__main__":
    main()
