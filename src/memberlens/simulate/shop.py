"""Simulate a whole shop: members in fixed blocks, tables streamed to Parquet chunk by chunk.

Every block of :data:`BLOCK_MEMBERS` members draws from its own random streams
(``SeedSequence(seed, spawn_key=(1, block, stream))``), so the tables are identical for a seed
whatever ``chunk_members`` is; ``chunk_members`` only sets how many members are buffered
before a write (memory and Parquet row-group size).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.exceptions import ConfigError
from memberlens.schema import TABLES
from memberlens.simulate import _columns as col
from memberlens.simulate import dirty as dirty_mod
from memberlens.simulate.baskets import order_items_table, order_lines, replenishment_products
from memberlens.simulate.behaviour import events_table
from memberlens.simulate.calendar import HOUR_PROFILE, RetailCalendar, retail_calendar
from memberlens.simulate.campaigns import assign_campaigns, campaign_plan, effects_table
from memberlens.simulate.catalogue import (
    CATEGORY_NAMES,
    CATEGORY_SHARES,
    build_catalogue,
    pairs_table,
    replenishment_table,
)
from memberlens.simulate.interactions import interactions_table
from memberlens.simulate.members import MemberBlock, draw_members, identities_table, members_table
from memberlens.simulate.parameters import ShopParameters
from memberlens.simulate.purchases import PurchaseTimes, order_rows, orders_table, organic_purchases
from memberlens.simulate.writer import CsvSink, ParquetSink

BLOCK_MEMBERS = 5_000
DEFAULT_START = "2023-01-01"
DEFAULT_DAYS = 1096
N_PRODUCTS = 1500


@dataclass(frozen=True)
class SimulationReport:
    """What :func:`simulate_shop` wrote."""

    out_dir: Path
    members: int
    seed: int
    start: dt.date
    days: int
    rows: dict[str, int]
    dirty: dict[str, dict[str, int]] | None = None
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def orders_per_second(self) -> float:
        return self.rows.get("orders", 0) / self.seconds if self.seconds else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out_dir"], d["start"] = str(self.out_dir), self.start.isoformat()
        return d

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"table": list(self.rows), "rows": list(self.rows.values())})


def _validate(members: int, start: str | dt.date, days: int, chunk_members: int) -> dt.date:
    if isinstance(members, bool) or int(members) < 1:
        raise ConfigError(
            f"members: must be a positive integer, found {members!r}; pass e.g. --members 10000"
        )
    if int(days) < 30:
        raise ConfigError(
            f"days: the period must be at least 30 days, found {days!r}; pass e.g. --days 730"
        )
    if int(chunk_members) < 1:
        raise ConfigError(f"chunk_members: must be positive, found {chunk_members!r}")
    try:
        d = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    except ValueError:
        raise ConfigError(f"start: expected a date like 2023-01-01, found {start!r}") from None
    end = d + dt.timedelta(days=int(days))
    if end > dt.date.today():
        raise ConfigError(
            f"start/days: the period ends {end}, after today; ingest would "
            "quarantine its rows as date_in_future. Choose an earlier --start or "
            "fewer --days"
        )
    return d


def _latent_table(m: MemberBlock, pt: PurchaseTimes, repl: np.ndarray, cat, cal) -> pa.Table:
    valid_first = pt.customer
    return pa.table(
        {
            "member_id": m.member_id,
            "lambda": m.lam,
            "p": m.p,
            "nu": m.nu,
            "buyer": m.buyer,
            "customer": pt.customer,
            "first_purchase_at": col.timestamps(cal.start, np.nan_to_num(pt.first), valid_first),
            "frequency": pt.repeats.astype(np.int64),
            "recency_retail_days": pt.recency_retail,
            "T_retail_days": pt.T_retail,
            "dropped_out": pt.dropped,
            "dropout_at": col.timestamps(cal.start, np.nan_to_num(pt.dropout), pt.dropped),
            "engagement": m.engagement,
            "satisfaction": m.satisfaction,
            "p_click": m.funnel[:, 0],
            "p_cart": m.funnel[:, 1],
            "p_order": m.funnel[:, 2],
            "replenishment_product_id": pc.if_else(
                pa.array(repl >= 0),
                cat.product_ids(np.maximum(repl, 0)),
                pa.scalar(None, pa.string()),
            ),
        }
    )


def _block(
    seed: int,
    b: int,
    members: int,
    cal: RetailCalendar,
    cat,
    plan,
    params: ShopParameters,
    dirty: bool,
) -> dict:
    rng = [
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, b, k))) for k in range(10)
    ]
    number = np.arange(b * BLOCK_MEMBERS, min((b + 1) * BLOCK_MEMBERS, members)) + 1
    m = draw_members(rng[0], number, cal, params)
    out: dict[str, pa.Table] = {"members": members_table(rng[1], m, cal)}
    out["identities"] = identities_table(rng[2], m, out["members"])
    pt = organic_purchases(rng[3], m, cal, params)
    cd = assign_campaigns(rng[4], m, pt, plan, cal, params)
    owner = np.concatenate([pt.owner, cd.owner])
    when = np.concatenate([pt.time, cd.time])
    campaign = np.concatenate([np.full(len(pt.owner), -1), cd.campaign])
    s = np.lexsort((when, owner))
    owner, when, campaign = owner[s], when[s], campaign[s]
    coupon = col.concat(
        pa.scalar("CPN-"), col.labels(plan.campaign_id or ("",), np.maximum(campaign, 0))
    )
    o = order_rows(rng[5], m, owner, when, campaign, coupon, cal, params)
    out["orders"] = orders_table(o, m, cal)
    paid = np.flatnonzero(o.paid)
    repl = replenishment_products(rng[6], m, cat, params)
    lines = order_lines(
        rng[6],
        m,
        cat,
        o.owner[paid],
        o.time[paid],
        o.cents[paid] + o.discount[paid],
        repl,
        pt.first,
        params,
    )
    out["order_items"] = order_items_table(lines, o.order_id.take(pa.array(paid)), cat)
    out["events"] = events_table(
        rng[7], m, pt, cat, o.owner[paid], o.time[paid], lines, cal, params
    )
    out["interactions"] = interactions_table(rng[8], m, pt, o, cal, params)
    out["campaign_members"] = cd.members
    out["truth/members"] = _latent_table(m, pt, repl, cat, cal)
    prefs = {"member_id": m.member_id}
    prefs.update({c: m.preferences[:, i] for i, c in enumerate(CATEGORY_NAMES)})
    out["truth/category_preferences"] = pa.table(prefs)
    out["truth/campaign_members"] = cd.truth
    result = {"tables": out, "campaign_sums": cd.sums, "dirty": {}}
    if dirty:
        out["dirty/orders"], result["dirty"]["orders"] = dirty_mod.dirty_orders(
            rng[9], out["orders"], b
        )
        out["dirty/members"], result["dirty"]["members"] = dirty_mod.dirty_members(
            rng[9], out["members"], b
        )
    return result


def simulate_shop(
    out_dir: str | Path,
    *,
    members: int,
    seed: int = 0,
    start: str | dt.date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    dirty: bool = False,
    chunk_members: int = 100_000,
    params: ShopParameters | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Simulate a shop of ``members`` members over ``days`` days from ``start`` into ``out_dir``.

    Writes ``<table>.parquet`` for every canonical table, ``truth/`` with the latent values and,
    with ``dirty=True``, ``dirty/orders.csv`` (GBK) and ``dirty/members.csv`` (UTF-8 BOM).
    ``progress`` is called with the number of members finished after each block.
    """
    t0 = time.perf_counter()
    start_date = _validate(members, start, days, chunk_members)
    params = params or ShopParameters()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not dirty:  # never leave the exports of an earlier dirty run next to clean tables
        for stale in (
            out / "truth" / "dirty.json",
            out / "dirty" / "orders.csv",
            out / "dirty" / "members.csv",
        ):
            stale.unlink(missing_ok=True)
    cal = retail_calendar(np.datetime64(start_date), int(days))
    cat = build_catalogue(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,))),
        N_PRODUCTS,
        params.baskets.copurchase_pairs,
        params.baskets.copurchase_probability,
    )
    plan = campaign_plan(cal)
    sinks: dict[str, ParquetSink | CsvSink] = {
        name: ParquetSink(out / f"{name}.parquet", col.arrow_schema(name)) for name in TABLES
    }
    for name in ("truth/members", "truth/category_preferences", "truth/campaign_members"):
        sinks[name] = ParquetSink(out / f"{name}.parquet")
    if dirty:
        sinks["dirty/orders"] = CsvSink(out / "dirty" / "orders.csv", "gbk")
        sinks["dirty/members"] = CsvSink(out / "dirty" / "members.csv", "utf-8-sig")
    sinks["products"].write(cat.table)
    sinks["campaigns"].write(plan.table(cal))
    n_blocks = -(-int(members) // BLOCK_MEMBERS)
    per_chunk = max(1, -(-int(chunk_members) // BLOCK_MEMBERS))
    sums = np.zeros((plan.size, 3, 6))
    defects: dict[str, dict[str, int]] = {}
    buffer: dict[str, list[pa.Table]] = {}
    # one writer thread: Parquet encoding and compression (which release the GIL) of chunk k
    # overlap the generation of chunk k + 1; at most two chunks are held in memory
    pool = ThreadPoolExecutor(max_workers=1)
    pending = None

    def write(chunk: dict[str, pa.Table]) -> None:
        for name, t in chunk.items():
            sinks[name].write(t)

    try:
        for b in range(n_blocks):
            res = _block(seed, b, int(members), cal, cat, plan, params, dirty)
            sums += res["campaign_sums"]
            for table, counts in res["dirty"].items():
                acc = defects.setdefault(table, {})
                for k, v in counts.items():
                    acc[k] = acc.get(k, 0) + int(v)
            for name, t in res["tables"].items():
                buffer.setdefault(name, []).append(t)
            if (b + 1) % per_chunk == 0 or b == n_blocks - 1:
                chunk = {name: pa.concat_tables(parts) for name, parts in buffer.items()}
                buffer.clear()
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, chunk)
            if progress is not None:
                progress(min((b + 1) * BLOCK_MEMBERS, int(members)) - b * BLOCK_MEMBERS)
        if pending is not None:
            pending.result()
    finally:
        pool.shutdown(wait=True)
        for sink in sinks.values():
            sink.close()
    rows = {name: sinks[name].rows for name in TABLES}
    _write_truth(
        out,
        params,
        cal,
        cat,
        plan,
        sums,
        defects if dirty else None,
        seed=seed,
        members=int(members),
        start=start_date,
        rows=rows,
    )
    files = {name: str(Path(f"{name}.parquet")) for name in TABLES}
    if dirty:
        files.update({"dirty/orders": "dirty/orders.csv", "dirty/members": "dirty/members.csv"})
    return SimulationReport(
        out_dir=out,
        members=int(members),
        seed=int(seed),
        start=start_date,
        days=int(days),
        rows=rows,
        dirty=defects if dirty else None,
        seconds=time.perf_counter() - t0,
        files=files,
    )


def _write_truth(
    out: Path,
    params: ShopParameters,
    cal: RetailCalendar,
    cat,
    plan,
    sums,
    defects,
    *,
    seed: int,
    members: int,
    start: dt.date,
    rows: dict,
) -> None:
    import pyarrow.parquet as pq

    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    info = {
        "seed": seed,
        "members": members,
        "start": start.isoformat(),
        "days": cal.days,
        "end": (start + dt.timedelta(days=cal.days)).isoformat(),
        "time_unit": "day",
        "bgnbd_time": "retail time (truth/calendar.parquet, column retail_day_start); "
        "frequency/recency/T per member in truth/members.parquet",
        "parameters": params.to_dict(),
        "category_shares_by_gender": {
            g: dict(zip(CATEGORY_NAMES, CATEGORY_SHARES[i].round(4).tolist()))
            for i, g in enumerate(("F", "M", "U"))
        },
        "hour_profile": (HOUR_PROFILE / HOUR_PROFILE.mean()).round(4).tolist(),
        "rows": rows,
    }
    (truth / "parameters.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    day = cal.start + np.arange(cal.days).astype("timedelta64[D]")
    pq.write_table(
        pa.table(
            {
                "date": pa.array(day.astype("datetime64[D]")).cast(pa.date32()),
                "day_weight": cal.day_weight,
                "retail_day_start": cal.retail_grid[::24][:-1],
            }
        ),
        truth / "calendar.parquet",
    )
    pq.write_table(pairs_table(cat), truth / "copurchase_pairs.parquet")
    pq.write_table(replenishment_table(cat), truth / "replenishment.parquet")
    pq.write_table(effects_table(plan, sums, params), truth / "campaign_effects.parquet")
    if defects is not None:
        payload = {
            **defects,
            "rates": {"orders": dirty_mod.ORDER_RATES, "members": dirty_mod.MEMBER_RATES},
            "files": {
                "orders": {"path": "dirty/orders.csv", "encoding": "gbk"},
                "members": {"path": "dirty/members.csv", "encoding": "utf-8-sig"},
            },
        }
        (truth / "dirty.json").write_text(
            json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8"
        )
