"""The dashboard while the data changes: requests served in a loop from several threads while an
ingest and a ``memberlens run`` complete in other processes (``python -m memberlens``). No request
may fail, and every response must show one consistent state: the old one or the new one."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

# CDNOW 1/10 sample (Lifetimes 0.11.3 wheel): 6,919 order lines of 2,357 customers.
CDNOW_LINES, CDNOW_MEMBERS = 6919, 2357
PASSWORD = "quiet-harbour-7"


def test_requests_never_fail_while_an_ingest_and_a_run_complete(tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.pipeline.demo import export_cdnow_csv
    from memberlens.pipeline.run import run_pipeline
    from memberlens.project import init_project
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    project = init_project(tmp_path / "p", currency="USD", locale="en")
    load("orders", export_cdnow_csv(tmp_path / "o.csv"), project=project)
    run_pipeline(project)
    more = tmp_path / "more.csv"  # three orders of two new members
    more.write_text(
        "order_id,member_id,ordered_at,amount\n"
        "n1,new-1,1998-06-28,10\nn2,new-1,1998-06-29,12.5\nn3,new-2,1998-06-30,8\n"
    )
    app = create_app(project, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "a", PASSWORD, "admin")

    writing = threading.Event()
    done = threading.Event()
    seen: list[tuple] = []
    failures: list[str] = []
    during = Counter()

    def serve(worker: int) -> None:
        with TestClient(app) as client:
            assert login(client, "a", PASSWORD).status_code == 303
            for i in range(100_000):  # bounded; stops when the writers are done
                if done.is_set():
                    break
                was_writing = writing.is_set()
                path = ("/api/data/status", "/api/data/runs", "/api/members?page_size=1")[
                    (i + worker) % 3
                ]
                r = client.get(path)
                if r.status_code != 200:
                    failures.append(f"{path}: {r.status_code} {r.text[:300]}")
                    continue
                seen.append(_state(path, r.json()))
                if was_writing and writing.is_set():
                    during[worker] += 1

    threads = [threading.Thread(target=serve, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        writing.set()
        for args in (["ingest", "orders", str(more)], ["run"]):
            proc = subprocess.run(
                [sys.executable, "-m", "memberlens", *args, "-p", str(project.root)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert proc.returncode == 0, proc.stderr
        writing.clear()
    finally:
        done.set()
        for t in threads:
            t.join(timeout=600)
    assert failures[:5] == [] and not failures
    assert sorted(during) == [0, 1, 2]  # every thread was served while the writers ran
    with TestClient(app) as client:  # the next requests see the new state
        login(client, "a", PASSWORD)
        final = [
            _state(p, client.get(p).json())
            for p in ("/api/data/status", "/api/members?page_size=1")
        ]
    assert final == [("status", 2, CDNOW_LINES + 3), ("members", CDNOW_MEMBERS + 2)]
    # every response is one published state: before the ingest, after it, or after the run
    runs = {s for s in seen if s[0] == "runs"}
    assert {s for s in seen if s[0] == "status"} <= {
        ("status", 1, CDNOW_LINES),
        ("status", 2, CDNOW_LINES + 3),
    }
    assert {s for s in seen if s[0] == "members"} <= {
        ("members", CDNOW_MEMBERS),
        ("members", CDNOW_MEMBERS + 2),
    }
    # a run is visible whole or not at all: every run in the log has all its steps
    assert len({steps for _, runs_seen in runs for _run, steps in runs_seen}) == 1


def _state(path: str, body: dict) -> tuple:
    """What a response says about the warehouse state it was read from."""
    if path == "/api/data/status":
        orders = {t["table"]: t for t in body["tables"]}["orders"]
        return ("status", orders["loads"], orders["rows_stored"])
    if path == "/api/data/runs":
        steps = Counter(r["run_id"] for r in body["runs"])
        return ("runs", frozenset(steps.items()))
    return ("members", body["total"])
