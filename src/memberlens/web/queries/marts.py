"""Aggregates read from the marts that ``memberlens run`` builds (empty states before that).

Each function returns ``{"available": False, "missing": TABLE, ...}`` when its mart is absent, so
the page can say "run `memberlens run`" instead of failing.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from memberlens.engine.protocol import WarehouseProtocol as Warehouse
from memberlens.web.queries.members import jsonable

#: tables the basket page reads, in order of preference (the first present is used)
RULE_TABLES = ("mart_rules", "mart_basket_rules", "mart_association_rules")


def missing(table: str) -> dict:
    return {"available": False, "missing": table, "hint": "run `memberlens run`"}


def table_rows(expr: ir.Table) -> list[dict]:
    return jsonable(expr.to_pyarrow().to_pylist())


def segments(wh: Warehouse) -> dict:
    if not wh.has("mart_segments"):
        return missing("mart_segments")
    t = wh.table("mart_segments")
    rows = table_rows(t.order_by([t.scheme, ibis.desc(t.members), t.segment]))
    schemes: dict[str, list] = {}
    for r in rows:
        schemes.setdefault(str(r["scheme"]), []).append(r)
    out = {"available": True, "schemes": schemes}
    if wh.has("mart_members"):
        m = wh.table("mart_members")
        for col in ("value_tier", "lifecycle_stage"):
            if col in m.columns:
                g = m.group_by(col).aggregate(
                    members=m.count(),
                    revenue=m.total_spend.sum().cast("float64")
                    if "total_spend" in m.columns
                    else ibis.literal(0.0),
                )
                out[col] = table_rows(g.order_by([ibis.desc("members"), col]))
    if wh.has("mart_lifecycle_transitions"):
        t = wh.table("mart_lifecycle_transitions")
        last = t.aggregate(to=t.to_as_of.max()).to_pyarrow().to_pylist()[0]["to"]
        moves = t.filter(t.to_as_of == last) if last is not None else t.limit(0)
        out["transitions"] = table_rows(
            moves.select("from_as_of", "to_as_of", "from_stage", "to_stage", "members")
        )
    return out


#: cohort column -> the mart columns that may hold it (the pipeline's names second)
_COHORT_COLUMNS = {
    "cohort": ("cohort", "cohort_month"),
    "period": ("period", "months_since"),
    "members": ("members", "cohort_size"),
    "retention": ("retention", "retention_rate"),
    "repurchase_rate": ("repurchase_rate",),
    "revenue": ("revenue",),
    "revenue_per_member": ("revenue_per_member",),
}


def cohorts(wh: Warehouse) -> dict:
    """Retention (and repurchase rate, revenue) by first-purchase cohort and period."""
    if not wh.has("mart_cohorts"):
        return missing("mart_cohorts")
    t = wh.table("mart_cohorts")
    cols = {
        name: next(c for c in options if c in t.columns)
        for name, options in _COHORT_COLUMNS.items()
        if any(c in t.columns for c in options)
    }
    out = t.select(**{name: t[c] for name, c in cols.items()})
    out = out.mutate(cohort=out.cohort.cast("string").left(7))
    return {"available": True, "rows": table_rows(out.order_by(["cohort", "period"]))}


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
    if "representative" in r.columns:  # one rule per pair of product families (variants)
        cond.append(r.representative)
    rows = r.filter(*cond) if cond else r
    key = "lift" if "lift" in r.columns else r.columns[0]
    return {
        "available": True,
        "table": table,
        "total": int(rows.count().execute()),
        "rows": table_rows(rows.order_by(ibis.desc(key)).limit(limit)),
    }
