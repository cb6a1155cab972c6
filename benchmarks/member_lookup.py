"""Member look-ups on a project's published snapshot: what the dashboard's member 360 reads.

    python benchmarks/member_lookup.py PROJECT [--calls 40]

Opens the published snapshot read-only (as the dashboard does) and times, for members drawn at
random from ``mart_members``: the member 360 (profile, orders, scores), the member's
recommendations and history panels, and a list page of 50 members (``member_rows``). Prints the
indexes the snapshot holds and p50 / p95 milliseconds with CPU milliseconds per call; used to
check that marts written in member_id order without an ART index look members up as fast as
indexed ones (docs/benchmarks/run.md).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

PAGE = 50


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.marts.member360 import member_360, member_history, member_recommendations
    from memberlens.marts.members import member_rows
    from memberlens.project import Project

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    with open_warehouse(Project.load(args.project), read_only=True) as wh:
        print("indexes:", [r["index_name"] for r in wh.fetch("SELECT * FROM duckdb_indexes()")])
        sample = wh.fetch(f"SELECT member_id FROM mart_members USING SAMPLE {PAGE * 40} ROWS")
        ids = [r["member_id"] for r in sample]
        random.Random(1).shuffle(ids)
        calls: dict[str, Callable[[int], object]] = {
            "member 360": lambda i: member_360(wh, ids[i]),
            "recommendations": lambda i: member_recommendations(wh, ids[i]),
            "history": lambda i: member_history(wh, ids[i]),
            f"list page of {PAGE}": lambda i: member_rows(
                wh, ids[i * PAGE % (len(ids) - PAGE) :][:PAGE]
            ),
        }
        for label, call in calls.items():
            call(args.calls)  # warm: the first read of a table loads its blocks
            times, cpu0 = [], _cpu_s()
            for i in range(args.calls):
                t = time.perf_counter()
                call(i)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            cpu = (_cpu_s() - cpu0) / args.calls * 1000
            p95 = times[max(0, int(0.95 * len(times)) - 1)]
            print(
                f"{label:20s} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
                f"CPU {cpu:6.1f} ms/call"
            )


if __name__ == "__main__":
    main()
