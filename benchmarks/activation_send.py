"""Benchmark: activation, the send part (``benchmarks/activation.py send ...`` runs it too).

 dry-run and send a campaign to N members (default 1,000,000) through the webhook
channel against a local HTTP receiver (a separate process that checks nothing and answers 200),
with the app state in SQLite. Reports members per second of the dry run and of the send
(planning, claiming, rendering, signing, posting, confirming and writing ``campaign_members``)
and the peak memory of the sending process.

    .venv/bin/python benchmarks/activation_send.py --members 1000000
    .venv/bin/python benchmarks/activation.py send --members 1000000   # the same
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def _project(root: Path, n: int, receiver: str, batch: int):
    import pyarrow as pa

    from memberlens.engine.layout import canonical_layout
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import Project, init_project
    from memberlens.schema import table_spec

    project = init_project(root, currency="CNY", locale="zh-CN")
    with project.file.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[channels.sms]\nkind = "webhook"\nurl = "{receiver}"\nsecret = "bench"\n'
            f'batch_size = {batch}\n\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
        )
    project = Project.load(root)
    spec = table_spec("members")
    schema = canonical_layout(spec).arrow_schema()
    ids = [f"M{i:09d}" for i in range(n)]
    data = {
        "member_id": ids,
        "name_masked": ["张*" if i % 2 else "王*" for i in range(n)],
        "city": ["上海市" if i % 3 else "广州市" for i in range(n)],
        "_load_id": ["bench"] * n,
    }
    rows = pa.table({f.name: data.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)
    with open_warehouse(project) as wh:
        wh.ensure(spec)
        with wh.transaction():
            wh.append_rows("members", rows, "bench")
    return project, ids


def bench_send(n: int, batch: int) -> dict:
    from memberlens.activation.campaigns import create_campaign
    from memberlens.activation.sends import dry_run, send
    from memberlens.activation.templates import load_template
    from memberlens.web.store import open_store

    receiver = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(receiver.stdout.readline())  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            project, ids = _project(root / "shop", n, f"http://127.0.0.1:{port}/hook", batch)
            store = open_store(f"sqlite:///{root / 'state.sqlite'}")
            campaign = create_campaign(
                store.engine, project, name="bench", audience="bench", channel="sms",
                template=load_template(None), offer="满199减30", holdout=0.1,
                campaign_id="BENCH-1",
            )  # fmt: skip
            now = dt.datetime(2026, 1, 5, 2, 0)
            t0 = time.perf_counter()
            plan = dry_run(store, project, campaign.campaign_id, now=now, members=ids)
            t1 = time.perf_counter()
            result = send(store, project, campaign.campaign_id, now=now, members=ids)
            t2 = time.perf_counter()
            store.engine.dispose()
    finally:
        receiver.terminate()
        receiver.wait(10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "members": n,
        "batch_size": batch,
        "would_send": plan.would_send,
        "sent": result.sent,
        "control": result.control,
        "dry_run_s": round(t1 - t0, 1),
        "dry_run_members_per_s": round(n / (t1 - t0)),
        "send_s": round(t2 - t1, 1),
        "send_members_per_s": round(n / (t2 - t1)),
        "sent_per_s": round(result.sent / (t2 - t1)),
        "peak_rss_mb": round(peak_mb),
    }


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(bench_send(args.members, args.batch_size), indent=2))


if __name__ == "__main__":
    main()
