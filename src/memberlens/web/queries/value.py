"""The value page: CLV and P(alive) distributions, the churn-risk list, expected next purchases and
the back-test of the purchase model (tracking plot, conditional expectations).

* Distributions and churn risk read ``mart_members`` (``memberlens run``).
* Expected next purchase: ``mart_members.next_purchase_date`` (the BG/NBD median wait of the clv
  step) counted by week, and ``mart_replenishment`` (per member and category: expected next
  purchase date and P(buying within 30 days)) summed per category, with the members most likely to
  buy soon.
* Model comparison: ``mart_model_comparison`` (the candidates the clv step fitted, and its choice).
* Back-test: :func:`memberlens.clv.checking.backtest_orders` (what ``memberlens backtest`` runs) on
  the orders, with the split of :func:`default_split` unless one is given.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import ibis
import ibis.expr.types as ir

from memberlens.engine.protocol import WarehouseProtocol as Warehouse
from memberlens.exceptions import DataError
from memberlens.web.queries.marts import missing, table_rows

#: the replenishment step scores P(buying within this many days) (next_purchases' default)
REPLENISHMENT_WINDOW_DAYS = 30
NEXT_PURCHASE_WEEKS = 13
HOLDOUT_WEEKS = 26
MIN_CALIBRATION_WEEKS = 12


def histogram(col: ir.NumericColumn, bins: int) -> list[dict]:
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
    return [
        {
            "from": round(lo + i * width, 4),
            "to": round(lo + (i + 1) * width, 4),
            "members": got.get(i, 0),
        }
        for i in range(bins)
    ]


def _as_of(m: ir.Table) -> dt.date | None:
    if "as_of" not in m.columns:
        return None
    value = m.as_of.max().execute()
    return None if value is None else value.date() if hasattr(value, "date") else value


def next_purchase_weeks(m: ir.Table, as_of: dt.date, weeks: int = NEXT_PURCHASE_WEEKS) -> dict:
    """Members by the week of their expected (median) next purchase date, next ``weeks`` weeks,
    and the same weighted by P(alive) (the members expected to still be customers)."""
    day = m.next_purchase_date.cast("date")
    week = ((day - ibis.date(as_of)).cast("int64") - 1) // 7  # days 1-7 after as-of: week 0
    m = m.mutate(week=week).filter((ibis._.week >= 0) & (ibis._.week < weeks))
    alive = m.p_alive if "p_alive" in m.columns else ibis.literal(1.0)
    g = m.group_by("week").aggregate(members=m.count(), expected=alive.sum().cast("float64"))
    got = {int(r["week"]): r for r in g.to_pyarrow().to_pylist()}
    out = []
    for w in range(weeks):
        r = got.get(w, {"members": 0, "expected": 0.0})
        out.append(
            {
                "week_start": (as_of + dt.timedelta(days=7 * w + 1)).isoformat(),
                "members": int(r["members"]),
                "expected": round(float(r["expected"] or 0), 2),
            }
        )
    return {"as_of": as_of.isoformat(), "weeks": out}


def replenishment(wh: Warehouse, as_of: dt.date | None, *, top: int) -> dict:
    """Per category: members scored, due within the window, overdue and expected buyers
    (sum of P(buy within the window)); and the member-category pairs most likely to buy."""
    r = wh.table("mart_replenishment")
    if as_of is None:
        as_of = (r.expected_next_purchase.max().execute() or dt.datetime.now()).date()
    nxt = r.expected_next_purchase.cast("date")
    due = (nxt > ibis.date(as_of)) & (
        nxt <= ibis.date(as_of + dt.timedelta(days=REPLENISHMENT_WINDOW_DAYS))
    )
    g = r.group_by("category").aggregate(
        members=r.member_id.nunique(),
        due=ibis.ifelse(due, 1, 0).sum(),
        overdue=ibis.ifelse(r.days_overdue > 0, 1, 0).sum(),
        expected_buyers=r.p_within_window.sum().cast("float64"),
        cycle_days=r.cycle_days.median().cast("float64"),
    )
    categories = table_rows(g.order_by([ibis.desc("expected_buyers"), "category"]))
    for c in categories:
        c["expected_buyers"] = round(c["expected_buyers"] or 0.0, 2)
        c["cycle_days"] = None if c["cycle_days"] is None else round(c["cycle_days"], 1)
    keep = [
        c
        for c in (
            "member_id",
            "category",
            "last_purchase",
            "cycle_days",
            "expected_next_purchase",
            "days_overdue",
            "p_within_window",
        )
        if c in r.columns
    ]
    likely = table_rows(
        r.select(*keep).order_by([ibis.desc("p_within_window"), "member_id", "category"]).limit(top)
    )
    return {
        "as_of": as_of.isoformat(),
        "window_days": REPLENISHMENT_WINDOW_DAYS,
        "categories": categories,
        "likely": likely,
    }


def value(wh: Warehouse, *, bins: int = 20, top: int = 50, member_rows: bool = True) -> dict:
    """CLV and P(alive) distributions, the churn-risk list (valuable members likely lost) and
    expected next purchases.

    ``member_rows=False`` (callers who may not see member lists): aggregates only; the churn-risk
    list becomes ``churn_risk_summary`` (members and value at risk) and the replenishment list of
    likely buyers is left out.
    """
    if not wh.has("mart_members"):
        return missing("mart_members")
    m = wh.table("mart_members")
    out: dict = {"available": True}
    for col in ("clv", "p_alive", "expected_purchases_90d"):
        if col in m.columns:
            out[f"{col}_histogram"] = histogram(m[col], bins)
    if {"p_alive", "total_spend"} <= set(m.columns):
        risk = m.filter(m.p_alive < 0.5).mutate(
            value_at_risk=(m.total_spend.cast("float64") * (1 - m.p_alive))
        )
        keep = [
            c
            for c in (
                "member_id",
                "segment_cn8",
                "segment_rfm11",
                "value_tier",
                "total_spend",
                "frequency",
                "days_since_last",
                "p_alive",
                "clv",
                "value_at_risk",
            )
            if c in risk.columns
        ]
        if member_rows:
            out["churn_risk"] = table_rows(
                risk.select(*keep).order_by([ibis.desc("value_at_risk"), "member_id"]).limit(top)
            )
        else:
            summary = risk.aggregate(
                members=risk.count(), value_at_risk=risk.value_at_risk.sum().cast("float64")
            ).to_pyarrow()
            out["churn_risk_summary"] = {
                "members": int(summary["members"][0].as_py() or 0),
                "value_at_risk": round(float(summary["value_at_risk"][0].as_py() or 0.0), 2),
            }
    as_of = _as_of(m)
    nxt: dict = {"available": False}
    if "next_purchase_date" in m.columns and as_of is not None:
        nxt.update(available=True, members=next_purchase_weeks(m, as_of))
    if wh.has("mart_replenishment"):
        rep = replenishment(wh, as_of, top=top)
        if not member_rows:
            rep.pop("likely")
        nxt.update(available=True, replenishment=rep)
    if not nxt["available"]:
        nxt.update(missing("mart_replenishment"))
    out["next_purchase"] = nxt
    return out


def model_comparison(wh: Warehouse) -> dict:
    """The purchase models the clv step fitted and the one it chose (``mart_model_comparison``,
    :func:`memberlens.clv.selection.choose_purchase_model`): per model its holdout MAE (when chosen
    by the back-test) or AIC, log-likelihood, parameters and whether the fit is degenerate."""
    if not wh.has("mart_model_comparison"):
        return missing("mart_model_comparison")
    rows = _clean(table_rows(wh.table("mart_model_comparison").order_by("model")))
    for r in rows:
        r["params"] = json.loads(r["params"]) if r.get("params") else None
    by_holdout = any(r.get("holdout_mae") is not None for r in rows)
    from memberlens.clv.selection import HOLDOUT_ERROR_WARNING, holdout_warning

    best = next((r for r in rows if r.get("chosen")), None)
    warning = holdout_warning(best["name"], best.get("holdout_total_error")) if best else None
    return {
        "available": True,
        "criterion": "holdout" if by_holdout else "aic",
        "chosen": best["model"] if best else None,
        "models": rows,
        # the chosen model misses the holdout total by more than the documented threshold
        "warning": warning,
        "warning_threshold": HOLDOUT_ERROR_WARNING,
    }


def default_split(first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """(calibration_end, holdout_end) for a back-test when none is given.

    The holdout ends on the last day (the as-of) and lasts :data:`HOLDOUT_WEEKS` weeks when the
    history before it is at least twice as long (as in Fader, Hardie & Lee 2005: 39 + 39 weeks of
    CDNOW, a year of calibration is plenty), else the last third of the history in whole weeks.
    """
    span = (last_day - first_day).days
    if span < 7 * MIN_CALIBRATION_WEEKS * 3 // 2:
        raise DataError(
            f"back-test: the orders span {span} days ({first_day} to {last_day}); "
            f"a back-test needs at least {MIN_CALIBRATION_WEEKS * 3 // 2} weeks of "
            "history; load more orders or pass calibration_end and holdout_end"
        )
    weeks = HOLDOUT_WEEKS if span >= 3 * 7 * HOLDOUT_WEEKS else max(1, span // 21)
    return last_day - dt.timedelta(days=7 * weeks), last_day


def _clean(value):
    """JSON-safe values (NaN and infinities -> None, numpy scalars -> Python)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def backtest_report(
    orders: ir.Table, *, calibration_end: dt.date, holdout_end: dt.date, model: str
) -> dict:
    """:func:`memberlens.clv.checking.backtest_orders` in weeks, as JSON for the value page."""
    from memberlens.clv.checking import backtest_orders

    fitted, report = backtest_orders(
        orders, calibration_end=calibration_end, holdout_end=holdout_end, model=model, time_unit="W"
    )
    out = report.to_dict()
    track = out["tracking"]
    origin = dt.date.fromisoformat(track["origin"])
    # the last day of each period, for the x axis (period k covers [k-1, k) weeks from origin)
    track["period_end"] = [
        (origin + dt.timedelta(days=7 * int(k) - 1)).isoformat() for k in track["periods"]["period"]
    ]
    return _clean(
        {
            "available": True,
            "model": model,
            "time_unit": "W",
            "calibration_end": calibration_end.isoformat(),
            "holdout_end": holdout_end.isoformat(),
            "params": fitted.params_.to_dict(),
            "log_likelihood": fitted.log_likelihood_,
            "n_members": fitted.n_members_,
            **out,
        }
    )
