"""Campaign evaluation on a project's warehouse (opens it read-only for one unit of work)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import ibis

from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.experiments.campaigns import (
    CampaignReport,
    Costs,
    Response,
    adjust_family,
    campaign_report,
    segment_breakdown,
)

__all__ = [
    "BY_ATTRIBUTES",
    "BY_MART",
    "campaign_list_project",
    "campaign_report_project",
    "report_options",
]

_TABLES = ("campaigns", "campaign_members", "orders")
#: member attributes (of the ``members`` table) a report can be broken down by
BY_ATTRIBUTES = ("channel", "province", "city", "gender", "age_band")
#: breakdowns read from the member mart (``memberlens run`` writes it): name -> column
BY_MART = {
    "segment": "segment_rfm11",
    "cn8": "segment_cn8",
    "tier": "value_tier",
    "cluster": "cluster",
    "lifecycle": "lifecycle_stage",
}


def report_options(project: Any, **given: Any) -> dict[str, Any]:
    """The report's options: what the caller gives (not None) over the ``[campaigns]`` settings
    over the defaults; ``costs`` from ``[costs]``."""
    settings = dict(getattr(project, "settings", {}).get("campaigns", {}))
    defaults: dict[str, Any] = {
        "response": "auto",
        "alpha": 0.05,
        "retention_days": 30,
        "pre_days": 90,
        "cuped": False,
        "planned_control_share": settings.get("control_share"),
        "tau_relative": settings.get("sequential_tau", 0.1),
    }
    for key in ("response", "alpha", "retention_days", "pre_days", "cuped"):
        if key in settings:
            defaults[key] = settings[key]
    for key, value in given.items():
        if value is not None:
            defaults[key] = value
    costs = getattr(project, "settings", {}).get("costs")
    defaults["costs"] = Costs.from_settings(costs) if costs else None
    return defaults


@dataclasses.dataclass(frozen=True)
class _Segments:
    """The ``member_id, segment`` table of a breakdown and which as-of it is."""

    table: Any
    source: str  # "members", "mart_member_history" or "mart_members"
    as_of: str | None = None
    note: str | None = None


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def _segments(warehouse: Any, by: str, starts_at: Any = None) -> _Segments:
    """The members' ``by`` as of the campaign start: a member attribute from ``members``; a
    mart scheme from the ``mart_member_history`` snapshot nearest on or before ``starts_at``,
    else from the latest ``mart_members`` with a note saying so."""
    if by in BY_ATTRIBUTES:
        people = warehouse.table("members")
        if by not in people.columns:
            raise ConfigError(
                f"the members table has no column {by!r}; load members with that attribute"
            )
        return _Segments(people.select("member_id", segment=people[by]), "members")
    column = BY_MART[by]
    if not warehouse.has("mart_members"):
        raise MissingTableError(
            f"--by {by} reads the member mart, which is not built yet: run `memberlens run` first"
        )
    mart = warehouse.table("mart_members")
    if column not in mart.columns:
        raise ConfigError(
            f"--by {by}: the member mart has no column {column!r} (the step that writes it did "
            "not run); run `memberlens run` with it"
        )
    start = _day(starts_at)
    history = (
        warehouse.table("mart_member_history") if warehouse.has("mart_member_history") else None
    )
    if start is not None and history is not None and column in history.columns:
        before = history.filter(history.as_of <= ibis.date(start))
        found = _day(before.as_of.max().to_pyarrow().as_py())
        if found is not None:
            snap = before.filter(before.as_of == ibis.date(found))
            table = snap.select("member_id", segment=snap[column].cast("string"))
            return _Segments(table, "mart_member_history", found.isoformat())
    latest = _day(mart.as_of.max().to_pyarrow().as_py()) if "as_of" in mart.columns else None
    if history is None:
        why = "no member history is kept yet (each `memberlens run` adds its as-of date)"
    elif column not in history.columns:
        why = f"mart_member_history keeps no {column!r}"
    else:
        why = f"no member history on or before the campaign start ({start})"
    note = (
        f"--by {by}: {why}; the segments are the latest run's (as of {latest or 'unknown'}), "
        "not the members' at the send, and the campaign itself may have moved members since. "
        f"To read them as of the send, run `memberlens run --as-of {start}` once"
        if start is not None
        else f"--by {by}: the segments are the latest run's (as of {latest or 'unknown'})"
    )
    table = mart.select("member_id", segment=mart[column].cast("string"))
    return _Segments(table, "mart_members", latest.isoformat() if latest else None, note)


def campaign_report_project(
    project: Any,
    campaign_id: str,
    *,
    response: Response | None = None,
    alpha: float | None = None,
    by: str | None = None,
    planned_control_share: float | None = None,
    retention_days: int | None = None,
    pre_days: int | None = None,
    cuped: bool | None = None,
) -> CampaignReport:
    """:func:`~memberlens.experiments.campaigns.campaign_report` on the project's tables, with
    the same numbers per segment when ``by`` is given (a member attribute, or ``segment`` /
    ``tier`` / ``cluster`` / ``lifecycle`` from the member mart), options from ``[campaigns]``
    and costs from ``[costs]``. Holm and BH are recomputed over arms x metrics x segments."""
    from memberlens.engine.warehouse import open_warehouse

    choices = (*BY_ATTRIBUTES, *BY_MART)
    if by is not None and by not in choices:
        raise ConfigError(f"--by must be one of {', '.join(choices)}, found {by!r}")
    options = report_options(
        project,
        response=response,
        alpha=alpha,
        planned_control_share=planned_control_share,
        retention_days=retention_days,
        pre_days=pre_days,
        cuped=cuped,
    )
    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members, orders = (warehouse.table(name) for name in _TABLES)
        events = warehouse.table("events") if options["response"] == "visit" else None
        report = campaign_report(campaigns, members, orders, campaign_id, events=events, **options)
        if by is None:
            return report
        found = _segments(warehouse, by, report.starts_at)
        options.pop("costs")
        options.pop("planned_control_share")
        parts = segment_breakdown(
            campaigns, members, orders, campaign_id, found.table, events=events, **options
        )
        messages = (*report.messages, found.note) if found.note else report.messages
        return adjust_family(
            dataclasses.replace(
                report,
                by=by,
                segments=parts,
                segments_source=found.source,
                segments_as_of=found.as_of,
                messages=messages,
            )
        )
    finally:
        warehouse.close()


def campaign_list_project(project: Any) -> list[dict[str, Any]]:
    """The project's campaigns with the number of members per group, oldest first."""
    from memberlens.engine.warehouse import open_warehouse

    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members = warehouse.table("campaigns"), warehouse.table("campaign_members")
        counts = members.group_by("campaign_id").aggregate(
            members=members.count(),
            control=(members["group"] == "control").cast("int64").sum(),
        )
        cols = [
            c
            for c in ("campaign_id", "name", "channel", "starts_at", "ends_at")
            if c in campaigns.columns
        ]
        out = campaigns.select(*cols).left_join(counts, "campaign_id").order_by("starts_at")
        return [
            {k: v for k, v in row.items() if k != "campaign_id_right"}
            for row in out.to_pyarrow().to_pylist()
        ]
    finally:
        warehouse.close()


#: member attributes the drivers read when present (members table, then the member mart)
DRIVER_ATTRIBUTES = ("gender", "age_band", "province")
DRIVER_MART = {"segment": "segment_rfm11", "tier": "value_tier", "cluster": "cluster"}
#: a text attribute keeps its most common levels; the rest become "other"
MAX_LEVELS = 8


def _lump(values: Any, keep: int = MAX_LEVELS) -> Any:
    s = values.astype("string").fillna("(none)")
    top = s.value_counts().index[:keep]
    return s.where(s.isin(top), "other").astype(str)


def campaign_member_frame(
    project: Any,
    campaign_ids: list[str] | None,
    *,
    response: Response | None = None,
    max_members: int = 1_000_000,
    seed: int = 0,
) -> tuple[Any, list[str]]:
    """One row per targeted member of the campaigns (all with ``None``): ``treated`` (0/1),
    ``arm``, ``bought``, ``responded``, ``spend`` (revenue in the window), ``pre_spend``
    (log1p of the pre-period spend), the campaign's ``channel``, ``offer``, ``type``,
    ``send_weekday`` and ``send_time`` (morning / afternoon / evening by the send hour) and the
    member attributes present (``gender``, ``age_band``, ``province``; ``segment``, ``tier``,
    ``cluster`` from the member mart). Returns the frame and notes (a sample, lumped levels)."""
    import numpy as np

    from memberlens.engine.warehouse import open_warehouse
    from memberlens.experiments.campaigns import member_outcomes, resolve_response

    options = report_options(project, response=response)
    notes: list[str] = []
    warehouse = open_warehouse(project, read_only=True)
    try:
        campaigns, members, orders = (warehouse.table(name) for name in _TABLES)
        if campaign_ids:
            known = set(
                campaigns.filter(campaigns.campaign_id.isin(campaign_ids))
                .campaign_id.to_pyarrow()
                .to_pylist()
            )
            missing = [c for c in campaign_ids if c not in known]
            if missing:
                from memberlens.exceptions import DataError

                raise DataError(
                    f"campaign(s) {missing} are not in the campaigns table; list them with "
                    "`memberlens campaign list`"
                )
            campaigns = campaigns.filter(campaigns.campaign_id.isin(campaign_ids))
            members = members.filter(members.campaign_id.isin(campaign_ids))
        resolved = resolve_response(members, None, options["response"])
        events = warehouse.table("events") if resolved == "visit" else None
        per = member_outcomes(
            campaigns,
            members,
            orders,
            None,
            response=resolved,
            events=events,
            retention_days=options["retention_days"],
            pre_days=options["pre_days"],
        )
        attrs = [c for c in ("channel", "offer", "type", "starts_at") if c in campaigns.columns]
        per = per.join(campaigns.select("campaign_id", *attrs), "campaign_id")
        if "sent_at" in members.columns:
            sent = members.select("campaign_id", "member_id", "sent_at")
            per = per.left_join(sent, ["campaign_id", "member_id"]).drop(
                "campaign_id_right", "member_id_right"
            )
        if warehouse.has("members"):
            people = warehouse.table("members")
            cols = [c for c in DRIVER_ATTRIBUTES if c in people.columns]
            if cols:
                per = per.left_join(people.select("member_id", *cols), "member_id").drop(
                    "member_id_right"
                )
        if warehouse.has("mart_members"):
            mart = warehouse.table("mart_members")
            found = {k: v for k, v in DRIVER_MART.items() if v in mart.columns}
            if found:
                per = per.left_join(
                    mart.select(
                        "member_id", **{k: mart[v].cast("string") for k, v in found.items()}
                    ),
                    "member_id",
                ).drop("member_id_right")
        frame = per.to_pandas()
    finally:
        warehouse.close()
    # one row order whatever the engine returned (DuckDB's threads, Spark's partitions): the
    # sample below and the fits are then the same on every engine and every run
    frame = frame.sort_values(["campaign_id", "member_id"], kind="stable", ignore_index=True)
    if len(frame) > max_members:
        notes.append(f"a random sample of {max_members:,} of {len(frame):,} campaign members")
        frame = frame.sample(n=max_members, random_state=seed)
    frame["treated"] = (frame["arm"] != "control").astype(int)
    frame["spend"] = frame["revenue"].astype(float)
    frame["pre_spend"] = np.log1p(frame["pre"].astype(float))
    when = (
        frame["sent_at"].fillna(frame["starts_at"])
        if "sent_at" in frame
        else frame.get("starts_at")
    )
    if when is not None:
        import pandas as pd

        when = pd.to_datetime(when)
        frame["send_weekday"] = when.dt.day_name()
        frame["send_time"] = np.select(
            [when.dt.hour < 12, when.dt.hour < 18], ["morning", "afternoon"], "evening"
        )
    for col in ("offer", "province", "cluster"):
        if col in frame and frame[col].nunique() > MAX_LEVELS:
            notes.append(f"{col}: the {MAX_LEVELS} most common values kept, the rest as 'other'")
            frame[col] = _lump(frame[col])
    frame.attrs["response"] = resolved
    return frame, notes


#: the factors the drivers try, in this order (each only when it varies in the data)
DRIVER_FACTORS = (
    "arm",
    "channel",
    "offer",
    "send_time",
    "gender",
    "age_band",
    "province",
    "segment",
    "tier",
    "cluster",
)


def campaign_drivers_project(
    project: Any,
    campaign_ids: list[str] | None,
    *,
    outcomes: tuple[str, ...] = ("spend", "responded"),
    factors: list[str] | None = None,
    interact: bool = False,
    response: Response | None = None,
    alpha: float = 0.05,
) -> tuple[list[Any], list[str]]:
    """OLS of spend and logistic regression of the response (``responded``; or ``bought``) on
    the campaign features and member attributes, robust (HC1) standard errors."""
    from memberlens.experiments.regression import fit_drivers

    frame, notes = campaign_member_frame(project, campaign_ids, response=response)
    if frame.empty:
        raise ConfigError("these campaigns have no members in campaign_members: nothing to fit")
    chosen = list(factors) if factors else [f for f in DRIVER_FACTORS if f in frame.columns]
    unknown = [f for f in chosen if f not in frame.columns]
    if unknown:
        raise ConfigError(
            f"--factors: {unknown} are not in the campaign data; available: "
            f"{', '.join(f for f in DRIVER_FACTORS if f in frame.columns)}"
        )
    treated = "treated" if frame["treated"].nunique() > 1 else None
    if treated is None:
        notes.append(
            "no control group: the drivers describe who bought, not what the campaign caused"
        )
    if "arm" in chosen and frame["arm"].nunique() <= 2:
        chosen.remove("arm")  # the same as treated
    results = []
    for outcome in outcomes:
        data = frame
        if outcome == "responded" and frame.attrs.get("response") != "order" and treated:
            # control members get no message, so they cannot open or click: the response model
            # is fitted on the members who got one
            data = frame[frame["treated"] == 1]
        use_treated = treated if data["treated"].nunique() > 1 else None
        try:
            result = fit_drivers(
                data,
                outcome,
                factors=chosen,
                numeric=[use_treated, "pre_spend"]
                if use_treated and not interact
                else ["pre_spend"],
                kind="ols" if outcome == "spend" else "logit",
                interact=use_treated if interact else None,
                alpha=alpha,
            )
        except ValueError as exc:
            notes.append(f"{outcome}: {exc}")
            continue
        results.append(result)
    return results, notes


def campaign_factorial_project(
    project: Any,
    campaign_ids: list[str] | None,
    factors: list[str],
    *,
    outcome: str = "bought",
    treated_only: bool = True,
    response: Response | None = None,
    alpha: float = 0.05,
) -> tuple[Any, list[str]]:
    """The full factorial model of ``outcome`` on campaign attributes (``channel``, ``offer``,
    ``send_time``, ``arm``, ...) with its robust ANOVA table. ``treated_only``: the members who
    got a message (each cell a treatment); else ``treated`` joins the factors, and its
    interactions are the differences in lift."""
    from memberlens.experiments.regression import fit_factorial

    frame, notes = campaign_member_frame(project, campaign_ids, response=response)
    unknown = [f for f in factors if f not in frame.columns]
    if unknown:
        raise ConfigError(
            f"--factors: {unknown} are not columns of the campaign data; use campaign attributes "
            "(channel, offer, type, send_time, send_weekday, arm) or member attributes"
        )
    if outcome not in ("bought", "responded", "spend"):
        raise ConfigError(f"--outcome must be bought, responded or spend, found {outcome!r}")
    if treated_only:
        frame = frame[frame["treated"] == 1]
    else:
        factors = ["treated", *factors]
    if frame.empty:
        raise ConfigError("no treated members in these campaigns: nothing to compare")
    try:
        result = fit_factorial(
            frame, outcome, factors, kind="ols" if outcome == "spend" else "logit", alpha=alpha
        )
    except ValueError as exc:
        raise ConfigError(f"campaign factorial: {exc}") from None
    return result, notes


def past_campaign_inputs(project: Any, channel: str | None = None) -> dict[str, Any]:
    """What past campaigns say, for the programme ROI calculator: ``baseline_rate`` (control's
    conversion), ``lift`` (treatment - control conversion) and ``aov`` (treatment arms' revenue
    / orders), weighted by members over the campaigns of ``mart_campaign_results`` (on
    ``channel`` when given); ``members`` (the member count), ``message_cost`` (``[costs]
    message`` of the channel) and ``margin`` (``[costs] margin``) when set; and ``campaigns``,
    how many campaigns the figures come from."""
    from memberlens.engine.warehouse import open_warehouse

    costs = dict(getattr(project, "settings", {}).get("costs", {}))
    out: dict[str, Any] = {}
    warehouse = open_warehouse(project, read_only=True)
    try:
        if not warehouse.has("mart_campaign_results"):
            raise MissingTableError(
                "no campaign results yet: run `memberlens run` with campaigns and "
                "campaign_members loaded, or type the figures in (--baseline, --lift, --aov)"
            )
        mart = warehouse.table("mart_campaign_results")
        mart = mart.filter(mart["by"].isnull())
        if channel is not None:
            mart = mart.filter(mart.channel == channel)
        rows = mart.filter(
            mart.metric.isin(["n", "orders", "revenue", "conversion_rate"])
        ).to_pandas()
        if warehouse.has("members"):
            out["members"] = int(warehouse.table("members").count().execute())
        elif warehouse.has("mart_members"):
            out["members"] = int(warehouse.table("mart_members").count().execute())
    finally:
        warehouse.close()
    wide = rows.pivot_table(
        index=["campaign_id", "arm"], columns="metric", values="value", aggfunc="first"
    ).reset_index()
    with_control = set(wide.loc[wide.arm == "control", "campaign_id"])
    wide = wide[wide.campaign_id.isin(with_control)]
    if wide.empty:
        raise MissingTableError(
            "no past campaign with a control group"
            + (f" on channel {channel!r}" if channel else "")
            + ": type the figures in (--baseline, --lift, --aov)"
        )
    control = wide[wide.arm == "control"].set_index("campaign_id")
    treated = wide[wide.arm != "control"]
    diff = (
        treated.conversion_rate.to_numpy()
        - control.loc[treated.campaign_id, "conversion_rate"].to_numpy()
    )
    out["baseline_rate"] = float((control.conversion_rate * control.n).sum() / control.n.sum())
    out["lift"] = float((diff * treated.n.to_numpy()).sum() / treated.n.sum())
    if treated.orders.sum() > 0:
        out["aov"] = float(treated.revenue.sum() / treated.orders.sum())
    out["campaigns"] = int(control.shape[0])
    message = dict(costs.get("message", {}))
    if channel is not None and channel in message:
        out["message_cost"] = float(message[channel])
    if "margin" in costs:
        out["margin"] = float(costs["margin"])
    if costs.get("coupon") is not None:
        out["coupon_cost"] = float(costs["coupon"])
    return out
