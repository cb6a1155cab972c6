"""Campaign results: every campaign's arms against control, whole and per segment and tier."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from memberlens.pipeline.step import RunContext, Step, StepResult

#: member-mart columns each campaign is also broken down by (when the run made them)
BREAKDOWNS = {"segment": "segment_rfm11", "tier": "value_tier"}


def _campaigns(ctx: RunContext) -> StepResult:
    """``mart_campaign_results`` (:func:`memberlens.experiments.results.campaign_results`):
    the campaigns that started by the as-of date, evaluated on the orders up to it, with the
    ``[campaigns]`` options and ``[costs]``."""
    from memberlens.experiments.projects import report_options
    from memberlens.experiments.results import campaign_results

    campaigns, members = ctx.need("campaigns"), ctx.need("campaign_members")
    cutoff = ibis.timestamp(dt.datetime.combine(ctx.as_of + dt.timedelta(days=1), dt.time()))
    campaigns = campaigns.filter(campaigns.starts_at < cutoff)
    orders = ctx.orders.filter(ctx.orders.ordered_at < cutoff)
    started = campaigns.select("campaign_id")
    members = members.semi_join(started, "campaign_id")
    rows_in = int(members.count().execute())
    if rows_in == 0:
        return StepResult(
            status="degraded", message="no campaign started by the as-of date has members"
        )
    options = report_options(ctx.project)
    options.pop("planned_control_share")
    segments = {}
    temporary: list[str] = []
    if "members" in ctx.frames:  # this run's segments and tiers
        frame = ctx.frame("members")
        for by, column in BREAKDOWNS.items():
            if column in frame.columns:
                part = frame[["member_id", column]].rename(columns={column: "segment"})
                rows = pa.Table.from_pandas(
                    part.astype({"segment": "string"}), preserve_index=False
                )
                # a temporary table of the warehouse, not an Ibis memtable: the results are
                # computed by SQL the engine runs, where Spark does not see a memtable
                segments[by] = ctx.warehouse.register_arrow(f"_campaign_{by}", rows)
                temporary.append(f"_campaign_{by}")
    elif ctx.warehouse.has("mart_members"):  # the stored member mart (`--steps campaigns`)
        mart = ctx.warehouse.table("mart_members")
        for by, column in BREAKDOWNS.items():
            if column in mart.columns:
                segments[by] = mart.select("member_id", segment=mart[column].cast("string"))
    events = ctx.table("events") if options["response"] == "visit" else None
    if options["response"] == "visit" and events is None:
        options["response"] = "auto"
    try:
        mart = campaign_results(
            campaigns, members, orders, segments=segments, events=events, **options
        )
    finally:
        for name in temporary:
            ctx.warehouse.drop_temp(name)
    n = mart["campaign_id"].nunique()
    no_control = mart.loc[mart["note"].fillna("").str.contains("no control group"), "campaign_id"]
    message = (
        f"{n} campaigns"
        + (f", by {' and '.join(segments)}" if segments else "")
        + (f"; {no_control.nunique()} without a control group (no lift)" if len(no_control) else "")
    )
    return StepResult(
        message=message,
        rows_in=rows_in,
        rows_out=len(mart),
        marts={"mart_campaign_results": mart},
    )


CAMPAIGNS = Step(
    name="campaigns",
    title=(
        "every campaign's arms against control (conversion, response, retention, revenue per "
        "member; CI, p-value, Holm/BH, Bayesian and always-valid read-outs; incremental "
        "revenue, cost and ROI with [costs]), whole and per RFM segment and value tier "
        "([experiments.md](experiments.md))"
    ),
    run=_campaigns,
    tables=("orders", "campaigns", "campaign_members"),
    uses=(),
    optional=("members", "events"),
    writes=("mart_campaign_results",),
    section="campaigns",
)
