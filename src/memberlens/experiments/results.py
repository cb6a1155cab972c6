"""Every campaign's results as one long table (``mart_campaign_results``): per campaign, segment,
arm and metric, the arm's value and its comparison with control.

The engine reduces all campaigns x segments (of every breakdown at once) x arms to sufficient
statistics in one GROUP BY per response flavour; the whole campaign and each breakdown are sums of
those cells (:data:`~memberlens.experiments.campaigns.SUFFICIENT_STATISTICS` add up), and Python
runs only the tests, per campaign. The dashboard and the benchmark read this instead of the raw
tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis.expr.types as ir
import pandas as pd
from ibis import _

from memberlens.experiments.campaigns import (
    SUFFICIENT_STATISTICS,
    ArmSummary,
    Costs,
    _summary,
    adjust_family,
    aggregate_outcomes,
    campaign_economics,
    compare_arms,
    member_outcomes,
)
from memberlens.experiments.multiple import holm

__all__ = ["ARM_METRICS", "RESULT_COLUMNS", "campaign_results", "resolve_responses"]

#: the per-arm metrics in the table (a comparison with control where there is one)
ARM_METRICS = (
    "n",
    "responders",
    "buyers",
    "orders",
    "revenue",
    "response_rate",
    "conversion_rate",
    "conversion_rate_responders",
    "aov",
    "revenue_per_member",
    "retention_rate",
)
RESULT_COLUMNS = (
    "campaign_id",
    "name",
    "channel",
    "starts_at",
    "ends_at",
    "response",
    "by",
    "segment",
    "arm",
    "metric",
    "value",
    "control_value",
    "difference",
    "relative_lift",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_holm",
    "p_value_bh",
    "probability_to_beat_control",
    "expected_loss",
    "sequential_ci_low",
    "sequential_ci_high",
    "note",
)


def resolve_responses(campaign_members: ir.Table, response: str) -> dict[str, str]:
    """Each campaign's response flavour: ``response`` itself, or for ``auto`` click when the
    campaign has clicks, else open when it has opens, else an order (one query)."""
    rows = (
        campaign_members.group_by("campaign_id")
        .aggregate(clicks=_.clicked_at.count(), opens=_.opened_at.count())
        .to_pyarrow()
        .to_pylist()
    )
    if response != "auto":
        return {r["campaign_id"]: response for r in rows}
    return {
        r["campaign_id"]: "click" if r["clicks"] else "open" if r["opens"] else "order"
        for r in rows
    }


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def campaign_results(
    campaigns: ir.Table,
    campaign_members: ir.Table,
    orders: ir.Table,
    *,
    segments: Mapping[str, ir.Table] | None = None,
    response: str = "auto",
    alpha: float = 0.05,
    retention_days: int = 30,
    pre_days: int = 90,
    cuped: bool = False,
    costs: Costs | None = None,
    events: ir.Table | None = None,
    tau_relative: float = 0.1,
) -> pd.DataFrame:
    """The long table of every campaign: one row per campaign x segment x arm x metric (``by``
    and ``segment`` empty for the whole campaign; ``segments`` maps a breakdown name to a
    ``member_id, segment`` table). Holm and BH adjust over each campaign's family (arms x
    metrics x segments); economics rows (``incremental_revenue``, ``cost``, ``roi``) per treatment
    arm of the whole campaign."""
    meta_cols = [
        c
        for c in ("campaign_id", "name", "channel", "starts_at", "ends_at")
        if c in campaigns.columns
    ]
    meta = {r["campaign_id"]: r for r in campaigns.select(*meta_cols).to_pyarrow().to_pylist()}
    flavours = resolve_responses(campaign_members, response)
    parts: dict[tuple[str, str | None, str | None], list[ArmSummary]] = {}
    names = list(segments or {})
    for flavour in sorted(set(flavours.values())):
        ids = [c for c, f in flavours.items() if f == flavour]
        cm = campaign_members.filter(campaign_members.campaign_id.isin(ids))
        per = member_outcomes(
            campaigns,
            cm,
            orders,
            None,
            response=flavour,
            events=events,
            retention_days=retention_days,
            pre_days=pre_days,
        )
        for by, seg in (segments or {}).items():  # one column per breakdown
            col = f"__by_{by}"
            per = per.left_join(
                seg.select("member_id", **{col: seg.segment.cast("string")}), "member_id"
            ).select(*per.columns, **{col: _[col].fill_null("(none)")})
        # one GROUP BY at the finest grain (campaign x every breakdown x arm); the whole
        # campaign and each breakdown are sums of these cells (sufficient statistics add up)
        cols = [f"__by_{by}" for by in names]
        cells = aggregate_outcomes(per, ["campaign_id", *cols, "arm"]).to_pyarrow().to_pandas()
        for scheme in (None, *names):
            keys = ["campaign_id", "arm"]
            if scheme is not None:
                keys.insert(1, f"__by_{scheme}")
            summed = cells.groupby(keys, sort=False)[list(SUFFICIENT_STATISTICS)].sum()
            for row in summed.reset_index().to_dict("records"):
                value = row[f"__by_{scheme}"] if scheme else None
                parts.setdefault((row["campaign_id"], scheme, value), []).append(_summary(row))
    out: list[dict[str, Any]] = []
    for campaign_id in sorted({k[0] for k in parts}):
        out.extend(
            _campaign_rows(
                campaign_id,
                meta.get(campaign_id, {"campaign_id": campaign_id}),
                flavours[campaign_id],
                {k: v for k, v in parts.items() if k[0] == campaign_id},
                alpha=alpha,
                cuped=cuped,
                costs=costs,
                tau_relative=tau_relative,
            )
        )
    frame = pd.DataFrame(out, columns=list(RESULT_COLUMNS))
    return frame


def _campaign_rows(
    campaign_id: str,
    meta: Mapping[str, Any],
    flavour: str,
    parts: Mapping[tuple[str, str | None, str | None], list[ArmSummary]],
    *,
    alpha: float,
    cuped: bool,
    costs: Costs | None,
    tau_relative: float,
) -> list[dict[str, Any]]:
    from memberlens.experiments.campaigns import CampaignReport, SegmentResult, _comparison

    base = {
        "campaign_id": campaign_id,
        "name": meta.get("name"),
        "channel": meta.get("channel"),
        "starts_at": meta.get("starts_at"),
        "ends_at": meta.get("ends_at"),
        "response": flavour,
    }
    whole = tuple(sorted(parts.get((campaign_id, None, None), []), key=lambda a: a.arm))
    results, messages = compare_arms(
        whole, alpha=alpha, response=flavour, cuped=cuped, tau_relative=tau_relative
    )
    adjusted = holm([r.result.p_value for r in results]).tolist() if results else []
    comparisons = tuple(_comparison(r, float(p)) for r, p in zip(results, adjusted, strict=True))
    segments = []
    for (_cid, by, seg), arms in sorted(
        parts.items(), key=lambda kv: (str(kv[0][1]), str(kv[0][2]))
    ):
        if by is None:
            continue
        arms_t = tuple(sorted(arms, key=lambda a: a.arm))
        res, msgs = compare_arms(
            arms_t,
            alpha=alpha,
            response=flavour,
            cuped=cuped,
            tau_relative=tau_relative,
        )
        segments.append(
            (
                by,
                SegmentResult(
                    str(seg), arms_t, tuple(_comparison(r, math.nan) for r in res), tuple(msgs)
                ),
            )
        )
    report = adjust_family(
        CampaignReport(
            campaign_id,
            None,
            None,
            None,
            "auto",
            alpha,
            whole,
            comparisons,
            segments=tuple(s for _, s in segments),
        )
    )
    rows: list[dict[str, Any]] = []
    note = "; ".join(messages) or None
    rows += _rows(base, None, None, report.arms, report.comparisons, note)
    for (by, _seg), part in zip(segments, report.segments, strict=True):
        rows += _rows(
            base, by, part.segment, part.arms, part.comparisons, "; ".join(part.messages) or None
        )
    for e in campaign_economics(whole, results, costs, meta.get("channel")):
        for metric, value, low, high in (
            ("incremental_revenue", e.incremental_revenue, e.ci_low, e.ci_high),
            ("cost", e.cost, None, None),
            ("roi", e.roi, e.roi_ci_low, e.roi_ci_high),
        ):
            rows.append(
                {
                    **base,
                    "by": None,
                    "segment": None,
                    "arm": e.arm,
                    "metric": metric,
                    "value": _num(value),
                    "ci_low": _num(low),
                    "ci_high": _num(high),
                    "note": e.reason if metric == "roi" else None,
                }
            )
    return rows


def _rows(
    base: Mapping[str, Any],
    by: str | None,
    segment: str | None,
    arms: tuple[ArmSummary, ...],
    comparisons: tuple[Any, ...],
    note: str | None,
) -> list[dict[str, Any]]:
    rows = []
    found = {(c.arm, c.metric): c for c in comparisons}
    for arm in arms:
        for metric in ARM_METRICS:
            row = {
                **base,
                "by": by,
                "segment": segment,
                "arm": arm.arm,
                "metric": metric,
                "value": _num(getattr(arm, metric)),
                "note": note,
            }
            c = found.get((arm.arm, metric))
            if c is not None:
                row.update(
                    control_value=c.control,
                    difference=c.difference,
                    relative_lift=_num(c.relative_lift),
                    ci_low=c.ci_low,
                    ci_high=c.ci_high,
                    p_value=c.p_value,
                    p_value_holm=_num(c.p_value_holm),
                    p_value_bh=_num(c.p_value_bh),
                    probability_to_beat_control=c.probability_to_beat_control,
                    expected_loss=_num(c.expected_loss),
                    sequential_ci_low=_num(c.sequential_ci_low),
                    sequential_ci_high=_num(c.sequential_ci_high),
                )
            rows.append(row)
    for c in comparisons:  # comparisons of metrics that are not arm columns (CUPED revenue)
        if c.metric not in ARM_METRICS:
            rows.append(
                {
                    **base,
                    "by": by,
                    "segment": segment,
                    "arm": c.arm,
                    "metric": c.metric,
                    "value": c.treatment,
                    "control_value": c.control,
                    "difference": c.difference,
                    "relative_lift": _num(c.relative_lift),
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "p_value": c.p_value,
                    "p_value_holm": _num(c.p_value_holm),
                    "p_value_bh": _num(c.p_value_bh),
                    "probability_to_beat_control": c.probability_to_beat_control,
                    "expected_loss": _num(c.expected_loss),
                    "sequential_ci_low": _num(c.sequential_ci_low),
                    "sequential_ci_high": _num(c.sequential_ci_high),
                    "note": note,
                }
            )
    return rows
