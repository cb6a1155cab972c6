"""The simulated shop answers the campaigns memberlens sends (the closed loop).

Point a webhook channel at :class:`SimulatorInbox` (a real HTTP server that checks each batch's
``X-Memberlens-Signature`` and records the members a message reached), send a campaign, then
:func:`respond` simulates the response period with the simulator's own latent parameters
(``truth/members.parquet``) and the planted uplift of :mod:`memberlens.simulate.campaigns`:

- every targeted member (treatment and control) has the potential outcomes of the simulator's
  campaigns: ``y0`` = an organic paid purchase in [start, start + days) (an alive customer buys
  with probability ``1 - exp(-lambda * days)``), ``y1 = y0 or responds``, where an alive member
  responds with probability ``uplift[segment] * strength`` (segment: active, lapsed or prospect
  by the last purchase before the start, as the simulator's campaigns define it);
- a member responds only when the message **reached** them (recorded by the inbox): a member
  of the control group, or one whose message failed, keeps ``y0``.

The new paid orders (organic and incremental) come back as an ``orders`` table to load with the
ordinary ingest path; the truth (``ate`` = mean of ``y1 - y0`` over the targeted members, what a
difference in conversion between the arms estimates) comes with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from memberlens.simulate.campaigns import SEGMENTS
from memberlens.simulate.parameters import CampaignProcess

__all__ = ["CampaignResponse", "SimulatorInbox", "respond"]


class SimulatorInbox:
    """The simulator's end of a webhook channel: a real HTTP server on 127.0.0.1 (a thread;
    use as a context manager) that accepts correctly signed batches and records who was
    reached. ``url`` goes into ``[channels.NAME] url``; ``secret`` is the channel's secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.reached: list[str] = []
        self.rejected = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not inbox.verify(self.headers.get("X-Memberlens-Signature", ""), body):
                    inbox.rejected += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                messages = json.loads(body)["messages"]
                with inbox.lock:
                    inbox.reached.extend(str(m["member_id"]) for m in messages)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="simulator-inbox", daemon=True
        )

    def verify(self, header: str, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return False
        mac = hmac.new(self.secret, parts["t"].encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(mac.hexdigest(), parts["v1"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/messages"

    def __enter__(self) -> SimulatorInbox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@dataclass(frozen=True)
class CampaignResponse:
    """The simulated response period: new paid orders and the true effect."""

    orders: pa.Table
    ate: float  # mean(y1 - y0) over the targeted members
    targeted: int
    reached: int
    responders: int  # reached members who bought because of the message
    ate_by_segment: dict[str, float] = field(default_factory=dict)


def _last_purchase(orders: pa.Table, before: dt.datetime, ids: np.ndarray) -> np.ndarray:
    """Each member's last paid order before ``before`` (NaT: none), in the order of ``ids``."""
    paid = orders.filter(
        pc.and_(pc.equal(orders["status"], "paid"), pc.less(orders["ordered_at"], before))
    )
    grouped = paid.group_by("member_id").aggregate([("ordered_at", "max")]).to_pandas()
    last = grouped.set_index("member_id")["ordered_at_max"].reindex(ids)
    return last.to_numpy(dtype="datetime64[us]")


def respond(
    sim_dir: str | Path,
    targeted: Iterable[str],
    reached: Iterable[str],
    *,
    campaign_id: str,
    starts_at: dt.datetime,
    days: int,
    strength: float = 1.0,
    seed: int = 0,
    process: CampaignProcess | None = None,
) -> CampaignResponse:
    """Simulate the response period of a campaign (see the module docstring). ``sim_dir``: the
    simulator's output folder (``truth/members.parquet`` and ``orders.parquet``); ``starts_at``:
    the campaign's start in shop time (naive), as ``campaign_members``' campaign has it."""
    cp = process or CampaignProcess()
    rng = np.random.default_rng(seed)
    sim = Path(sim_dir)
    ids = np.array(sorted(set(targeted)), dtype=object)
    got = set(reached)
    truth = pq.read_table(
        sim / "truth" / "members.parquet",
        columns=["member_id", "lambda", "customer", "first_purchase_at", "dropout_at"],
    ).to_pandas()
    truth = truth.set_index("member_id").reindex(ids)
    start = np.datetime64(starts_at, "us")
    last_at = _last_purchase(pq.read_table(sim / "orders.parquet"), starts_at, ids)
    gap_days = (start - last_at).astype("timedelta64[s]").astype(float) / 86_400
    segment = np.where(np.isnat(last_at), 2, np.where(gap_days <= cp.active_days, 0, 1))
    first = truth["first_purchase_at"].to_numpy(dtype="datetime64[us]")
    dropout = truth["dropout_at"].to_numpy(dtype="datetime64[us]")
    alive = (
        truth["customer"].fillna(False).to_numpy(dtype=bool) & (first < start) & ~(dropout <= start)
    )
    rate = truth["lambda"].fillna(0.0).to_numpy(dtype=float)
    n = len(ids)
    y0 = alive & (rng.random(n) < 1.0 - np.exp(-rate * days))
    uplift = np.array([cp.uplift[s] for s in SEGMENTS]) * strength
    would_respond = alive & (rng.random(n) < uplift[segment])
    was_reached = np.isin(ids.astype(str), np.array(sorted(got), dtype=str))
    incremental = would_respond & was_reached
    y1_minus_y0 = (would_respond & ~y0).astype(float)

    span = days * 86_400
    organic_at = rng.uniform(0, span, n)
    incremental_at = np.minimum(rng.exponential(2 * 86_400, n), span - 1)
    amount = np.round(rng.lognormal(np.log(180.0), 0.5, n), 2)
    who = np.concatenate([ids[y0], ids[incremental]])
    seconds = np.concatenate([organic_at[y0], incremental_at[incremental]]).astype("int64")
    spend = np.concatenate([amount[y0], amount[incremental] * 0.9])
    tag = hashlib.sha256(campaign_id.encode()).hexdigest()[:6].upper()
    orders = pa.table(
        {
            "order_id": [f"R{tag}{i:08d}" for i in range(len(who))],
            "member_id": pa.array(who.tolist(), pa.string()),
            "ordered_at": pa.array(start + seconds.astype("timedelta64[s]")),
            "amount": pa.array([f"{a:.2f}" for a in spend]).cast(pa.decimal128(18, 2)),
            "status": ["paid"] * len(who),
            "channel": ["app"] * len(who),
            "coupon_id": [None] * int(y0.sum()) + [campaign_id] * int(incremental.sum()),
        }
    )
    by_segment = {
        name: float(y1_minus_y0[segment == k].mean()) if np.any(segment == k) else 0.0
        for k, name in enumerate(SEGMENTS)
    }
    return CampaignResponse(
        orders=orders,
        ate=float(y1_minus_y0.mean()) if n else 0.0,
        targeted=n,
        reached=int(was_reached.sum()),
        responders=int(incremental.sum()),
        ate_by_segment=by_segment,
    )
