"""Fixtures of the audience tests: a project whose warehouse holds a ``mart_members`` of 400
seeded members (written through the warehouse writer, as ``memberlens run`` writes it), two
dates of ``mart_member_history`` and a ``members`` table loaded through the public ingest path.

The campaign tests add a small simulated shop loaded through the public ingest path (members
with clear e-mail addresses for the SMTP tests) and real receivers: an HTTP server in a thread
(:class:`Receiver`)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pytest

AS_OF = dt.date(2025, 6, 30)
EARLIER = dt.date(2025, 3, 31)
SEGMENTS = ("important_value", "important_development", "general_value", "general_retention")
TIERS = ("high_value", "medium_value", "low_value", "churn_risk")
PROVINCES = ("广东省", "浙江省", "上海市", "北京市", None)


def member_mart(n: int = 400, seed: int = 7) -> pa.Table:
    """``mart_members``-shaped rows: ids, segment, tier, stage, clv (some missing), days since
    the last order, province (some missing), refunder, last purchase time."""
    rng = np.random.default_rng(seed)
    clv = np.round(rng.gamma(1.5, 300.0, n), 2)
    clv_missing = rng.random(n) < 0.05
    days = rng.integers(0, 400, n)
    last = [
        dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=int(d), hours=int(h))
        for d, h in zip(days, rng.integers(0, 24, n))
    ]
    return pa.table(
        {
            "member_id": [f"M{i:05d}" for i in range(n)],
            "as_of": pa.array([dt.datetime.combine(AS_OF, dt.time())] * n, pa.timestamp("s")),
            "segment_cn8": [SEGMENTS[i] for i in rng.integers(0, len(SEGMENTS), n)],
            "value_tier": [TIERS[i] for i in rng.integers(0, len(TIERS), n)],
            "lifecycle_stage": [("active", "dormant")[i] for i in rng.integers(0, 2, n)],
            "clv": pa.array(np.where(clv_missing, np.nan, clv), pa.float64(), mask=clv_missing),
            "days_since_last": pa.array(days, pa.int64()),
            "frequency": pa.array(rng.integers(0, 12, n), pa.int64()),
            "province": [PROVINCES[i] for i in rng.integers(0, len(PROVINCES), n)],
            "refunder": pa.array(rng.random(n) < 0.2),
            "last_purchase_at": pa.array(last, pa.timestamp("us")),
            "phone_masked": [f"138****{i:04d}" for i in range(n)],
        }
    )


def _history(mart: pa.Table, day: dt.date, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = mart.num_rows
    return pa.table(
        {
            "as_of": pa.array([day] * n, pa.date32()),
            "run_id": ["r1"] * n,
            "member_id": mart["member_id"],
            "segment_cn8": [SEGMENTS[i] for i in rng.integers(0, len(SEGMENTS), n)],
            "segment_rfm11": ["champions"] * n,
            "value_tier": [TIERS[i] for i in rng.integers(0, len(TIERS), n)],
            "lifecycle_stage": ["active"] * n,
        }
    )


@pytest.fixture(scope="session")
def mart() -> pa.Table:
    return member_mart()


@pytest.fixture(scope="session")
def history(mart) -> pa.Table:
    return pa.concat_tables([_history(mart, EARLIER, 1), _history(mart, AS_OF, 2)])


@pytest.fixture(scope="session")
def audience_project(tmp_path_factory, mart, history):
    """The project (marts as of 2025-06-30, history of 2025-03-31 and 2025-06-30, members with
    age_band and channel through ingest). Tests that change app state use their own
    ``store``."""
    import ibis
    import pyarrow.csv as pacsv

    from memberlens.engine.warehouse import open_warehouse
    from memberlens.ingest import load
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("audiences")
    project = init_project(root / "shop", currency="CNY", locale="zh-CN")
    n = mart.num_rows
    members = pa.table(
        {
            "member_id": mart["member_id"],
            "registered_at": ["2024-01-01 10:00:00"] * n,
            "age_band": [("18-24", "25-34", "35-44")[i % 3] for i in range(n)],
            "channel": [("app", "store")[i % 2] for i in range(n)],
        }
    )
    pacsv.write_csv(members, root / "members.csv")
    load("members", root / "members.csv", project=project)
    with open_warehouse(project) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(mart))
        wh.replace("mart_member_history", ibis.memtable(history))
    return project


@pytest.fixture
def store(tmp_path):
    """A fresh app-state store (SQLite under tmp_path, migrated by Alembic)."""
    from memberlens.web.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.engine.dispose()


SHOP_MEMBERS = 1_500
SHOP_SEED = 5


@pytest.fixture(scope="session")
def sim_shop(tmp_path_factory):
    """The simulator's files of a 1,500-member shop (seed 5)."""
    from memberlens.simulate import simulate_shop

    out = tmp_path_factory.mktemp("sim")
    simulate_shop(out, members=SHOP_MEMBERS, seed=SHOP_SEED)
    return out


def _make_project(root, sim, *, emails: bool = False):
    """A project with the simulated members and orders (``emails``: each member gets a clear
    address m<N>@example.com, kept in clear by ``[privacy] keep_clear_pii``)."""
    import pyarrow.parquet as pq

    from memberlens.ingest import load
    from memberlens.project import Project, init_project

    project = init_project(root, currency="CNY", locale="zh-CN")
    text = project.file.read_text(encoding="utf-8")
    if emails:
        text = text.replace("keep_clear_pii = false", "keep_clear_pii = true")
    project.file.write_text(text, encoding="utf-8")
    project = Project.load(root)
    members = pq.read_table(sim / "members.parquet")
    if emails:
        ids = members.column("member_id").to_pylist()
        import pyarrow as pa

        members = members.drop_columns(
            [c for c in ("email",) if c in members.column_names]
        ).append_column("email", pa.array([f"{m.lower()}@example.com" for m in ids]))
    path = root / "members.parquet"
    pq.write_table(members, path)
    load("members", path, project=project)
    load("orders", sim / "orders.parquet", project=project)
    return project


@pytest.fixture(scope="session")
def base_projects(sim_shop, tmp_path_factory):
    """The loaded projects (without and with e-mail addresses), copied by ``make_project``."""
    root = tmp_path_factory.mktemp("projects")
    return {
        False: _make_project(root / "plain", sim_shop).root,
        True: _make_project(root / "mail", sim_shop, emails=True).root,
    }


@pytest.fixture
def make_project(base_projects, tmp_path):
    """``make_project(extra_toml, emails=False)``: a fresh copy of a loaded project with
    ``extra_toml`` appended to its memberlens.toml."""
    import shutil

    from memberlens.project import Project

    def make(extra: str = "", *, emails: bool = False, name: str = "shop"):
        root = tmp_path / name
        shutil.copytree(base_projects[emails], root)
        with (root / "memberlens.toml").open("a", encoding="utf-8") as fh:
            fh.write("\n" + extra)
        return Project.load(root)

    return make


class Receiver:
    """A real HTTP server in a thread that records each POST (headers, body) and answers with
    the next status of ``answers`` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[int] = []
        self.delay = 0.0  # seconds each answer waits (a slow gateway)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": body, "status": code}
                )
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="test-http-receiver", daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered(self) -> list[str]:
        """Member ids of the messages of the batches answered 2xx, in order."""
        return [
            m["member_id"]
            for r in self.requests
            if 200 <= r["status"] < 300
            for m in json.loads(r["body"])["messages"]
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
