"""Fixtures of the campaign tests: a small simulated shop loaded through the public ingest path
(members with clear e-mail addresses for the SMTP tests), the application-state store on SQLite
(the Alembic migrations), and real receivers: an HTTP server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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


@pytest.fixture
def store(tmp_path):
    from memberlens.web.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.engine.dispose()


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
