"""The churn mart of ``memberlens run``: one row per member with churn risk, purchase
propensity, the member's most likely categories and the top churn reasons in both languages.

Models are trained on a schedule, not in every run (:class:`TrainingPolicy`): a model saved in
the project (by ``memberlens churn train`` or by an earlier run) with a cutoff on or before the
as-of day is reused unless it is older than ``retrain_days`` or the scores drifted (population
stability index of the churn score against the scores of the run that trained or first used
it above ``max_psi``). Otherwise the model is trained here with what is known at ``as_of``
(labels ending on or before it: the calibration cutoff is ``as_of - horizon``, the training
cutoffs earlier), back-tested, and saved for the next runs. Per-category propensities appear
only when a category model was trained (``memberlens churn train --target propensity
--category all``). Scoring streams the engine's feature rows in batches, so memory is bounded
by the batch plus the mart itself; the churn reasons are computed only for the members in the
``reasons_deciles`` highest risk deciles (a second pass over the features), the members someone
looks at; ``memberlens churn score`` explains any member on demand.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memberlens.churn.features import ChurnInputs, fit_purchase_model, with_purchase_model
from memberlens.churn.labels import PROPENSITY_DAYS
from memberlens.churn.model import ChurnModel
from memberlens.churn.training import (
    ALL_CATEGORIES,
    BATCH_ROWS,
    model_dir,
    scores,
    train_inputs,
)
from memberlens.engine.protocol import WarehouseProtocol
from memberlens.exceptions import ConfigError
from memberlens.features.purchases import as_day, as_table, purchases

__all__ = [
    "CATEGORY_SLOTS",
    "TrainingPolicy",
    "churn_mart",
    "population_stability",
    "risk_deciles",
    "sample_rate",
]

#: The member's most likely categories kept in the mart (category_1 ... category_3).
CATEGORY_SLOTS = 3
#: Members whose churn reasons are computed together (about 200 MB of features and SHAP
#: values; each call costs one LightGBM call per tree however many rows it has).
REASON_ROWS = 1_000_000


def risk_deciles(probability, member_id) -> np.ndarray:
    """Decile of each member by ``probability``, 1 = the highest tenth (ties by member_id)."""
    p = np.asarray(probability, dtype=float)
    order = np.lexsort((np.asarray(member_id).astype(str), -p))
    decile = np.empty(p.size, dtype=np.int64)
    decile[order] = np.arange(p.size) * 10 // max(p.size, 1) + 1
    return decile


@dataclass(frozen=True)
class TrainingPolicy:
    """When ``memberlens run`` retrains churn (``[churn]`` in ``memberlens.toml``).

    ``retrain_days``: a saved model whose cutoff is more than this many days before the as-of
    day is retrained. ``max_psi``: a saved model is retrained when the population stability
    index of the churn score (ten bins, the deciles of the scores when the model was trained
    or first used) exceeds this (0.1-0.25 is the usual "watch" band, above 0.25 a real shift:
    Siddiqi 2006, *Credit Risk Scorecards*, ch. 8). ``reasons_deciles``: the churn reasons are
    written for the members in this many highest risk deciles (10: everyone).
    """

    retrain_days: int = 30
    max_psi: float = 0.2
    reasons_deciles: int = 2

    def __post_init__(self) -> None:
        for name, low, high in (("retrain_days", 0, 100_000), ("reasons_deciles", 0, 10)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or not low <= value <= high
            ):
                raise ConfigError(
                    f"[churn] {name}: must be a whole number in [{low}, {high}], got {value!r}; "
                    "fix it in memberlens.toml"
                )
        if (
            isinstance(self.max_psi, bool)
            or not isinstance(self.max_psi, numbers.Real)
            or not self.max_psi > 0
        ):
            raise ConfigError(
                f"[churn] max_psi: must be a number > 0 (e.g. 0.2), got {self.max_psi!r}; "
                "fix it in memberlens.toml"
            )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TrainingPolicy:
        """The policy from a ``[churn]`` section (its other keys are ignored here)."""
        known = ("retrain_days", "max_psi", "reasons_deciles")
        return cls(**{k: settings[k] for k in known if k in settings})


#: bins of the score reference kept with a model (deciles)
PSI_BINS = 10


def score_reference(probability) -> list[float]:
    """Inner decile edges of the scores (what :func:`population_stability` compares with)."""
    p = np.asarray(probability, dtype=float)
    return np.quantile(p, np.arange(1, PSI_BINS) / PSI_BINS).tolist() if p.size else []


def population_stability(reference_edges, probability) -> float:
    """Population stability index of ``probability`` against the deciles ``reference_edges``
    (ten equal shares by construction): ``sum((a - e) * ln(a / e))`` over the bins, shares
    floored at 1e-4 so that an empty bin stays finite (Siddiqi 2006, ch. 8).

    >>> round(population_stability([0.1 * i for i in range(1, 10)], np.linspace(0, 1, 1001)), 4)
    0.0
    """
    edges = np.asarray(reference_edges, dtype=float)
    p = np.asarray(probability, dtype=float)
    if edges.size != PSI_BINS - 1 or not p.size:
        return float("nan")
    actual = np.bincount(np.searchsorted(edges, p, side="right"), minlength=PSI_BINS) / p.size
    actual = np.maximum(actual, 1e-4)
    expected = np.full(PSI_BINS, 1.0 / PSI_BINS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _inputs(source, tables: dict) -> ChurnInputs:
    if isinstance(source, ChurnInputs):
        return source
    if isinstance(source, WarehouseProtocol) or hasattr(source, "list_tables"):
        return ChurnInputs.from_backend(source)  # a warehouse, or a backend holding its tables
    return ChurnInputs(orders=source, **tables)


def run_model_dir(project, target: str) -> Path:
    """Where ``memberlens run`` keeps the models it trained (next to, never over, the models of
    ``memberlens churn train``)."""
    folder = model_dir(project, target)
    return folder.with_name(f"{folder.name}-run")


def _saved(project, target: str, end: dt.date, category: str = ALL_CATEGORIES):
    """The newest saved model for ``target`` (``memberlens churn train``'s or an earlier
    run's; the former on a tie) whose cutoff is on or before ``end``."""
    if project is None:
        return None
    best = None
    for folder in (model_dir(project, target, category=category), run_model_dir(project, target)):
        if not (folder / "model.json").exists():
            continue
        model, meta = ChurnModel.load(folder)
        cutoff = dt.date.fromisoformat(meta["cutoff"])
        if cutoff > end:  # it has seen labels after the as-of day
            continue
        if best is None or cutoff > best[2]:
            best = (
                model,
                {**meta, "source": f"saved ({folder.name})", "folder": str(folder)},
                cutoff,
            )
    return None if best is None else best[:2]


def _model(
    project,
    inputs: ChurnInputs,
    target: str,
    end: dt.date,
    train: bool,
    sampled: Callable[[], int] = lambda: 1,
    policy: TrainingPolicy | None = None,
    force: str | None = None,
) -> tuple[ChurnModel, dict]:
    """The saved model when the policy allows reusing it, else one trained (and back-tested)
    now on one member in ``sampled()`` and saved in the project; ``meta["decision"]`` says
    which and why. ``force`` (a reason) retrains whatever is saved."""
    saved = _saved(project, target, end) if force is None else None
    if saved is not None:
        model, meta = saved
        age = (end - dt.date.fromisoformat(meta["cutoff"])).days
        stale = policy is not None and age > policy.retrain_days
        if not stale or not train:
            note = f"model reused, trained {meta['cutoff']}" + (
                f" ({age} days old; train_in_run = false)" if stale else ""
            )
            return model, {**meta, "decision": note, "reused": True}
        force = f"model older than {policy.retrain_days} days (trained {meta['cutoff']})"
    if not train:
        raise ConfigError(
            f"no saved {target} model with a cutoff on or before {end}; run "
            f"`memberlens churn train --target {target}` (or let the mart train "
            "it: train=True)"
        )
    one_in = sampled()
    model, meta = train_inputs(inputs.sample(one_in), cutoff=end, target=target, backtest=False)
    source = f"trained at {end}" + (f" on 1 member in {one_in}" if one_in > 1 else "")
    meta = {**meta, "source": source, "sample_one_in": one_in}
    if project is not None:
        folder = model.save(run_model_dir(project, target), metadata=meta)
        meta["folder"] = str(folder)
    why = force or "no saved model"
    return model, {**meta, "decision": f"model trained {end} ({why})", "reused": False}


def sample_rate(members: int, train_sample: int | None) -> int:
    """``one_in`` for training on about ``train_sample`` of ``members`` members (1: all)."""
    if train_sample is None or members <= train_sample:
        return 1
    if train_sample < 1:
        raise ConfigError(f"train_sample: must be a number of members >= 1, got {train_sample}")
    return -(-members // train_sample)


def _category_models(project, end: dt.date) -> dict[str, tuple[ChurnModel, dict]]:
    """category -> (model, metadata) of the saved category models; a model trained for one
    category wins over the pooled "all" model for that category."""
    if project is None:
        return {}
    found: dict[str, tuple[ChurnModel, dict]] = {}
    folders = sorted(
        Path(model_dir(project, "category")).parent.glob("churn-category-*"),
        key=lambda f: f.name != model_dir(project, "category").name,
    )
    for folder in folders:  # "all" first, then one folder per named category
        if not (folder / "model.json").exists():
            continue
        model, meta = ChurnModel.load(folder)
        if dt.date.fromisoformat(meta["cutoff"]) <= end:
            for category in meta.get("categories", []):
                found[category] = (model, {**meta, "source": f"saved ({folder.name})"})
    return found


def _metrics(meta: dict, category: str | None = None) -> dict:
    """The back-test's LightGBM figures and its baselines' AUC (None without a back-test)."""
    test = meta.get("backtest")
    out = {
        "source": meta["source"],
        "cutoff": meta["cutoff"],
        "horizon_days": int(meta["horizon_days"]),
        "n_train": meta.get("n_train"),
        "auc": None,
    }
    if not test:
        return {**out, "backtest_error": meta.get("backtest_error", "no back-test")}
    rows = [m for m in test["metrics"] if m.get("category") == category]
    best = next(m for m in rows if m["model"] == "lightgbm")
    return {
        **out,
        "auc": best["auc"],
        "pr_auc": best["pr_auc"],
        "brier": best["brier"],
        "top_decile_lift": best["top_decile_lift"],
        "test_cutoff": test["test_cutoff"],
        "members_tested": best["members"],
        "baseline_auc": {
            m["model"]: m["auc"]
            for m in rows
            if m["model"] not in ("lightgbm", "lightgbm_uncalibrated")
        },
    }


def _top_categories(
    models: dict, inputs: ChurnInputs, end: dt.date, batch_rows: int
) -> pd.DataFrame | None:
    """member_id, category_1, category_1_propensity, ... (the member's most likely)."""
    if not models:
        return None
    groups: dict[int, tuple[ChurnModel, list[str]]] = {}
    for category, (model, _) in models.items():
        groups.setdefault(id(model), (model, []))[1].append(category)
    best = []
    for model, categories in groups.values():
        for batch in scores(
            model,
            inputs,
            as_of=end,
            horizon_days=PROPENSITY_DAYS,
            column="p",
            batch_rows=batch_rows,
            top=0,
            categories=tuple(categories),
        ):
            batch = batch.sort_values(["member_id", "p", "category"], ascending=[True, False, True])
            best.append(batch.groupby("member_id", sort=False).head(CATEGORY_SLOTS))
    rows = pd.concat(best, ignore_index=True).sort_values(
        ["member_id", "p", "category"], ascending=[True, False, True]
    )
    rows = rows.groupby("member_id", sort=False).head(CATEGORY_SLOTS)
    rows["slot"] = rows.groupby("member_id", sort=False).cumcount() + 1
    wide = rows.pivot(index="member_id", columns="slot", values=["category", "p"])
    out = pd.DataFrame(index=wide.index)
    for slot in range(1, CATEGORY_SLOTS + 1):
        has = slot in wide.columns.get_level_values(1)
        out[f"category_{slot}"] = wide[("category", slot)] if has else None
        out[f"category_{slot}_propensity"] = wide[("p", slot)].astype(float) if has else np.nan
    return out.reset_index()


def churn_mart(
    source,
    *,
    as_of: dt.date | str,
    project=None,
    batch_rows: int = BATCH_ROWS,
    reasons: int = 3,
    train: bool = True,
    train_sample: int | None = None,
    policy: TrainingPolicy | None = None,
    events=None,
    interactions=None,
    order_items=None,
    products=None,
) -> tuple[pd.DataFrame, dict]:
    """The churn mart and a summary of the models behind it.

    ``source``: an Ibis backend holding the canonical tables (the warehouse), a
    :class:`ChurnInputs`, or the ``orders`` table (then pass the optional tables by keyword).
    ``project``: where saved models are looked up (None: always train here). ``train=False``
    refuses to train a missing model (:class:`~memberlens.exceptions.ConfigError`).
    ``train_sample``: train missing models on about this many members (one in
    ``ceil(members / train_sample)``, chosen by a hash of member_id) when there are more; every
    member is still scored. None: train on everyone. ``policy``: when a saved model is reused
    or retrained and whom the reasons are written for (:class:`TrainingPolicy`; default
    ``TrainingPolicy()``).

    Returns ``(frame, summary)``. ``frame``: member_id, churn_probability, churn_risk_decile
    (1 = the tenth most at risk), propensity_30d (P(purchase in the next 30 days)),
    category_1 / category_1_propensity ... category_3 (when a category model is saved),
    reason_1_en, reason_1_zh, ... (why the churn score is high; empty outside the
    ``policy.reasons_deciles`` highest risk deciles). ``summary``: as_of, members, model_kind,
    horizon_days, auc (the churn back-test's), ``decision`` (e.g. "model reused, trained
    2026-11-30, PSI 0.03"), ``psi``, and per model (``churn``, ``propensity``, ``categories``)
    its source, cutoffs and back-test figures.
    """
    end = as_day(as_of, name="as_of")
    policy = policy or TrainingPolicy()
    inputs = _inputs(
        source,
        {
            "events": events,
            "interactions": interactions,
            "order_items": order_items,
            "products": products,
        },
    )
    frame, churn, churn_meta, buy_meta, decision, psi, horizon, chosen = _scored(
        project, inputs, end, train, train_sample, policy, reasons, batch_rows
    )
    has_lines = inputs.order_items is not None and inputs.products is not None
    category_models = _category_models(project, end) if has_lines else {}
    top = _top_categories(category_models, inputs, end, batch_rows)
    if top is not None:
        reason_columns = [c for c in frame.columns if c.startswith("reason_")]
        frame = frame.merge(top, on="member_id", how="left", validate="one_to_one")
        frame = frame[[c for c in frame.columns if c not in reason_columns] + reason_columns]
    frame = frame.sort_values("member_id", ignore_index=True)
    calibration = churn.calibration_["method"] if churn.calibration_ else "uncalibrated"
    summary = {
        "as_of": end.isoformat(),
        "members": len(frame),
        "model_kind": f"lightgbm ({calibration})",
        "horizon_days": horizon,
        "auc": _metrics(churn_meta)["auc"],
        "decision": decision,
        "psi": None if psi != psi else psi,
        "reasons_for": int(len(chosen)),
        "churn": _metrics(churn_meta),
        "propensity": _metrics(buy_meta),
        "categories": {c: _metrics(meta, c) for c, (_, meta) in category_models.items()},
    }
    return frame, summary


class _SampleRate:
    """``one_in`` for training on about ``train_sample`` members (:func:`sample_rate`),
    counting the buyers (a scan of the orders) only when a model is trained, once."""

    def __init__(self, inputs: ChurnInputs, end: dt.date, train_sample: int | None) -> None:
        self.inputs, self.end, self.train_sample = inputs, end, train_sample
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = 1
            if self.train_sample is not None:
                buyers = purchases(as_table(self.inputs.orders), end=self.end).member_id.nunique()
                self.value = sample_rate(int(buyers.execute()), self.train_sample)
        return self.value


def _scored(project, inputs, end, train, train_sample, policy, reasons, batch_rows):
    """The models (saved or trained), then the scores, risk deciles and reasons of every
    member from the features at ``end``, computed once into a temporary table that the purchase
    model's fit, the scores and the reasons all read (each read computed them again before)."""
    sampled = _SampleRate(inputs, end, train_sample if train else None)
    churn, churn_meta = _model(project, inputs, "churn", end, train, sampled, policy)
    buy, buy_meta = _model(project, inputs, "purchase", end, train, sampled, policy)
    models = (churn, churn_meta, buy, buy_meta)
    with inputs.features(end).cache() as table:
        return _score(
            project, inputs, table, models, end, train, sampled, policy, reasons, batch_rows
        )


def _score(project, inputs, table, models, end, train, sampled, policy, reasons, batch_rows):
    churn, churn_meta, buy, buy_meta = models
    purchase_model = fit_purchase_model(table)
    frame = _probabilities(table, churn, buy, purchase_model, churn_meta, batch_rows)
    psi = population_stability(churn_meta.get("score_reference"), frame["churn_probability"])
    if churn_meta["reused"] and train and psi > policy.max_psi:
        why = f"score drift: PSI {psi:.2f} > {policy.max_psi}"
        churn, churn_meta = _model(project, inputs, "churn", end, train, sampled, policy, why)
        buy, buy_meta = _model(project, inputs, "purchase", end, train, sampled, policy, why)
        frame = _probabilities(table, churn, buy, purchase_model, churn_meta, batch_rows)
        psi = float("nan")
    if not churn_meta.get("score_reference"):  # trained now, or saved without one
        churn_meta["score_reference"] = score_reference(frame["churn_probability"])
        _keep_reference(project, churn_meta)
    decision = churn_meta["decision"] + ("" if psi != psi else f", PSI {psi:.2f}")
    horizon = int(churn_meta["horizon_days"])
    frame.insert(
        2, "churn_risk_decile", risk_deciles(frame["churn_probability"], frame["member_id"])
    )
    chosen = frame.loc[frame["churn_risk_decile"] <= policy.reasons_deciles, "member_id"]
    frame = frame.merge(
        _reasons(table, churn, purchase_model, horizon, chosen, reasons, batch_rows),
        on="member_id",
        how="left",
    )
    return frame, churn, churn_meta, buy_meta, decision, psi, horizon, chosen


def _keep_reference(project, meta: dict) -> None:
    """Write the score reference into the saved churn model's metadata (the next runs' PSI)."""
    folder = Path(meta["folder"]) if project is not None and meta.get("folder") else None
    if folder is None or not (folder / "model.json").exists():
        return
    model, saved = ChurnModel.load(folder)
    model.save(folder, metadata={**saved, "score_reference": meta["score_reference"]})


def _probabilities(
    table, churn: ChurnModel, buy: ChurnModel, purchase_model, meta: dict, batch_rows: int
) -> pd.DataFrame:
    """member_id, churn_probability, propensity_30d of every member (batches of features)."""
    horizon = int(meta["horizon_days"])
    parts = []
    for batch in table.to_pyarrow_batches(chunk_size=batch_rows):
        base = batch.to_pandas()
        churn_features = with_purchase_model(base, purchase_model, horizon_days=horizon)
        buy_features = with_purchase_model(base, purchase_model, horizon_days=PROPENSITY_DAYS)
        parts.append(
            pd.DataFrame(
                {
                    "member_id": base["member_id"].to_numpy(dtype=object),
                    "churn_probability": churn.probability(churn_features).to_numpy(),
                    "propensity_30d": buy.probability(buy_features).to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _reasons(
    table,
    churn: ChurnModel,
    purchase_model,
    horizon: int,
    chosen: pd.Series,
    top: int,
    batch_rows: int,
) -> pd.DataFrame:
    """member_id and the ``top`` churn reasons (both languages) of the ``chosen`` members:
    a second pass over the features picks their rows, explained :data:`REASON_ROWS` at a
    time rather than per batch of features (the SHAP contributions cost one LightGBM call per
    tree and call, whatever the number of rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [f"reason_{i}_{lang}" for i in range(1, top + 1) for lang in ("en", "zh")]
    wanted = pa.array(chosen.astype(str).to_numpy(dtype=object), pa.string())
    parts = [pd.DataFrame({c: pd.Series(dtype=object) for c in ["member_id", *columns]})]
    picked: list[pa.Table] = []

    def explain() -> None:
        base = pa.concat_tables(picked).to_pandas()
        picked.clear()
        features = with_purchase_model(base, purchase_model, horizon_days=horizon)
        why = churn.reasons(features, top=top)
        why = why[[c for c in why.columns if not c.endswith("_feature")]]
        parts.append(pd.concat([base[["member_id"]], why], axis=1))

    for batch in table.to_pyarrow_batches(chunk_size=batch_rows) if len(wanted) else ():
        # the chosen rows picked in Arrow: only they become pandas
        ids = batch.column("member_id")
        keep = pc.is_in(ids if pa.types.is_string(ids.type) else pc.cast(ids, pa.string()), wanted)
        rows = pa.Table.from_batches([batch]).filter(keep)
        if rows.num_rows:
            picked.append(rows)
        if sum(t.num_rows for t in picked) >= REASON_ROWS:
            explain()
    if picked:
        explain()
    out = pd.concat(parts, ignore_index=True)
    # reasons repeat a few hundred phrases: categorical, not one Python string per member
    return out.astype({c: "category" for c in out.columns if c.startswith("reason_")})
