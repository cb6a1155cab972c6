"""The simulated shop as a whole: determinism, the data contract, referential integrity
(reference: the canonical tables of memberlens.schema and the simulator's own truth files)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from memberlens.exceptions import ConfigError
from memberlens.schema import ORDER_STATUS, TABLES
from memberlens.simulate import BLOCK_MEMBERS, simulate_shop
from memberlens.simulate._columns import ARROW_TYPES


def _tables(out):
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def test_same_seed_same_tables_whatever_the_chunk_size(tmp_path):
    n = 2 * BLOCK_MEMBERS + 700  # three blocks, the last one partial
    a = simulate_shop(tmp_path / "a", members=n, seed=5, chunk_members=BLOCK_MEMBERS)
    b = simulate_shop(tmp_path / "b", members=n, seed=5, chunk_members=10 * BLOCK_MEMBERS)
    simulate_shop(tmp_path / "c", members=n, seed=6, chunk_members=BLOCK_MEMBERS)
    ta, tb, tc = _tables(tmp_path / "a"), _tables(tmp_path / "b"), _tables(tmp_path / "c")
    assert a.rows == b.rows
    for name in TABLES:
        assert ta[name].equals(tb[name]), name
    assert not ta["orders"].equals(tc["orders"])
    assert not ta["members"].equals(tc["members"])
    truth = [json.loads((tmp_path / d / "truth" / "parameters.json").read_text()) for d in "ab"]
    assert truth[0] == truth[1]


def test_same_seed_and_chunk_give_the_same_bytes(tmp_path):
    for d in ("x", "y"):
        simulate_shop(tmp_path / d, members=1500, seed=3, dirty=True)
    for name in ["orders.parquet", "events.parquet", "dirty/orders.csv", "truth/members.parquet"]:
        digests = {hashlib.sha256((tmp_path / d / name).read_bytes()).hexdigest() for d in "xy"}
        assert len(digests) == 1, name


#: contract tables the simulator leaves empty (CRM coupon exports; redeemed coupons are on orders).
NOT_SIMULATED = ("coupons", "redemptions")


def test_every_table_has_the_canonical_columns_and_types(small_shop):
    out, report = small_shop
    for name, spec in TABLES.items():
        table = pq.read_table(out / f"{name}.parquet")
        assert table.column_names == list(spec.names), name
        for f in spec.fields:
            assert table.schema.field(f.name).type == ARROW_TYPES[f.type], (name, f.name)
            if f.required:
                assert table.column(f.name).null_count == 0, (name, f.name)
        assert table.num_rows == report.rows[name]
        assert table.num_rows > 0 or name in NOT_SIMULATED, name
        if spec.key:
            keys = table.group_by(list(spec.key)).aggregate([([], "count_all")])
            assert keys.num_rows == table.num_rows, f"{name}: key {spec.key} not unique"


def test_values_follow_the_contract(small_shop):
    out, report = small_shop
    t = _tables(out)
    orders = t["orders"].to_pandas()
    assert set(orders.status) <= set(ORDER_STATUS)
    start = dt.datetime.combine(report.start, dt.time())
    end = start + dt.timedelta(days=report.days)
    for name, spec in TABLES.items():
        if spec.time_field and t[name].column(spec.time_field).null_count < t[name].num_rows:
            times = t[name].column(spec.time_field)
            assert pc.min(times).as_py() >= start and pc.max(times).as_py() < end, name
    members = t["members"].to_pandas()
    assert members.phone.str.fullmatch(r"1[3-9]\d{9}").all() and members.phone.is_unique
    email = members.email.dropna()
    assert email.str.fullmatch(r"[a-z0-9]+@[a-z0-9]+\.com").all() and email.is_unique
    assert set(members.gender) == {"F", "M", "U"}
    assert members.province.value_counts().index[0] == "广东省"


def test_order_amounts_refunds_and_lines_add_up(small_shop):
    out, _ = small_shop
    t = _tables(out)
    orders = t["orders"].to_pandas().set_index("order_id")
    paid = orders[orders.status == "paid"]
    assert (paid.amount > 0).all() and (orders[orders.status == "cancelled"].amount > 0).all()
    refunds = orders[orders.status == "refunded"]
    assert (refunds.amount < 0).all() and refunds.refund_of.notna().all()
    original = orders.loc[refunds.refund_of]
    assert (original.status == "paid").all()
    assert (original.member_id.to_numpy() == refunds.member_id.to_numpy()).all()
    assert (original.ordered_at.to_numpy() < refunds.ordered_at.to_numpy()).all()
    assert (-refunds.amount.to_numpy() <= original.amount.to_numpy()).all()
    # realistic rates: about 6 % of paid orders refunded, 4 % cancelled
    assert 0.03 < len(refunds) / len(paid) < 0.09
    assert 0.02 < (orders.status == "cancelled").sum() / len(paid) < 0.06
    items = t["order_items"].to_pandas()
    assert (items.quantity * items.unit_price == items.amount).all()
    assert (items.amount > 0).all()
    gross = items.groupby("order_id").amount.sum()
    assert set(gross.index) == set(paid.index)
    assert (gross == paid.amount + paid.discount).all()
    assert items.product_id.isin(t["products"].column("product_id").to_pylist()).all()


def test_events_and_interactions_belong_to_members(small_shop):
    out, _ = small_shop
    t = _tables(out)
    members = set(t["members"].column("member_id").to_pylist())
    events = t["events"].to_pandas()
    logged_in = events.member_id.notna()
    assert events.member_id[logged_in].isin(members).all()
    assert events.anonymous_id[~logged_in].notna().all()
    assert 0.1 < (~logged_in).mean() < 0.2
    assert set(events.event_type) == {
        "search",
        "view",
        "click",
        "favorite",
        "share",
        "cart",
        "order",
    }
    assert (events.duration_s > 0).all()
    for name in ("interactions", "campaign_members", "identities"):
        assert set(t[name].column("member_id").to_pylist()) <= members, name
    kinds = t["interactions"].to_pandas().groupby("kind").value.agg(["min", "max"])
    assert kinds.loc["review"].tolist() == [1, 5] and kinds.loc["survey"].max() <= 10
    ids = t["identities"].to_pandas()
    per_member = ids.groupby("member_id").size()
    assert per_member.min() >= 1 and (per_member >= 3).mean() > 0.3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"members": 0}, "members"),
        ({"members": 10, "days": 5}, "days"),
        ({"members": 10, "start": "2023-02-30"}, "start"),
        ({"members": 10, "start": dt.date.today().isoformat()}, "start/days"),
        ({"members": 10, "start": "1999-01-01"}, "start/days"),
    ],
)
def test_bad_settings_raise_a_config_error_naming_the_field(tmp_path, kwargs, field):
    with pytest.raises(ConfigError, match=field):
        simulate_shop(tmp_path, **kwargs)


def test_report_matches_the_files(small_shop):
    out, report = small_shop
    assert report.to_frame().set_index("table").rows.to_dict() == report.rows
    params = json.loads((out / "truth" / "parameters.json").read_text(encoding="utf-8"))
    assert params["rows"] == report.rows and params["members"] == report.members
    assert np.isfinite(report.orders_per_second)
