"""Several processes on one project: the dashboard under load while an ingest and a run write, and
the cost of publishing the read-only snapshot readers use (memberlens.engine.snapshots).

    .venv/bin/python benchmarks/concurrency.py --orders 100000 1000000 --users 4 --idle 15 \
        --out docs/benchmarks/concurrency.md

For each ``--orders`` size: a simulated shop of about that many orders (members, products, orders,
order items; ``memberlens.simulate``, seed 11), loaded with ``memberlens.ingest.load`` and
refreshed with ``run_pipeline``; then the publish
(copy, fsync, rename, pointer) is timed three times under the writer lock, after the load and after
the run (sizes above ``--run-max``: after the load only), with the snapshot's size. At the first size, the dashboard (``memberlens serve``'s app under uvicorn in a
child process on 127.0.0.1) is loaded by ``--users`` closed-loop clients (httpx, one API token)
over the load status, a member-list page and the overview, first ``--idle`` seconds alone, then
while ``python -m memberlens ingest orders MORE`` and ``python -m memberlens run`` complete in
other processes. Reports requests per second, latency and failed requests (any status but 200)
per phase, and whether every status response showed one published state. Loopback only, bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import make_token, pct, serve


def build(root: Path, orders: int, *, run: bool = True):
    """A simulated shop (memberlens.simulate, seed 11) of about ``orders`` orders, loaded and
    refreshed; ``more.parquet``: 1,000 more orders (copies of the first ones a day later)."""
    import duckdb

    from memberlens.ingest import load
    from memberlens.pipeline.run import run_pipeline
    from memberlens.project import init_project
    from memberlens.simulate import simulate_shop

    # the simulator draws about 2.5 orders per member (docs/simulator.md)
    report = simulate_shop(root / "sim", members=max(orders * 2 // 5, 1000), seed=11)
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * REPLACE (order_id || '-b' AS order_id,
                                         ordered_at + INTERVAL 1 DAY AS ordered_at)
                        FROM '{root / "sim" / "orders.parquet"}' LIMIT 1000)
                   TO '{root / "more.parquet"}' (FORMAT parquet)""")
    con.close()
    project = init_project(root / "shop", currency="CNY", locale="zh-CN")
    t = time.perf_counter()
    for table in ("members", "products", "orders", "order_items"):
        load(table, root / "sim" / f"{table}.parquet", project=project)
    load_s = time.perf_counter() - t
    loaded = publish_cost(project)
    if not run:
        return project, report.rows["orders"], load_s, None, loaded
    t = time.perf_counter()
    run_pipeline(project)
    return project, report.rows["orders"], load_s, time.perf_counter() - t, loaded


def publish_cost(project) -> dict:
    from memberlens.engine.snapshots import Snapshots
    from memberlens.engine.warehouse import writer_lock

    snapshots = Snapshots(project.warehouse)
    seconds = []
    for _ in range(3):
        with writer_lock(project, what="benchmark"):
            t = time.perf_counter()
            snapshots.publish()
            seconds.append(time.perf_counter() - t)
    current = snapshots.current()
    assert current is not None
    return {
        "publish_s": statistics.median(seconds),
        "snapshot_mib": current.stat().st_size / 2**20,
        "warehouse_mib": project.warehouse.stat().st_size / 2**20,
    }


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "idle"
        self.by_phase: dict[str, dict] = {}
        self.states: set[tuple] = set()

    def add(self, path: str, seconds: float, ok: bool, error: str, state) -> None:
        with self.lock:
            row = self.by_phase.setdefault(
                self.phase, {"latency": [], "failed": 0, "errors": set(), "started": None}
            )
            row["latency"].append(seconds)
            if not ok:
                row["failed"] += 1
                row["errors"].add(error)
            if state is not None:
                self.states.add(state)


def client_loop(base: str, token: str, tally: Tally, stop: threading.Event, seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(1_000_000):
            if stop.is_set():
                return
            path = (
                "/api/data/status",
                f"/api/members?page={rng.randint(1, 50)}",
                "/api/overview",
            )[i % 3]
            t = time.perf_counter()
            try:
                r = client.get(path, timeout=120)
                ok, error = r.status_code == 200, f"{r.status_code}"
            except Exception as exc:
                ok, error, r = False, type(exc).__name__, None
            state = None
            if ok and r is not None and path == "/api/data/status":
                orders = {t["table"]: t for t in r.json()["tables"]}["orders"]
                state = (orders["loads"], orders["rows_stored"])
            tally.add(path, time.perf_counter() - t, ok, error, state)


def load_test(project, args) -> dict:
    db = f"sqlite:///{project.state_dir / 'bench.sqlite'}"
    token = make_token(str(project.root), db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = mp.get_context("spawn").Process(
        target=serve, args=(str(project.root), db, port), daemon=True
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    tally = Tally()
    stop = threading.Event()
    try:
        import httpx

        for _ in range(600):
            try:
                httpx.get(base + "/login", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        threads = [
            threading.Thread(target=client_loop, args=(base, token, tally, stop, n))
            for n in range(args.users)
        ]
        for t in threads:
            t.start()
        phases = {}
        t0 = time.perf_counter()
        time.sleep(args.idle)
        phases["idle"] = time.perf_counter() - t0
        writers = {}
        for phase, cmd in (
            ("ingest", ["ingest", "orders", str(project.root.parent / "more.parquet")]),
            ("run", ["run"]),
        ):
            with tally.lock:
                tally.phase = phase
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "memberlens", *cmd, "-p", str(project.root)],
                capture_output=True,
                text=True,
            )
            phases[phase] = time.perf_counter() - t0
            writers[phase] = proc.returncode
        stop.set()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.join()
    rows = {}
    for phase, seconds in phases.items():
        row = tally.by_phase.get(phase, {"latency": [], "failed": 0, "errors": set()})
        lat = row["latency"]
        rows[phase] = {
            "seconds": seconds,
            "requests": len(lat),
            "rps": len(lat) / seconds if seconds else 0.0,
            "p50_ms": 1000 * pct(lat, 50) if lat else 0.0,
            "p95_ms": 1000 * pct(lat, 95) if lat else 0.0,
            "failed": row["failed"],
            "errors": ", ".join(sorted(row["errors"])) or "-",
            "writer_exit": writers.get(phase, "-"),
        }
    return {"phases": rows, "states": sorted(tally.states)}


def machine() -> str:
    load = os.getloadavg()
    import duckdb

    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}, load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min), "
        f"{dt.date.today().isoformat()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[100_000])
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--idle", type=float, default=15.0, help="Seconds of load before writing.")
    ap.add_argument(
        "--run-max",
        type=int,
        default=10**12,
        help="Sizes above this many orders (but the first) are loaded, not run.",
    )
    ap.add_argument("--out", type=Path, help="Write the Markdown page here too.")
    args = ap.parse_args()
    lines = [
        "# Concurrency: readers during writes, and the publish cost",
        "",
        "Command:",
        "",
        "```bash",
        "PYTHONPATH=src .venv/bin/python " + " ".join(["benchmarks/concurrency.py", *sys.argv[1:]]),
        "```",
        "",
        f"Machine: {machine()}; shared with seven other engineers' jobs.",
        "",
        "## Publish cost (per committed write: an ingest, a run)",
        "",
        "| orders | state (time to write it) | warehouse (MiB) | snapshot (MiB) | publish (s) |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    load_result = None
    with tempfile.TemporaryDirectory(prefix="ml-concurrency-") as tmp:
        for n, orders in enumerate(args.orders):
            root = Path(tmp) / f"o{orders}"
            root.mkdir()
            run = n == 0 or orders <= args.run_max
            project, orders, load_s, run_s, loaded = build(root, orders, run=run)
            lines.append(
                f"| {orders:,} | after the load ({load_s:.1f} s) | {loaded['warehouse_mib']:.0f} "
                f"| {loaded['snapshot_mib']:.0f} | {loaded['publish_s']:.2f} |"
            )
            print(lines[-1], flush=True)
            if run_s is not None:
                cost = publish_cost(project)
                lines.append(
                    f"| {orders:,} | after `run` ({run_s:.1f} s) | {cost['warehouse_mib']:.0f} | "
                    f"{cost['snapshot_mib']:.0f} | {cost['publish_s']:.2f} |"
                )
                print(lines[-1], flush=True)
            if n == 0:
                load_result = load_test(project, args)
    assert load_result is not None
    lines += [
        "",
        f"## The dashboard while an ingest and a run write (~{args.orders[0]:,} orders, "
        f"{args.users} closed-loop clients)",
        "",
        "| phase | seconds | requests | req/s | p50 (ms) | p95 (ms) | failed | errors | "
        "writer exit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for phase, r in load_result["phases"].items():
        lines.append(
            f"| {phase} | {r['seconds']:.1f} | {r['requests']:,} | {r['rps']:.1f} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['failed']} | {r['errors']} | "
            f"{r['writer_exit']} |"
        )
    lines += [
        "",
        "States seen by `/api/data/status` (loads of orders, rows stored): "
        + ", ".join(f"({a}, {b:,})" for a, b in load_result["states"])
        + " (each one published state: before or after the ingest).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
