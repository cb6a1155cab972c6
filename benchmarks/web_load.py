"""Load test of the web API on loopback: N concurrent users on the overview and member endpoints.

    .venv/bin/python benchmarks/web_load.py --members 1000000 --users 50 --seconds 60 --index \
        [--sequential 300]

Builds (once, cached under benchmarks/_data/) a warehouse of ``--members`` members with about
four orders each and ``mart_members``, ``mart_member_history`` (four as-of dates) and
``mart_recommendations`` (ten per member) shaped as ``memberlens run`` writes them, generated in
DuckDB SQL with a fixed seed. Starts ``memberlens serve``'s app with uvicorn in a child process
on 127.0.0.1, then runs ``--users`` concurrent clients (httpx, one API token) for ``--seconds``
seconds, each looping (with an exponential think time of mean ``--think`` seconds between requests)
over: the overview for one of 12 date ranges, one page of the member list
(random page and sort), and one member's 360 view. Prints a Markdown section with p50 / p95 /
max latency and errors per endpoint (with what the errors were), the cold cost of the cached
results and, with ``--sequential N``, the server's CPU time per request measured one request at a
time (robust to a busy machine, which latency is not). Traffic goes to 127.0.0.1 only, bounded in
count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import platform
import random
import socket
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "_data"

PROVINCES = [
    "广东省",
    "浙江省",
    "江苏省",
    "北京市",
    "上海市",
    "四川省",
    "山东省",
    "湖北省",
    "重庆市",
    "河南省",
    "陕西省",
    "福建省",
    "湖南省",
    "辽宁省",
    "安徽省",
    "天津市",
]


def build(members: int, path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("SELECT setseed(0.42)")
    prov = "[" + ",".join(f"'{p}'" for p in PROVINCES) + "]"
    con.execute(f"""
        CREATE TABLE members AS SELECT
          printf('M%09d', i) AS member_id,
          TIMESTAMP '2022-01-01' + to_seconds(CAST(random() * 3 * 365 * 86400 AS BIGINT))
            AS registered_at,
          CASE WHEN random() < 0.55 THEN 'F' ELSE 'M' END AS gender,
          {prov}[1 + CAST(floor(random() * {len(PROVINCES)}) AS INT)] AS province,
          NULL::VARCHAR AS city, 'app' AS channel,
          printf('13%d****%04d', i % 10, i % 10000) AS phone_masked,
          printf('u***%d@example.com', i % 97) AS email_masked
        FROM range({members}) t(i)""")
    con.execute("""
        CREATE TABLE orders AS SELECT
          printf('O%011d', row_number() OVER ()) AS order_id, m.member_id,
          m.registered_at + to_seconds(CAST(random() * 700 * 86400 AS BIGINT)) AS ordered_at,
          CAST(round(20 + random() * 300, 2) AS DECIMAL(18, 2)) AS amount,
          CASE WHEN random() < 0.03 THEN 'refunded' ELSE 'paid' END AS status,
          'app' AS channel, 'CN' AS country
        FROM members m, range(CAST(1 + floor(random() * 7) AS INT)) r(k)""")
    con.execute("DELETE FROM orders WHERE ordered_at > TIMESTAMP '2025-12-31 23:59:59'")
    con.execute("""
        CREATE TABLE mart_members AS
        WITH s AS (
          SELECT member_id, count(*) AS order_count, count(DISTINCT ordered_at::DATE) - 1
                   AS frequency,
                 sum(amount)::DOUBLE AS total_spend, max(ordered_at) AS last_purchase_at,
                 date_diff('day', max(ordered_at)::DATE, DATE '2025-12-31') AS days_since_last
          FROM orders WHERE status = 'paid' GROUP BY member_id)
        SELECT s.*, ntile(5) OVER (ORDER BY -days_since_last) AS R,
               ntile(5) OVER (ORDER BY frequency) AS F,
               ntile(5) OVER (ORDER BY total_spend) AS M,
               exp(-days_since_last / 300.0) AS p_alive,
               exp(-days_since_last / 300.0) * (frequency + 1) / 4 AS expected_purchases_90d,
               exp(-days_since_last / 300.0) * total_spend AS clv,
               CASE WHEN total_spend > 1200 THEN 'important_value'
                    ELSE 'general_development' END AS segment_cn8,
               CASE WHEN days_since_last < 90 THEN 'champions' ELSE 'hibernating' END
                 AS segment_rfm11,
               CASE WHEN total_spend > 1500 THEN 'A' WHEN total_spend > 600 THEN 'B' ELSE 'C' END
                 AS value_tier, 'active' AS lifecycle_stage,
               m.province, m.city, m.channel AS registration_channel, m.gender,
               m.phone_masked, m.email_masked
        FROM s JOIN members m USING (member_id)""")
    con.execute(
        "CREATE TABLE _loads (load_id VARCHAR, table_name VARCHAR, source VARCHAR, "
        "finished_at TIMESTAMP)"
    )
    con.close()


INDEXES = ("orders", "members", "mart_members", "mart_member_history", "mart_recommendations")
HISTORY_DATES = ("2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31")


def add_member_extras(path: Path) -> None:
    """What Member 360 also reads, shaped as ``memberlens run`` writes it: the segment / tier /
    stage history (one row per member and as-of date, four quarter ends) and ten
    recommendations per member."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    if "mart_member_history" not in tables:
        dates = ",".join(f"DATE '{d}'" for d in HISTORY_DATES)
        con.execute(f"""
            CREATE TABLE mart_member_history AS SELECT d.as_of, 'bench' AS run_id, m.member_id,
              m.segment_cn8, m.segment_rfm11, m.value_tier,
              m.lifecycle_stage
            FROM mart_members m, unnest([{dates}]) d(as_of)""")
    if "mart_recommendations" not in tables:
        con.execute("""
            CREATE TABLE mart_recommendations AS SELECT m.member_id, r.k + 1 AS rank,
              printf('SKU%05d', (hash(m.member_id) + r.k * 7919) % 5000) AS product_id,
              printf('product %d', (hash(m.member_id) + r.k * 7919) % 5000) AS product_name,
              'category' AS category, 1.0 / (r.k + 1) AS score,
              'Bought by members like you' AS reason_en, '相似会员常买' AS reason_zh,
              'als' AS source
            FROM mart_members m, range(10) r(k)""")
    con.close()


def add_indexes(path: Path) -> None:
    """ART indexes on member_id: point look-ups (member 360) then read a few rows, not all."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    for table in INDEXES:
        con.execute(f"CREATE INDEX IF NOT EXISTS {table}_member_id ON {table}(member_id)")
    con.close()


def project_for(members: int, *, indexed: bool = False):
    import shutil

    from memberlens.project import Project, init_project

    if indexed:
        base = project_for(members)
        root = ROOT / f"web-{members}-indexed"
        wh = root / "warehouse.duckdb"
        if not wh.exists():
            if not (root / "memberlens.toml").exists():
                init_project(root, as_of=dt.date(2025, 12, 31), name="load-test")
            tmp = root / "building.duckdb"
            shutil.copyfile(base.warehouse, tmp)
            add_indexes(tmp)
            tmp.rename(wh)
        elif not _has_extras(wh):  # a warehouse built before the extras existed
            add_member_extras(wh)
            add_indexes(wh)
        return Project.load(root)
    root = ROOT / f"web-{members}"
    wh = root / "warehouse.duckdb"
    if not wh.exists():
        if not (root / "memberlens.toml").exists():
            init_project(root, as_of=dt.date(2025, 12, 31), name="load-test")
        tmp = root / "building.duckdb"
        tmp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build(members, tmp)
        add_member_extras(tmp)
        tmp.rename(wh)
        print(f"<!-- built {members:,} members in {time.perf_counter() - t0:.0f} s -->")
    elif not _has_extras(wh):
        add_member_extras(wh)
    return Project.load(root)


def _has_extras(path: Path) -> bool:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return "mart_recommendations" in {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()


def serve(root: str, db: str, port: int) -> None:
    import uvicorn

    from memberlens.project import Project
    from memberlens.web import create_app

    app = create_app(Project.load(root), database=db)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


def make_token(root: str, db: str) -> str:
    from memberlens.project import Project
    from memberlens.web import create_app
    from memberlens.web.store import add_user, issue_token

    app = create_app(Project.load(root), database=db)
    with app.state.ctx.store() as s:
        user = add_user(s, f"load{random.randrange(10**9)}", "load-test-password", "analyst")
        return issue_token(s, user, "load")[1]


async def warm_up(base: str, token: str) -> dict[str, list[float]]:
    """Fill the server's caches once (every overview range, every sort order): the first
    computation of each is reported apart, as the cold cost after a warehouse refresh."""
    import httpx

    end = dt.date(2025, 12, 31)
    cold: dict[str, list[float]] = {"overview": [], "members": []}
    async with httpx.AsyncClient(
        base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for d in (6, 29, 89, 364):
            for g in ("day", "week", "month"):
                t0 = time.perf_counter()
                await client.get(
                    "/api/overview",
                    params={
                        "start": (end - dt.timedelta(days=d)).isoformat(),
                        "end": end.isoformat(),
                        "grain": g,
                    },
                )
                cold["overview"].append((time.perf_counter() - t0) * 1000)
        for sort in ("total_spend", "clv", "days_since_last"):
            t0 = time.perf_counter()
            await client.get("/api/members", params={"sort": sort})
            cold["members"].append((time.perf_counter() - t0) * 1000)
    return cold


async def run_load(
    base: str, token: str, users: int, seconds: float, members: int, think: float
) -> dict:
    import httpx

    rng = random.Random(7)
    end = dt.date(2025, 12, 31)
    ranges = [
        ((end - dt.timedelta(days=d)).isoformat(), end.isoformat(), g)
        for d in (6, 29, 89, 364)
        for g in ("day", "week", "month")
    ]
    lat: dict[str, list[float]] = {"overview": [], "members": [], "member": []}
    errors: dict[str, int] = dict.fromkeys(lat, 0)
    codes: dict[str, int] = {}  # what the errors were (HTTP status or exception name)
    stop = time.monotonic() + seconds

    async def user(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            s, e, g = rng.choice(ranges)
            calls = [
                ("overview", "/api/overview", {"start": s, "end": e, "grain": g}),
                (
                    "members",
                    "/api/members",
                    {
                        "page": rng.randint(1, 200),
                        "sort": rng.choice(["total_spend", "clv", "days_since_last"]),
                    },
                ),
                ("member", f"/api/members/M{rng.randrange(members):09d}", {}),
            ]
            for name, path, params in calls:
                t0 = time.perf_counter()
                try:
                    r = await client.get(path, params=params)
                    ok = r.status_code == 200
                    what = f"{name} {r.status_code} {r.text[:80]}"
                except httpx.HTTPError as exc:
                    ok = False
                    what = f"{name} {type(exc).__name__}"
                if not ok:
                    codes[what] = codes.get(what, 0) + 1
                lat[name].append((time.perf_counter() - t0) * 1000)
                errors[name] += 0 if ok else 1
                if think:
                    await asyncio.sleep(rng.expovariate(1 / think))

    limits = httpx.Limits(max_connections=users)
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=limits, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await asyncio.gather(*(user(client) for _ in range(users)))
    return {"lat": lat, "errors": errors, "codes": codes}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential_cost(base: str, token: str, pid: int, n: int, members: int) -> dict:
    """Server CPU and wall time per request, one request at a time (after the warm-up): what
    a request costs the server, which a busy machine does not change as much as latency."""
    import httpx

    rng = random.Random(3)
    end = dt.date(2025, 12, 31)
    calls = {
        "overview": lambda: (
            "/api/overview",
            {
                "start": (end - dt.timedelta(days=rng.choice((6, 29, 89, 364)))).isoformat(),
                "end": end.isoformat(),
                "grain": rng.choice(("day", "week", "month")),
            },
        ),
        "members": lambda: (
            "/api/members",
            {
                "page": rng.randint(1, 200),
                "sort": rng.choice(["total_spend", "clv", "days_since_last"]),
            },
        ),
        "member": lambda: (f"/api/members/M{rng.randrange(members):09d}", {}),
    }
    out = {}
    with httpx.Client(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for name, make in calls.items():
            cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
            for _ in range(n):
                path, params = make()
                client.get(path, params=params)
            out[name] = (
                1000 * (_cpu_seconds(pid) - cpu0) / n,
                1000 * (time.perf_counter() - t0) / n,
            )
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="Mean think time (s, exponential) between a user's requests; 0 = "
        "closed loop, every user fires the next request at once.",
    )
    ap.add_argument(
        "--index",
        action="store_true",
        help="Add ART indexes on member_id to orders, members and the member marts "
        "(as `memberlens run` does).",
    )
    ap.add_argument(
        "--sequential",
        type=int,
        default=0,
        metavar="N",
        help="Also measure N requests per endpoint one at a time: server CPU and "
        "wall time per request (Linux).",
    )
    args = ap.parse_args()
    ROOT.mkdir(parents=True, exist_ok=True)
    proj = project_for(args.members, indexed=args.index)
    db = f"sqlite:///{proj.state_dir / 'load.sqlite'}"
    token = make_token(str(proj.root), db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = mp.get_context("spawn").Process(
        target=serve, args=(str(proj.root), db, port), daemon=True
    )
    server.start()
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        cold = asyncio.run(warm_up(base, token))
        seq = (
            sequential_cost(base, token, server.pid, args.sequential, args.members)
            if args.sequential
            else None
        )
        out = asyncio.run(run_load(base, token, args.users, args.seconds, args.members, args.think))
    finally:
        server.terminate()
        server.join(10)
    import duckdb

    con = duckdb.connect(str(proj.warehouse), read_only=True)
    n_orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    con.close()
    print(
        f"## Web API under load ({args.users} concurrent users, mean think time "
        f"{args.think:g} s, {args.seconds:.0f} s)\n"
    )
    print(
        f"Warehouse: {args.members:,} members, {n_orders:,} orders, mart_members"
        f"{' (ART indexes on member_id)' if args.index else ' (no indexes)'}; one uvicorn "
        f"worker; client and server on 127.0.0.1 of the same machine ({os.cpu_count()} cores, "
        f"{platform.python_version()}).\n"
    )
    print("| endpoint | requests | errors | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, values in out["lat"].items():
        if values:
            print(
                f"| {name} | {len(values)} | {out['errors'][name]} | {pct(values, 50):.0f} | "
                f"{pct(values, 95):.0f} | {max(values):.0f} |"
            )
    if out["codes"]:
        print("\nErrors: " + "; ".join(f"{k} ({n}x)" for k, n in sorted(out["codes"].items())))
    total = sum(len(v) for v in out["lat"].values())
    print(f"\nThroughput: {total / args.seconds:.1f} requests/s.\n")
    print(
        "Cold cost before the run (first computation after start or a warehouse refresh, "
        "then cached):\n"
    )
    print("| cached result | count | median ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| overview (4 ranges x 3 grains) | {len(cold['overview'])} | "
        f"{statistics.median(cold['overview']):.0f} | {max(cold['overview']):.0f} |"
    )
    print(
        f"| member-list sort order (3 sorts) | {len(cold['members'])} | "
        f"{statistics.median(cold['members']):.0f} | {max(cold['members']):.0f} |"
    )
    if seq:
        print(f"\nOne request at a time ({args.sequential} per endpoint, after the warm-up):\n")
        print("| endpoint | server CPU ms / request | wall ms / request |")
        print("| --- | ---: | ---: |")
        for name, (cpu, wall) in seq.items():
            print(f"| {name} | {cpu:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
