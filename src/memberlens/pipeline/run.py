"""``memberlens run``: build the member marts for an as-of date, atomically, with a run record.

Steps (each logged in ``_runs`` with rows in and out):

1. ``summary``: :func:`memberlens.features.rfm_summary` per member (days);
2. ``clv``: BG/NBD + Gamma-Gamma on the weekly summary: P(alive), expected purchases in the next
   90 days, 12-month CLV (monthly discount 1%), expected next purchase date — skipped with a
   message when the data cannot support a fit (too few repeat buyers);
3. ``segments``: RFM scores with stored edges, the Chinese 8-class and English 11-segment
   schemes (and any ``[segments.<name>]`` scheme of the project file);
4. ``tiers``: value tiers from the weighted score, with the explaining rules;
5. ``lifecycle``: the lifecycle stage at the as-of date;
6. ``cohorts``: retention by first-purchase month.

Marts written in one transaction (readers see the old set or the new one): ``mart_members``,
``mart_segments``, ``mart_tiers``, ``mart_lifecycle``, ``mart_cohorts``, ``mart_models``, and
``mart_member_history`` (segment, tier and stage per member and as-of date, kept across runs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.engine import register_arrow, unregister
from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import MissingTableError
from memberlens.project import Project

Progress = Callable[[str], None]
CLV_HORIZON_MONTHS = 12
LIFECYCLE_MONTHS = 12
P_ALIVE_HORIZON_DAYS = 90


@dataclass(frozen=True)
class StepRecord:
    step: str
    rows_in: int
    rows_out: int
    seconds: float
    status: str = "ok"
    message: str = ""


@dataclass(frozen=True)
class RunResult:
    run_id: str
    as_of: dt.date
    steps: list[StepRecord]
    marts: dict[str, int]
    models: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_as_of(project: Project, orders) -> dt.date:
    """The project's as-of date, or the last day with an order."""
    if project.as_of:
        return project.as_of
    last = orders.ordered_at.max().execute()
    if last is None or last is pd.NaT:
        raise MissingTableError(
            "orders is empty: load orders first with `memberlens ingest orders FILE`"
        )
    return pd.Timestamp(last).date()


def run_pipeline(
    project: Project | str | Path | None = None,
    *,
    as_of: dt.date | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Build every mart for ``as_of`` (default: the project's, else the last order day)."""
    step_msg = progress or (lambda _m: None)
    proj = project if isinstance(project, Project) else Project.load(project)
    run_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    config_hash = hashlib.sha256(proj.file.read_bytes()).hexdigest()[:12]
    records: list[StepRecord] = []
    with open_warehouse(proj) as wh, _scratch_dropped(wh, NEXT_RECOMMENDATIONS):
        orders = wh.table("orders")
        member_orders = orders.filter(orders.member_id.notnull())
        day = as_of or resolve_as_of(proj, orders)
        n_orders = int(member_orders.count().execute())
        items = wh.table("order_items") if wh.count("order_items") else None
        products = wh.table("products") if wh.count("products") else None
        members = wh.table("members") if wh.count("members") else None

        def timed(name, fn, rows_in):
            step_msg(name)
            t0 = time.perf_counter()
            out, rows_out, status, message = fn()
            records.append(
                StepRecord(name, rows_in, rows_out, time.perf_counter() - t0, status, message)
            )
            return out

        events = wh.table("events") if wh.count("events") else None
        interactions = wh.table("interactions") if wh.count("interactions") else None
        summary = timed(
            "summary",
            lambda: _summary(member_orders, day, items, products, events, interactions),
            n_orders,
        )
        models: dict = {}
        summary = timed("clv", lambda: _clv(summary, member_orders, day, models), len(summary))
        summary, segments = timed("segments", lambda: _segments(summary, proj), len(summary))
        summary, tiers = timed("tiers", lambda: _tiers(summary, models, proj), len(summary))
        lifecycle, history, moves = timed(
            "lifecycle", lambda: _lifecycle(wh, member_orders, day, proj), n_orders
        )
        cohorts = timed("cohorts", lambda: _cohorts(member_orders, day), n_orders)
        profiles = timed(
            "profiles", lambda: _profiles(member_orders, summary, members, day), n_orders
        )
        rules = (
            timed(
                "baskets",
                lambda: _baskets(items, orders, products, proj),
                int(items.count().execute()),
            )
            if items is not None
            else None
        )
        summary, clusters = timed("clusters", lambda: _clusters(summary), len(summary))
        replenish = (
            timed(
                "replenishment",
                lambda: _replenishment(member_orders, items, products, day),
                n_orders,
            )
            if items is not None and products is not None
            else None
        )
        recommended = (
            timed(
                "recommendations",
                lambda: _recommendations(wh, orders, items, products, events, day, proj, rules),
                n_orders,
            )
            if items is not None and _enabled(proj, "recommendations")
            else None
        )
        churn = (
            timed("churn", lambda: _churn(wh.con, day, proj, models), n_orders)
            if _enabled(proj, "churn")
            else None
        )
        forecast = (
            timed(
                "forecast",
                lambda: _forecast(orders, items, products, day),
                int(orders.count().execute()),
            )
            if _enabled(proj, "forecast")
            else None
        )

        lifecycle_stage = lifecycle[["member_id", "stage"]].rename(
            columns={"stage": "lifecycle_stage"}
        )
        mart = summary.merge(lifecycle_stage, on="member_id", how="left")
        del summary  # mart holds the same columns: one copy of the members, not two
        if members is not None:
            attrs = [
                c
                for c in (
                    "province",
                    "city",
                    "channel",
                    "gender",
                    "registered_at",
                    "phone_masked",
                    "email_masked",
                    "name_masked",
                )
                if c in members.columns
            ]
            profile = (
                members.select("member_id", *attrs)
                .rename({"registration_channel": "channel"} if "channel" in attrs else {})
                .to_pandas()
            )
            mart = mart.merge(profile, on="member_id", how="left")
        if churn is not None:
            mart = mart.merge(
                churn[["member_id", "churn_probability", "churn_risk_decile", "propensity_30d"]],
                on="member_id",
                how="left",
            )
        mart.insert(1, "as_of", pd.Timestamp(day))
        lifecycle_counts = lifecycle.groupby("stage").size().rename("members").reset_index()
        marts = {
            "mart_members": mart,
            "mart_segments": segments,
            "mart_tiers": tiers,
            "mart_lifecycle": lifecycle_counts,
            "mart_lifecycle_history": history,
            "mart_lifecycle_transitions": moves,
            "mart_profiles": profiles,
            **({"mart_rules": rules} if rules is not None else {}),
            **({"mart_clusters": clusters} if clusters is not None else {}),
            **({"mart_replenishment": replenish} if replenish is not None else {}),
            **(
                {"mart_recommendations": recommended[0], "mart_bought_together": recommended[1]}
                if recommended is not None
                else {}
            ),
            **(
                {"mart_forecast": forecast.forecast, "mart_forecast_backtest": forecast.backtest}
                if forecast is not None
                else {}
            ),
            **({"mart_churn": churn} if churn is not None else {}),
            "mart_cohorts": cohorts,
            "mart_models": pd.DataFrame(
                [
                    {
                        "run_id": run_id,
                        "as_of": pd.Timestamp(day),
                        "models": json.dumps(models, default=_json_default),
                    }
                ]
            ),
        }
        step_msg("writing marts")
        started = dt.datetime.now()
        sizes = {
            k: int(v.count().execute()) if isinstance(v, ir.Table) else len(v)
            for k, v in marts.items()
        }
        with wh.transaction():
            _append_history(wh, mart, day, run_id)
            del mart
            # one mart at a time, each pandas frame let go once it is in the warehouse, so
            # that a large shop never holds every mart twice (pandas and Arrow) at once
            for name in list(marts):
                frame = marts.pop(name)
                if isinstance(frame, ir.Table):  # staged in the warehouse already
                    wh.replace(name, frame, run_id)
                    continue
                table = register_arrow(wh.con, f"__new_{name}", _to_arrow(frame))
                del frame
                wh.replace(name, table, run_id)
                unregister(wh.con, f"__new_{name}")
            _record_run(wh, run_id, day, config_hash, started, records)
        step_msg("indexing")
        _index_member_ids(wh)
    return RunResult(run_id, day, records, sizes, models)


def _to_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """The frame as Arrow, text columns as strings; converted column by column (no copy of
    the whole frame)."""
    if isinstance(frame, pa.Table):
        return frame
    columns = []
    for col in frame.columns:
        one = frame[[col]]
        if one[col].dtype == object:
            one = one.astype("string")
        columns.append(pa.Table.from_pandas(one, preserve_index=False))
    if not columns:
        return pa.Table.from_pandas(frame, preserve_index=False)
    return pa.Table.from_arrays(
        [c.column(0) for c in columns], schema=pa.schema([c.schema.field(0) for c in columns])
    )


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _summary(orders, day, items, products, events, interactions):
    from memberlens.features import rfm_summary
    from memberlens.features.engagement import engagement_counts

    frame = rfm_summary(
        orders, as_of=day, time_unit="D", order_items=items, products=products
    ).to_pandas()
    engaged = engagement_counts(as_of=day, events=events, interactions=interactions)
    if engaged is not None:
        frame = frame.merge(engaged.to_pandas(), on="member_id", how="left")
        counts = [c for c in engaged.columns if c != "member_id"]
        frame[counts] = frame[counts].fillna(0).astype("int64")
    return frame, len(frame), "ok", ""


def _clv(summary: pd.DataFrame, orders, day, models: dict):
    """BG/NBD + Gamma-Gamma on weeks; adds p_alive, expected_purchases_90d, clv, next purchase."""
    from memberlens.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value

    weekly = summary[["member_id", "frequency"]].copy()
    weekly["recency"] = summary["recency"] / 7.0
    weekly["T"] = summary["T"] / 7.0
    weekly["monetary_value"] = summary["monetary_value"]
    repeaters = int((weekly.frequency > 0).sum())
    out = summary  # the pipeline's own frame: filled in place, no copy of millions of rows
    for col in ("p_alive", "expected_purchases_90d", "clv"):
        out[col] = np.nan
    out["next_purchase_date"] = pd.NaT
    if repeaters < 50:
        return (
            out,
            len(out),
            "skipped",
            (f"only {repeaters} members bought more than once; BG/NBD needs at least 50"),
        )
    bg = BetaGeoModel().fit(weekly)
    out["p_alive"] = bg.probability_alive(weekly).to_numpy()
    out["expected_purchases_90d"] = bg.expected_purchases(
        weekly, horizon=P_ALIVE_HORIZON_DAYS / 7.0
    ).to_numpy()
    out["next_purchase_date"] = bg.next_purchase(weekly, as_of=day, time_unit="W")[
        "next_purchase_date"
    ].to_numpy()
    models["bgnbd"] = {
        "params": bg.params_,
        "log_likelihood": bg.log_likelihood_,
        "n_members": len(weekly),
        "time_unit": "W",
    }
    spend = weekly[(weekly.frequency > 0) & (weekly.monetary_value > 0)]
    message = ""
    if len(spend) >= 50:
        gg = GammaGammaModel().fit(spend)
        value = customer_lifetime_value(
            bg, gg, weekly, horizon=CLV_HORIZON_MONTHS, discount_rate=0.01, period=52.0 / 12.0
        )
        out["clv"] = value.to_numpy()
        models["gamma_gamma"] = {"params": gg.params_, "log_likelihood": gg.log_likelihood_}
    else:
        message = "too few repeat buyers with spend for Gamma-Gamma; clv left empty"
    return out, len(out), "ok", message


def _segments(summary: pd.DataFrame, project: Project):
    from memberlens.segmentation import SCHEMES, RFMScorer, assign_segments, scheme_from_dict

    scorer = RFMScorer().fit(summary)
    out = summary
    rows = []
    custom = [
        scheme_from_dict(name, spec)
        for name, spec in dict(project.settings.get("segments", {})).items()
    ]
    for scheme in [*SCHEMES.values(), *custom]:
        seg = assign_segments(summary, scheme, scorer)
        if "R" not in out.columns:
            for c in ("R", "F", "M", "rfm_cell", "rfm_total"):
                out[c] = seg[c].to_numpy()
        out[f"segment_{scheme.name}"] = seg["segment"].to_numpy()
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
    return (out, table), len(out), "ok", ""


def _tiers(summary: pd.DataFrame, models: dict, project: Project):
    from memberlens.segmentation import ValueTierModel

    frame = summary.dropna(axis=1, how="all")
    settings = dict(project.settings.get("tiers", {}))
    model = ValueTierModel(**settings).fit(frame)
    out = summary
    tiers = model.transform(frame)
    out["value_score"] = tiers["value_score"].to_numpy()
    out["value_tier"] = tiers["tier"].to_numpy()
    models["value_tiers"] = {
        "weights": model.weights_,
        "thresholds": model.thresholds_,
        "notes": model.notes_,
        "rules": [asdict(r) for r in model.rules_],
    }
    counts = (
        out.groupby("value_tier")
        .agg(members=("member_id", "size"), revenue=("total_spend", "sum"))
        .reset_index()
    )
    return (out, counts), len(out), "ok", "; ".join(model.notes_)


def _lifecycle(wh, orders, day, project: Project):
    """Stages at ``day``, monthly counts over the last year and month-over-month moves.

    The stage of every member at each month end is computed in one pass and materialised once,
    then counted and compared month to month (one scan of the purchases instead of one per
    month end for the counts and two for each transition).
    """
    from memberlens.behavior.lifecycle import (
        LifecycleRules,
        counts_from_monthly,
        lifecycle_stages,
        monthly_stages,
        transitions_from_monthly,
    )

    rules = LifecycleRules.from_dict(dict(project.settings.get("lifecycle", {})))
    frame = lifecycle_stages(orders, as_of=day, rules=rules).to_pandas()
    start = (pd.Timestamp(day) - pd.DateOffset(months=LIFECYCLE_MONTHS)).date()
    wide = wh.materialize(
        "__monthly_stages", monthly_stages(orders, start=start, end=day, rules=rules)
    )
    try:
        history = counts_from_monthly(wide).to_pandas()
        moves = transitions_from_monthly(wide).to_pandas()
    finally:
        wh.drop_temp("__monthly_stages")
    return (frame, history, moves), len(frame), "ok", ""


def _profiles(orders, summary: pd.DataFrame, members, day):
    """Purchase statistics by province, channel and RFM segment (long: dimension, group, ...)."""
    from memberlens.behavior.profiles import purchase_profile

    parts = []
    groups = {"segment_cn8": summary[["member_id", "segment_cn8"]]}
    if members is not None:
        attrs = members.select(
            "member_id", *[c for c in ("province", "channel") if c in members.columns]
        ).to_pandas()
        groups |= {c: attrs[["member_id", c]] for c in attrs.columns if c != "member_id"}
    for by, frame in groups.items():
        table = purchase_profile(
            orders, frame.rename(columns={by: "value"}), by="value", as_of=day
        ).to_pandas()
        table.insert(0, "dimension", by)
        parts.append(table.rename(columns={"value": "group"}))
    out = pd.concat(parts, ignore_index=True)
    return out, len(out), "ok", ""


def _cohorts(orders, day):
    from memberlens.behavior.cohorts import cohort_retention

    frame = cohort_retention(orders, as_of=day).to_pandas()
    return frame, len(frame), "ok", ""


def _baskets(items, orders, products, project: Project):
    """Association rules between products (or categories: ``[baskets] level``), with arules'
    semantics; the default support asks for at least 20 baskets, confidence 5%, 3 items."""
    from memberlens.baskets import association_rules, baskets_from_orders

    settings = dict(project.settings.get("baskets", {}))
    level = settings.get("level", "product")
    pairs = baskets_from_orders(
        items, level=level, orders=orders, products=products if level == "category" else None
    )
    n_baskets = pc.count_distinct(pairs.column("basket_id")).as_py() if pairs.num_rows else 0
    if n_baskets == 0:
        return pd.DataFrame(), 0, "skipped", "no baskets"
    support = float(settings.get("min_support", max(20 / n_baskets, 1e-6)))
    rules = association_rules(
        pairs,
        min_support=support,
        min_confidence=float(settings.get("min_confidence", 0.05)),
        min_len=2,
        max_len=int(settings.get("max_len", 3)),
    )
    out = rules.assign(
        antecedent=[" + ".join(map(str, a)) for a in rules.antecedent],
        antecedent_size=[len(a) for a in rules.antecedent],
        level=level,
    )
    out["conviction"] = out["conviction"].replace(np.inf, np.nan)
    return out, len(out), "ok", f"{n_baskets:,} baskets, min support {support:.5f}"


def _clusters(summary: pd.DataFrame):
    """k-means clusters with profiles (k by silhouette and stability) on the member summary."""
    from memberlens.segmentation import cluster_members

    if len(summary) < 50:
        return (summary, None), len(summary), "skipped", "fewer than 50 members"
    result = cluster_members(summary, method="kmeans", k="auto")
    labels = result.labels.rename(columns={"name_en": "cluster_en", "name_zh": "cluster_zh"})
    out = summary.merge(labels, on="member_id", how="left")
    profiles = result.profiles.copy()
    for col in profiles.columns:
        if profiles[col].dtype == object:
            profiles[col] = profiles[col].map(
                lambda v: (
                    v
                    if isinstance(v, str) or v is None
                    else json.dumps(v, default=_json_default, ensure_ascii=False)
                )
            )
    return (out, profiles), len(out), "ok", f"k = {result.k}"


def _replenishment(orders, items, products, day):
    """Expected next purchase and P(buy within 30 days) per member and category."""
    from memberlens.behavior.replenishment import next_purchases

    result = next_purchases(orders, items, products, as_of=day, level="category")
    frame = result.predictions
    return frame, len(frame), "ok", f"{len(result.keys)} categories"


HISTORY_COLUMNS = ("segment_cn8", "segment_rfm11", "value_tier", "lifecycle_stage")


def _append_history(wh, mart: pd.DataFrame, day: dt.date, run_id: str) -> None:
    """Keep each member's segment, tier and stage per as-of date in ``mart_member_history``.

    One row per member and as-of date: a re-run for the same date replaces that date's rows
    (idempotent), other dates are kept, so Member 360 can show how a member moved.
    """
    frame = pd.DataFrame(
        {"as_of": pd.Timestamp(day), "run_id": run_id, "member_id": mart["member_id"]}
    )
    for col in HISTORY_COLUMNS:
        frame[col] = mart[col] if col in mart.columns else None
    schema = pa.schema(
        [
            ("as_of", pa.date32()),
            ("run_id", pa.string()),
            ("member_id", pa.string()),
            *[(c, pa.string()) for c in HISTORY_COLUMNS],
        ]
    )
    frame["member_id"] = frame["member_id"].astype("string")
    for col in HISTORY_COLUMNS:
        frame[col] = frame[col].astype("string")
    frame["as_of"] = frame["as_of"].dt.date
    new = register_arrow(
        wh.con,
        "__new_mart_member_history",
        pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
    )
    if wh.has("mart_member_history"):
        old = wh.table("mart_member_history")
        kept = old.filter(old.as_of != day).select(*new.columns)
        new = kept.union(new)
        if wh.con.name == "duckdb":  # the old table must not be read while it is replaced
            new = wh.materialize("__member_history_next", new)
    wh.replace("mart_member_history", new, run_id)


def _enabled(project: Project, step: str) -> bool:
    """Optional steps can be left out with ``[run] skip = ["recommendations", ...]``."""
    skip = dict(project.settings.get("run", {})).get("skip", [])
    return step not in set(skip)


#: where the recommendations go batch by batch until the run's transaction swaps them in.
NEXT_RECOMMENDATIONS = "__next_mart_recommendations"


@contextlib.contextmanager
def _scratch_dropped(wh, name: str):
    """Drop the scratch table ``name`` when the run ends, whether it succeeded or not."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            wh.con.drop_table(name, force=True)


def _recommendations(wh, orders, items, products, events, day, project: Project, rules=None):
    """Top-10 products per member (hybrid: ALS + item kNN + popularity, filters, reasons in
    English and Chinese) and the bought-together list per product.

    The recommendations (ten rows per member: 41 million for 4.1 million members) are appended
    batch by batch to a scratch table in the warehouse, never held whole in memory; the run's
    transaction copies them into ``mart_recommendations``. "Bought together" reuses the
    baskets step's product rules (no second pass over the order lines) when it mined products.
    """
    from memberlens.exceptions import DataError
    from memberlens.recommend import recommendation_mart
    from memberlens.recommend.mart import MART_RECOMMENDATION_COLUMNS

    settings = dict(project.settings.get("recommend", {}))
    product_rules = (
        rules
        if rules is not None and len(rules) and set(rules.get("level", [])) == {"product"}
        else None
    )
    wh.con.drop_table(NEXT_RECOMMENDATIONS, force=True)
    written = []

    def append(batch: pa.Table) -> None:
        part = register_arrow(wh.con, "__recommendation_batch", batch)
        try:
            if written:
                wh.con.insert(NEXT_RECOMMENDATIONS, part)
            else:
                wh.con.create_table(NEXT_RECOMMENDATIONS, part)
            written.append(batch.num_rows)
        finally:
            unregister(wh.con, "__recommendation_batch")

    try:
        rows, together = recommendation_mart(
            orders,
            items,
            products,
            events,
            as_of=day,
            k=int(settings.get("k", 10)),
            kind=settings.get("kind", "hybrid"),
            sink=append,
            rules=product_rules,
        )
    except DataError as exc:
        wh.con.drop_table(NEXT_RECOMMENDATIONS, force=True)
        return None, 0, "skipped", str(exc)
    if not written:  # nobody to recommend to: an empty mart with the mart's columns
        types = {"rank": pa.int64(), "score": pa.float64()}
        append(
            pa.table(
                {c: pa.array([], types.get(c, pa.string())) for c in MART_RECOMMENDATION_COLUMNS}
            )
        )
    recs = wh.con.table(NEXT_RECOMMENDATIONS)
    members = int(recs.member_id.nunique().execute()) if rows else 0
    return (
        (recs, together),
        rows,
        "ok",
        f"{members:,} members, "
        f"{together['product_id'].nunique():,} products with a bought-together list",
    )


#: Above this many members the churn step trains a missing model on a sample of about this
#: many members (one in ceil(members / this), by a hash of member_id) and scores everyone;
#: ``[churn] train_in_run = true`` trains on everyone, ``false`` only scores saved models,
#: ``[churn] train_sample = N`` changes the sample size.
CHURN_TRAIN_SAMPLE = 200_000


def _churn(con, day, project: Project, models: dict):
    """Churn risk, 30-day (and per-category, when saved) purchase propensity and reasons."""
    from memberlens.churn import churn_mart
    from memberlens.exceptions import ConfigError, DataError, MissingTableError

    settings = dict(project.settings.get("churn", {}))
    setting = settings.get("train_in_run", "auto")
    if setting not in ("auto", True, False):
        return (
            None,
            0,
            "skipped",
            (
                f'[churn] train_in_run: must be "auto", true or false, '
                f"got {setting!r}; fix it in memberlens.toml"
            ),
        )
    sample = settings.get("train_sample", CHURN_TRAIN_SAMPLE) if setting == "auto" else None
    if sample is not None and (
        not isinstance(sample, int) or isinstance(sample, bool) or sample < 1
    ):
        return (
            None,
            0,
            "skipped",
            (
                f"[churn] train_sample: must be a number of members >= 1, "
                f"got {sample!r}; fix it in memberlens.toml"
            ),
        )
    train = setting is not False
    try:
        frame, summary = churn_mart(
            con, as_of=day, project=project, train=train, train_sample=sample
        )
    except (DataError, MissingTableError, ConfigError) as exc:
        return None, 0, "skipped", str(exc)
    models["churn"] = summary
    auc = summary["auc"]
    message = (
        f"back-test AUC {auc:.3f}, horizon {summary['horizon_days']} days"
        if auc is not None
        else summary["churn"].get("backtest_error", "no back-test")
    )
    return frame, len(frame), "ok", f"model {summary['churn']['source']}; {message}"


def _forecast(orders, items, products, day):
    """Weekly revenue and orders forecast (total and per category, all orders including
    guests') with its back-test against seasonal-naive ([forecast.md](../../docs/forecast.md))."""
    from memberlens.exceptions import MemberlensError
    from memberlens.forecast import forecast_mart

    try:
        result = forecast_mart(orders, items, products, as_of=day, backtest_origins=8)
    except MemberlensError as exc:  # e.g. fewer than 12 full weeks of sales
        return None, 0, "skipped", str(exc)
    return result, len(result.forecast), "ok", "; ".join(result.notes)[:500]


def _index_member_ids(wh) -> None:
    """ART indexes on member_id for the dashboard's point look-ups (DuckDB only).

    Measured with benchmarks/web_load.py at 1M members: member 360 p95 2.3 s -> 0.11 s.
    """
    if wh.con.name != "duckdb":
        return
    for table in (
        "orders",
        "members",
        "mart_members",
        "mart_member_history",
        "mart_recommendations",
    ):
        if wh.has(table):
            wh.con.raw_sql(
                f'CREATE INDEX IF NOT EXISTS "{table}_member_id" ON "{table}" (member_id)'
            )


def _record_run(wh, run_id, day, config_hash, started, records) -> None:
    rows = [
        {
            "run_id": run_id,
            "step": r.step,
            "as_of": day,
            "config_hash": config_hash,
            "started_at": started,
            "finished_at": dt.datetime.now(),
            "rows_in": r.rows_in,
            "rows_out": r.rows_out,
            "status": r.status,
            "message": r.message,
        }
        for r in records
    ]
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("run_id", pa.string()),
                ("step", pa.string()),
                ("as_of", pa.date32()),
                ("config_hash", pa.string()),
                ("started_at", pa.timestamp("us")),
                ("finished_at", pa.timestamp("us")),
                ("rows_in", pa.int64()),
                ("rows_out", pa.int64()),
                ("status", pa.string()),
                ("message", pa.string()),
            ]
        ),
    )
    if wh.con.name == "duckdb":
        wh.con.insert("_runs", ibis.memtable(table))
    else:
        wh.append("_runs", register_arrow(wh.con, "__runs", table), run_id)
