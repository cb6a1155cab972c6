"""Aggregates read from the marts that ``memberlens run`` builds (empty states before that).

Each function returns ``{"available": False, "missing": TABLE, ...}`` when its mart is absent, so
the page can say "run `memberlens run`" instead of failing.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.engine.warehouse import Warehouse
from memberlens.web.queries.members import jsonable, normalised_mart

#: tables the basket page reads, in order of preference (the first present is used)
RULE_TABLES = ("mart_rules", "mart_basket_rules", "mart_association_rules")


def missing(table: str) -> dict:
    return {"available": False, "missing": table, "hint": "run `memberlens run`"}


def _rows(expr: ir.Table) -> list[dict]:
    return jsonable(expr.to_pyarrow().to_pylist())


def segments(wh: Warehouse) -> dict:
    if not wh.has("mart_segments"):
        return missing("mart_segments")
    t = wh.table("mart_segments")
    rows = _rows(t.order_by([t.scheme, ibis.desc(t.members)]))
    schemes: dict[str, list] = {}
    for r in rows:
        schemes.setdefault(str(r["scheme"]), []).append(r)
    out = {"available": True, "schemes": schemes}
    if wh.has("mart_members"):
        m = normalised_mart(wh.table("mart_members"))
        for col in ("value_tier", "lifecycle_stage"):
            if col in m.columns:
                g = m.group_by(col).aggregate(members=m.count(),
                                              revenue=m.total_spend.sum().cast("float64")
                                              if "total_spend" in m.columns else ibis.literal(0.0))
                out[col] = _rows(g.order_by(ibis.desc("members")))
    if wh.has("mart_lifecycle_transitions"):
        t = wh.table("mart_lifecycle_transitions")
        last = t.aggregate(to=t.to_as_of.max()).to_pyarrow().to_pylist()[0]["to"]
        moves = t.filter(t.to_as_of == last) if last is not None else t.limit(0)
        out["transitions"] = _rows(moves.select("from_as_of", "to_as_of", "from_stage",
                                                "to_stage", "members"))
    return out


#: cohort column -> the mart columns that may hold it (the pipeline's names second)
_COHORT_COLUMNS = {"cohort": ("cohort", "cohort_month"), "period": ("period", "months_since"),
                   "members": ("members", "cohort_size"), "retention": ("retention",
                                                                     "retention_rate"),
                   "repurchase_rate": ("repurchase_rate",), "revenue": ("revenue",),
                   "revenue_per_member": ("revenue_per_member",)}


def cohorts(wh: Warehouse) -> dict:
    """Retention (and repurchase rate, revenue) by first-purchase cohort and period."""
    if not wh.has("mart_cohorts"):
        return missing("mart_cohorts")
    t = wh.table("mart_cohorts")
    cols = {name: next(c for c in options if c in t.columns)
            for name, options in _COHORT_COLUMNS.items()
            if any(c in t.columns for c in options)}
    out = t.select(**{name: t[c] for name, c in cols.items()})
    out = out.mutate(cohort=out.cohort.cast("string").left(7))
    return {"available": True, "rows": _rows(out.order_by(["cohort", "period"]))}


def _histogram(col: ir.NumericColumn, bins: int) -> list[dict]:
    t = col.name("x").as_table().filter(ibis._.x.notnull())
    # the top bin runs to the 99th percentile and holds everything above (CLV has a long tail)
    bounds = t.aggregate(lo=t.x.min(), hi=t.x.quantile(0.99)).to_pyarrow().to_pylist()[0]
    lo, hi = bounds["lo"], bounds["hi"]
    if lo is None:
        return []
    lo, hi = float(lo), float(hi)
    width = (hi - lo) / bins if hi > lo else 1.0
    b = ((t.x.cast("float64") - lo) / width).floor().cast("int64").clip(lower=0, upper=bins - 1)
    counts = t.mutate(b=b).group_by("b").aggregate(n=ibis._.count()).order_by("b")
    got = {int(r["b"]): int(r["n"]) for r in counts.to_pyarrow().to_pylist()}
    return [{"from": round(lo + i * width, 4), "to": round(lo + (i + 1) * width, 4),
             "members": got.get(i, 0)} for i in range(bins)]


def value(wh: Warehouse, *, bins: int = 20, top: int = 50) -> dict:
    """CLV and P(alive) distributions and the churn-risk list (valuable members likely lost)."""
    if not wh.has("mart_members"):
        return missing("mart_members")
    m = normalised_mart(wh.table("mart_members"))
    out: dict = {"available": True}
    for col in ("clv", "p_alive", "expected_purchases_90d"):
        if col in m.columns:
            out[f"{col}_histogram"] = _histogram(m[col], bins)
    if {"p_alive", "total_spend"} <= set(m.columns):
        risk = m.filter(m.p_alive < 0.5).mutate(
            value_at_risk=(m.total_spend.cast("float64") * (1 - m.p_alive)))
        keep = [c for c in ("member_id", "segment_cn", "segment_en", "value_tier",
                            "total_spend", "frequency", "days_since_last", "p_alive", "clv",
                            "value_at_risk") if c in risk.columns]
        out["churn_risk"] = _rows(risk.select(*keep).order_by(
            [ibis.desc("value_at_risk"), "member_id"]).limit(top))
    return out


def geography(wh: Warehouse) -> dict:
    """Members and revenue by province (China) and by country."""
    out: dict = {"available": False}
    if wh.has("members") and "province" in wh.table("members").columns:
        m = wh.table("members")
        o = wh.table("orders")
        paid = o.filter(o.status == "paid") if "status" in o.columns else o
        spend = paid.group_by("member_id").aggregate(revenue=paid.amount.sum().cast("float64"))
        j = m.select("member_id", "province").left_join(spend, "member_id")
        g = j.group_by("province").aggregate(members=j.count(),
                                             revenue=j.revenue.sum().fill_null(0.0))
        out["provinces"] = _rows(g.filter(g.province.notnull()).order_by(ibis.desc("members")))
        out["available"] = True
    o = wh.table("orders")
    if "country" in o.columns:
        paid = o.filter(o.status == "paid") if "status" in o.columns else o
        g = paid.group_by("country").aggregate(orders=paid.count(),
                                               members=paid.member_id.nunique(),
                                               revenue=paid.amount.sum().cast("float64"))
        out["countries"] = _rows(g.filter(g.country.notnull()).order_by(ibis.desc("revenue")))
        out["available"] = out["available"] or bool(out["countries"])
    if not out["available"]:
        out.update(missing("members"))
        out["hint"] = "load the members table (with a province column)"
    return out


def baskets(wh: Warehouse, *, min_lift: float, min_confidence: float, limit: int) -> dict:
    table = next((t for t in RULE_TABLES if wh.has(t)), None)
    if table is None:
        return missing(RULE_TABLES[0])
    r = wh.table(table)
    cond = []
    if "lift" in r.columns:
        cond.append(r.lift >= min_lift)
    if "confidence" in r.columns:
        cond.append(r.confidence >= min_confidence)
    rows = r.filter(*cond) if cond else r
    key = "lift" if "lift" in r.columns else r.columns[0]
    return {"available": True, "table": table, "total": int(rows.count().execute()),
            "rows": _rows(rows.order_by(ibis.desc(key)).limit(limit))}
