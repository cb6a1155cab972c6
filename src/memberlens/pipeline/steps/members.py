"""The member mart: one row per member with every step's columns and the member's attributes."""

from __future__ import annotations

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult

#: member attributes copied into the mart (never the pseudonyms)
MEMBER_ATTRIBUTES = (
    "province",
    "city",
    "channel",
    "gender",
    "registered_at",
    "phone_masked",
    "email_masked",
    "name_masked",
)
CHURN_COLUMNS = ("churn_probability", "churn_risk_decile", "propensity_30d")
#: the steps whose columns end up in the member mart
MEMBER_COLUMN_STEPS = frozenset(
    {"summary", "clv", "segments", "tiers", "clusters", "lifecycle", "churn"}
)


def _member_mart(ctx: RunContext) -> StepResult:
    summary: pd.DataFrame = ctx.frame("members")
    rows_in = len(summary)
    mart = summary
    lifecycle = ctx.frames.get("lifecycle")
    if lifecycle is not None:
        stage = lifecycle[["member_id", "stage"]].rename(columns={"stage": "lifecycle_stage"})
        mart = mart.merge(stage, on="member_id", how="left")
    ctx.frames.pop("members")  # the mart holds the same columns: one copy of the members
    del summary
    members = ctx.table("members")
    if members is not None:
        attrs = [c for c in MEMBER_ATTRIBUTES if c in members.columns]
        profile = (
            members.select("member_id", *attrs)
            .rename({"registration_channel": "channel"} if "channel" in attrs else {})
            .to_pandas()
        )
        mart = mart.merge(profile, on="member_id", how="left")
    churn = ctx.frames.get("churn")
    if churn is not None:
        mart = mart.merge(churn[["member_id", *CHURN_COLUMNS]], on="member_id", how="left")
    mart.insert(1, "as_of", pd.Timestamp(ctx.as_of))
    message = ""
    if ctx.not_run & MEMBER_COLUMN_STEPS:
        mart, message = _carried(ctx, mart)
    return StepResult(
        message=message, rows_in=rows_in, rows_out=len(mart), marts={"mart_members": mart}
    )


def _stored_mart(ctx: RunContext) -> pd.DataFrame | None:
    """The stored ``mart_members`` when it is of this run's as-of date (else None)."""
    wh = ctx.warehouse
    if not wh.has("mart_members"):
        return None
    stored = wh.table("mart_members")
    if "as_of" not in stored.columns:
        return None
    day = stored.as_of.max().execute()
    if day is None or pd.Timestamp(day).date() != ctx.as_of:
        return None
    frame: pd.DataFrame = stored.to_pandas()
    return frame


def _carried(ctx: RunContext, mart: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Columns of the steps that did not run, from the stored mart of the same as-of date."""
    names = ", ".join(sorted(ctx.not_run & MEMBER_COLUMN_STEPS))
    stored = _stored_mart(ctx)
    if stored is None:
        return mart, f"no columns of {names}: no stored member mart for {ctx.as_of}"
    extra = [c for c in stored.columns if c not in mart.columns]
    if not extra:
        return mart, ""
    mart = mart.merge(stored[["member_id", *extra]], on="member_id", how="left")
    return mart, f"columns of {names} ({', '.join(extra)}) kept from the stored mart"


def stored_members(ctx: RunContext) -> pd.DataFrame | None:
    """The ``members`` frame of an earlier run of the same as-of date (for a step whose
    producer did not run this time), without the columns this step adds."""
    stored = _stored_mart(ctx)
    if stored is None:
        return None
    added = {"as_of", "lifecycle_stage", *MEMBER_ATTRIBUTES, *CHURN_COLUMNS}
    return stored.drop(columns=[c for c in stored.columns if c in added])


MEMBERS = Step(
    name="members",
    title=(
        "the member mart: the summary, CLV, segment, tier and cluster columns, the lifecycle "
        "stage, churn scores and the member's attributes (masked contact fields only)"
    ),
    run=_member_mart,
    uses=("members",),
    optional=("members", "lifecycle", "churn"),
    writes=("mart_members", "mart_member_history"),
)
