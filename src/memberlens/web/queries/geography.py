"""Members, revenue and growth by province (China map) and by country (world map).

For a date range and the period of the same length before it (as on the overview), per province:
members registered by the end of each period (``members.registered_at``; without it, members who
had bought by then), new members registered within it, active members (a paid purchase within it)
and revenue, with the relative change; plus all members and all-time revenue. Per country (the
``country`` of paid orders, spelled however the shop stores it and read as an ISO 3166 code by
:mod:`memberlens.web.queries.countries`): orders, buying members and revenue, all time and per
period. Purchases are paid orders with a member id (:func:`memberlens.features.purchases`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.engine.protocol import WarehouseProtocol as Warehouse
from memberlens.features.purchases import purchases
from memberlens.web.queries.countries import country_code, country_info, world_names_zh
from memberlens.web.queries.members import jsonable
from memberlens.web.queries.overview import _FOREVER, Period

METRICS = ("members", "new_members", "active_members", "revenue")


def _in(day: ir.DateValue, p: Period) -> ir.BooleanValue:
    return (day >= ibis.date(p.start)) & (day <= ibis.date(p.end))


def change(cur: float | None, prev: float | None) -> float | None:
    """Relative change (cur - prev) / prev; None when there is nothing to compare with."""
    if cur is None or not prev:
        return None
    return round((cur - prev) / abs(prev), 4)


def _periods(row: dict, metrics=METRICS) -> dict:
    cur = {m: row.pop(f"c_{m}") for m in metrics}
    prev = {m: row.pop(f"p_{m}") for m in metrics}
    for m in metrics:
        if m == "revenue":
            cur[m] = round(float(cur[m] or 0), 2)
            prev[m] = round(float(prev[m] or 0), 2)
        else:
            cur[m], prev[m] = int(cur[m] or 0), int(prev[m] or 0)
    return {
        **row,
        "current": cur,
        "previous": prev,
        "change": {m: change(cur[m], prev[m]) for m in metrics},
    }


def _count_if(cond: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.ifelse(cond, 1, 0).sum()


def provinces(wh: Warehouse, period: Period) -> list[dict] | None:
    """One row per province (None without a ``members`` table with a province column)."""
    if not wh.has("members") or "province" not in wh.table("members").columns:
        return None
    prev = period.previous()
    paid = purchases(wh.table("orders"), end=_FOREVER)
    per = paid.group_by("member_id").aggregate(
        revenue=paid.amt.sum(),
        first_day=paid.day.min(),
        c_rev=paid.amt.sum(where=_in(paid.day, period)),
        p_rev=paid.amt.sum(where=_in(paid.day, prev)),
        c_days=paid.count(where=_in(paid.day, period)),
        p_days=paid.count(where=_in(paid.day, prev)),
    )
    m = wh.table("members")
    since = m.registered_at.date() if "registered_at" in m.columns else None
    j = m.select("member_id", "province", **({"since": since} if since is not None else {}))
    j = j.left_join(per, "member_id")
    if since is None:
        j = j.mutate(since=j.first_day)
    # members without a registration date count as registered all along (as on the overview)
    undated = j.since.isnull() if since is not None else ibis.literal(False)
    g = j.group_by("province").aggregate(
        members=j.count(),
        revenue=j.revenue.sum().cast("float64"),
        c_members=_count_if(undated | (j.since <= ibis.date(period.end))),
        p_members=_count_if(undated | (j.since <= ibis.date(prev.end))),
        c_new_members=_count_if(_in(j.since, period)),
        p_new_members=_count_if(_in(j.since, prev)),
        c_active_members=_count_if(j.c_days > 0),
        p_active_members=_count_if(j.p_days > 0),
        c_revenue=j.c_rev.sum().cast("float64"),
        p_revenue=j.p_rev.sum().cast("float64"),
    )
    g = g.filter(g.province.notnull()).order_by([ibis.desc("members"), "province"])
    out = []
    for row in jsonable(g.to_pyarrow().to_pylist()):
        row["revenue"] = round(float(row["revenue"] or 0), 2)
        out.append(_periods(row))
    return out


def countries(wh: Warehouse, period: Period) -> list[dict] | None:
    """One row per country of the paid orders (None without a ``country`` column)."""
    if "country" not in wh.table("orders").columns:
        return None
    prev = period.previous()
    paid = purchases(wh.table("orders"), end=_FOREVER)
    paid = paid.mutate(country=paid.country.cast("string"))  # however the column was typed
    raw = [r["country"] for r in paid.select("country").distinct().to_pyarrow().to_pylist()]
    spellings = [x for x in raw if x is not None]
    if not spellings:  # the column exists (the contract declares it) but holds nothing
        return None
    # the few distinct spellings are read as ISO codes here; the engine groups by code, so a
    # member who bought under two spellings of one country counts once
    names = ibis.memtable(
        {
            "country": [str(x) for x in spellings],
            "code": [country_code(x) or f"?{x}" for x in spellings],
        },
        schema={"country": "string", "code": "string"},
    )
    j = paid.filter(paid.country.notnull()).join(names, "country")
    g = j.group_by("code").aggregate(
        orders=j.count(),
        members=j.member_id.nunique(),
        revenue=j.amt.sum().cast("float64"),
        c_active_members=j.member_id.nunique(where=_in(j.day, period)),
        p_active_members=j.member_id.nunique(where=_in(j.day, prev)),
        c_revenue=j.amt.sum(where=_in(j.day, period)).cast("float64"),
        p_revenue=j.amt.sum(where=_in(j.day, prev)).cast("float64"),
    )
    out = []
    for row in jsonable(g.order_by([ibis.desc("revenue"), "code"]).to_pyarrow().to_pylist()):
        code = row.pop("code")
        if code.startswith("?"):  # not a country ISO 3166 knows: listed, not on the map
            info = {"iso2": None, "name_en": code[1:], "name_zh": code[1:], "map_name": None}
        else:
            info = country_info(code)
        row["revenue"] = round(float(row["revenue"] or 0), 2)
        out.append(_periods({**info, **row}, ("active_members", "revenue")))
    return out


def geography(wh: Warehouse, period: Period) -> dict:
    """The geography page: provinces and countries for ``period`` and the one before."""
    prev = period.previous()
    out: dict = {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "previous_start": prev.start.isoformat(),
        "previous_end": prev.end.isoformat(),
    }
    found_provinces = provinces(wh, period)
    found_countries = countries(wh, period)
    if found_provinces is not None:
        out["provinces"] = found_provinces
    if found_countries is not None:
        out["countries"] = found_countries
        out["world_names_zh"] = world_names_zh()
    out["available"] = bool(found_provinces) or bool(found_countries)
    if not out["available"]:
        out.update(
            {
                "missing": "members",
                "hint": "load the members table (with a province "
                "column) or orders with a country column, then `memberlens run`",
            }
        )
    return out
