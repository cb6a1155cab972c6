"""RFM segments (the built-in schemes and the project's own) and value tiers."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult


def _segments(ctx: RunContext) -> StepResult:
    from memberlens.segmentation import (
        SCHEMES,
        RFMScorer,
        scheme_from_dict,
        segments_from_scores,
    )

    summary: pd.DataFrame = ctx.frame("members")
    # a purchase log without amounts has no spend: M is scored on the number of orders instead
    no_amounts = bool(summary["total_spend"].isna().all()) and "order_count" in summary
    scorer = RFMScorer(monetary="order_count" if no_amounts else "total_spend").fit(summary)
    out = summary
    rows = []
    custom = [scheme_from_dict(name, spec) for name, spec in ctx.settings("segments").items()]
    scores = scorer.transform(summary)  # one scoring for every scheme
    for c in ("R", "F", "M", "rfm_cell", "rfm_total"):
        out[c] = scores[c]
    for scheme in [*SCHEMES.values(), *custom]:
        seg = segments_from_scores(scores, summary, scheme, scorer)
        out[f"segment_{scheme.name}"] = seg["segment"]
        grouped = pd.DataFrame(
            {
                "segment": seg["segment"],
                "segment_en": seg["segment_en"],
                "segment_zh": seg["segment_zh"],
                "revenue": summary["total_spend"],
                "clv": summary.get("clv", pd.Series(np.nan, index=summary.index)),
            }
        )
        agg = grouped.groupby(["segment", "segment_en", "segment_zh"], dropna=False).agg(
            members=("revenue", "size"), revenue=("revenue", "sum"), avg_clv=("clv", "mean")
        )
        agg = agg.reset_index()
        agg.insert(0, "scheme", scheme.name)
        agg["revenue_share"] = agg["revenue"] / max(float(agg["revenue"].sum()), 1e-12)
        rows.append(agg)
    table = pd.concat(rows, ignore_index=True)
    return StepResult(
        status="degraded" if no_amounts else "ok",
        message="no amounts in the orders: M scored on the number of orders, not on spend"
        if no_amounts
        else "",
        rows_in=len(out),
        rows_out=len(out),
        marts={"mart_segments": table},
        frames={"members": out},
    )


def _tiers(ctx: RunContext) -> StepResult:
    from memberlens.segmentation import ValueTierModel

    summary: pd.DataFrame = ctx.frame("members")
    no_amounts = bool(summary["total_spend"].isna().all()) and "order_count" in summary
    frame = summary.dropna(axis=1, how="all")
    if no_amounts:  # a purchase log without amounts: value is measured by the number of orders
        frame = frame.assign(total_spend=summary["order_count"].astype("float64"))
    model = ValueTierModel(**ctx.settings("tiers"))
    tiers = model.fit_transform(frame)
    out = summary
    out["value_score"] = tiers["value_score"].to_numpy()
    out["value_tier"] = tiers["tier"].to_numpy()
    counts = (
        out.groupby("value_tier")
        .agg(members=("member_id", "size"), revenue=("total_spend", "sum"))
        .reset_index()
    )
    notes = list(model.notes_)
    if no_amounts:
        notes.insert(0, "no amounts in the orders: value measured by the number of orders")
    return StepResult(
        status="degraded" if no_amounts else "ok",
        message="; ".join(notes),
        rows_in=len(out),
        rows_out=len(out),
        marts={"mart_tiers": counts},
        frames={"members": out},
        models={
            "value_tiers": {
                "weights": model.weights_,
                "thresholds": model.thresholds_,
                "notes": model.notes_,
                "rules": [asdict(r) for r in model.rules_],
            }
        },
    )


SEGMENTS = Step(
    name="segments",
    title=(
        "RFM scores 1-5 with stored edges; schemes cn8, rfm11, rf_grid and any "
        "[segments.<name>] of the project file"
    ),
    run=_segments,
    uses=("members",),
    makes=("members",),
    writes=("mart_segments",),
    section="segments",
)

TIERS = Step(
    name="tiers",
    title=(
        "value score and tier (high / medium / low / potential value, churn risk) with the "
        "rules that explain them"
    ),
    run=_tiers,
    uses=("members",),
    makes=("members",),
    writes=("mart_tiers", "mart_models"),
    section="tiers",
)
