"""Dirty mode: the ``orders`` and ``members`` tables as the messy CSV exports real shops have.

``dirty/orders.csv`` is GBK-encoded with Chinese headers and Chinese status values;
``dirty/members.csv`` is UTF-8 with a byte-order mark and Chinese headers. Each file holds every
clean row (identical to the Parquet table) plus *extra* defect rows, each with exactly one defect,
drawn per block as Binomial(clean rows, rate). Ingest should quarantine each defect row under the
rule named in :data:`ORDER_RATES` / :data:`MEMBER_RATES` (rules are checked in this order, a
row gets the first it breaks) and drop duplicates (the first occurrence is always the clean row),
leaving exactly the clean table. The counts are written to ``truth/dirty.json``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.simulate import _columns as col

#: Defect rate per clean row, in the ingest's rule order (duplicates are dropped, not quarantined).
ORDER_RATES: dict[str, float] = {
    "duplicate_line": 0.01,
    "duplicate_key": 0.003,
    "missing_required": 0.002,
    "bad_number": 0.001,
    "bad_date": 0.002,
    "bad_value": 0.001,
    "date_too_old": 0.0005,
    "date_in_future": 0.0005,
    "negative_amount": 0.001,
    "unknown_member": 0.003,
}
MEMBER_RATES: dict[str, float] = {
    "duplicate_line": 0.01,
    "duplicate_key": 0.003,
    "missing_required": 0.001,
    "bad_date": 0.001,
    "date_too_old": 0.0005,
    "date_in_future": 0.0005,
}
#: Not injected by default: ingest quarantines unknown values of ``status`` only; an unknown
#: gender is kept as null. Add ``"bad_value": rate`` to MEMBER_RATES to inject them anyway.
#: canonical column -> export header (synonyms from memberlens.schema)
ORDER_HEADERS = {
    "order_id": "订单号",
    "member_id": "会员ID",
    "ordered_at": "下单时间",
    "amount": "实付金额",
    "status": "订单状态",
    "channel": "渠道",
    "store_id": "门店",
    "coupon_id": "优惠券",
    "discount": "优惠金额",
    "refund_of": "原订单号",
    "country": "国家",
}
MEMBER_HEADERS = {
    "member_id": "会员ID",
    "registered_at": "注册时间",
    "birthday": "生日",
    "gender": "性别",
    "province": "省份",
    "city": "城市",
    "channel": "注册渠道",
    "name": "姓名",
    "phone": "手机号",
    "email": "邮箱",
    "country": "国家",
}
STATUS_ZH = {"paid": "已支付", "refunded": "已退款", "cancelled": "已取消"}
GENDER_ZH = {"F": "女", "M": "男", "U": "未知"}
BAD_NUMBERS = ("12.3.4", "#VALUE!", "约100元", "abc")
BAD_DATES = ("0000-00-00 00:00:00", "2024-02-30 10:00:00", "未知", "#N/A", "2023-13-01 08:00:00")
BAD_STATUSES = ("待付款", "处理中", "异常", "unknown")
BAD_GENDERS = ("不详", "X", "?")
OLD_DATES = ("1970-01-01 08:00:00", "1900-01-01 00:00:00", "1989-12-31 23:59:59")
_TIME = "%Y-%m-%d %H:%M:%S"


def _strings(t: pa.Table) -> dict[str, pa.Array]:
    out = {}
    for name in t.column_names:
        c = t.column(name).combine_chunks()
        if pa.types.is_timestamp(c.type):
            c = pc.strftime(c.cast(pa.timestamp("s")), format=_TIME)
        elif pa.types.is_date(c.type):
            c = pc.strftime(c, format="%Y-%m-%d")
        out[name] = c.cast(pa.string())
    return out


def _mapped(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    idx = pc.index_in(values, pa.array(list(mapping)))
    return pa.array(list(mapping.values())).take(idx)


def _future(ts: pa.Array, years: int) -> pa.Array:
    year = pc.cast(
        pc.add(pc.cast(pc.utf8_slice_codeunits(ts, 0, 4), pa.int64()), years), pa.string()
    )
    return col.concat(year, pc.utf8_slice_codeunits(ts, 4, 100))


def _pick(rng: np.random.Generator, values: tuple[str, ...], k: int) -> pa.Array:
    return col.labels(values, rng.integers(0, len(values), k))


def _inject(
    rng: np.random.Generator,
    clean: dict[str, pa.Array],
    rates: dict[str, float],
    key: str,
    new_key: pa.Array,
    corrupt,
) -> tuple[pa.Table, dict[str, int]]:
    """Clean rows plus defect rows in a random order, duplicates after their original."""
    n = len(clean[key])
    base = pa.table(clean)
    parts, positions, counts = [base], [np.arange(n, dtype=float)], {}
    used = 0
    for rule, rate in rates.items():
        k = int(rng.binomial(n, rate)) if n else 0
        if rule == "duplicate_line":
            src = rng.integers(0, n, k)
        elif rule == "duplicate_key":
            src = _distinct(rng, n, k)
        else:
            src = corrupt.sources(rule, rng, k)
        k = len(src)
        counts[rule] = k
        if k == 0:
            continue
        rows = base.take(pa.array(src))
        if rule == "duplicate_line":
            pos = src + rng.uniform(0.5, n - src + 0.5)
        else:
            if rule != "duplicate_key":
                rows = rows.set_column(
                    rows.schema.get_field_index(key), key, new_key.slice(used, k)
                )
                used += k
            rows = corrupt.apply(rule, rng, rows)
            pos = (
                src + rng.uniform(0.5, n - src + 0.5)
                if rule == "duplicate_key"
                else rng.uniform(0, n, k)
            )
        parts.append(rows)
        positions.append(pos)
    out = pa.concat_tables(parts)
    order = np.argsort(np.concatenate(positions), kind="stable")
    counts["rows"] = out.num_rows
    return out.take(pa.array(order)), counts


def _distinct(rng: np.random.Generator, pool, k: int) -> np.ndarray:
    """``k`` distinct source rows (so two defect rows are never identical lines)."""
    size = pool if isinstance(pool, int) else len(pool)
    picked = rng.choice(size, size=min(k, size), replace=False)
    return picked if isinstance(pool, int) else np.asarray(pool)[picked]


def _set(rows: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return rows.set_column(rows.schema.get_field_index(name), name, values.cast(pa.string()))


class _OrderDefects:
    def __init__(self, clean: dict[str, pa.Array], unknown_members: pa.Array):
        self.clean = clean
        self.unknown = unknown_members
        self.paid = np.flatnonzero(
            pc.equal(clean["status"], STATUS_ZH["paid"]).to_numpy(zero_copy_only=False)
        )

    def sources(self, rule, rng, k):
        pool = self.paid if rule == "negative_amount" else len(self.clean["order_id"])
        return _distinct(rng, pool, k)

    def apply(self, rule, rng, rows):
        k = rows.num_rows
        null = pa.nulls(k, pa.string())
        if rule == "duplicate_key":
            amount = pc.cast(rows.column("amount"), pa.decimal128(18, 2))
            bump = col.money(rng.integers(100, 5000, k))
            sign = pc.less(amount, pa.scalar(0, pa.decimal128(18, 2)))
            return _set(
                rows, "amount", pc.if_else(sign, pc.subtract(amount, bump), pc.add(amount, bump))
            )
        if rule == "missing_required":
            which = rng.integers(0, 4, k)
            for j, name in enumerate(("order_id", "member_id", "ordered_at", "amount")):
                rows = _set(
                    rows,
                    name,
                    pc.if_else(pa.array(which == j), null, rows.column(name).combine_chunks()),
                )
            return rows
        if rule == "bad_number":
            return _set(rows, "amount", _pick(rng, BAD_NUMBERS, k))
        if rule == "bad_date":
            return _set(rows, "ordered_at", _pick(rng, BAD_DATES, k))
        if rule == "bad_value":
            return _set(rows, "status", _pick(rng, BAD_STATUSES, k))
        if rule == "date_too_old":
            return _set(rows, "ordered_at", _pick(rng, OLD_DATES, k))
        if rule == "date_in_future":
            return _set(rows, "ordered_at", _future(rows.column("ordered_at").combine_chunks(), 60))
        if rule == "negative_amount":
            return _set(
                rows, "amount", col.concat(pa.scalar("-"), rows.column("amount").combine_chunks())
            )
        if rule == "unknown_member":
            return _set(rows, "member_id", self.unknown.slice(0, k))
        raise KeyError(rule)


class _MemberDefects:
    def __init__(self, n: int):
        self.n = n

    def sources(self, rule, rng, k):
        return _distinct(rng, self.n, k)

    def apply(self, rule, rng, rows):
        k = rows.num_rows
        if rule == "duplicate_key":
            return _set(
                rows,
                "channel",
                col.concat(rows.column("channel").combine_chunks(), pa.scalar("_old")),
            )
        if rule == "missing_required":
            return _set(rows, "member_id", pa.nulls(k, pa.string()))
        if rule == "bad_date":
            return _set(rows, "registered_at", _pick(rng, BAD_DATES, k))
        if rule == "bad_value":
            return _set(rows, "gender", _pick(rng, BAD_GENDERS, k))
        if rule == "date_too_old":
            return _set(rows, "registered_at", _pick(rng, OLD_DATES, k))
        if rule == "date_in_future":
            return _set(
                rows, "registered_at", _future(rows.column("registered_at").combine_chunks(), 60)
            )
        raise KeyError(rule)


def dirty_orders(
    rng: np.random.Generator, orders: pa.Table, block: int
) -> tuple[pa.Table, dict[str, int]]:
    """The orders export of one block (Chinese headers applied) and its defect counts."""
    clean = _strings(orders)
    clean["status"] = _mapped(clean["status"], STATUS_ZH)
    n = orders.num_rows
    new_ids = col.ids("9", block * 10**7 + np.arange(n + 1), 13)
    unknown = col.ids("M", 800_000_000 + block * 10**4 + np.arange(n + 1) % 10**4, 9)
    table, counts = _inject(
        rng, clean, ORDER_RATES, "order_id", new_ids, _OrderDefects(clean, unknown)
    )
    return table.rename_columns([ORDER_HEADERS[c] for c in table.column_names]), counts


def dirty_members(
    rng: np.random.Generator, members: pa.Table, block: int
) -> tuple[pa.Table, dict[str, int]]:
    """The members export of one block (Chinese headers applied) and its defect counts."""
    # the export's columns (not id numbers, nor the CRM attributes the simulator leaves empty)
    clean = _strings(members.select([c for c in members.column_names if c in MEMBER_HEADERS]))
    clean["gender"] = _mapped(clean["gender"], GENDER_ZH)
    n = members.num_rows
    new_ids = col.ids("M", 900_000_000 + block * 10**4 + np.arange(n + 1) % 10**4, 9)
    table, counts = _inject(rng, clean, MEMBER_RATES, "member_id", new_ids, _MemberDefects(n))
    return table.rename_columns([MEMBER_HEADERS[c] for c in table.column_names]), counts
