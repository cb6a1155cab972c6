"""The churn mart of ``memberlens run``: one row per member with churn risk, purchase
propensity, the member's most likely categories and the top churn reasons in both languages.

Models come from ``memberlens churn train`` when saved in the project with a cutoff on or before
the as-of day; otherwise they are trained here with what is known at ``as_of`` (labels ending on
or before it: the calibration cutoff is ``as_of - horizon``, the training cutoffs earlier) and
not saved. Per-category propensities appear only when a category model was trained
(``memberlens churn train --target propensity --category all``). Scoring streams the engine's
feature rows in batches, so memory is bounded by the batch plus the mart itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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

__all__ = ["CATEGORY_SLOTS", "churn_mart", "risk_deciles", "sample_rate"]

#: The member's most likely categories kept in the mart (category_1 ... category_3).
CATEGORY_SLOTS = 3


def risk_deciles(probability, member_id) -> np.ndarray:
    """Decile of each member by ``probability``, 1 = the highest tenth (ties by member_id)."""
    p = np.asarray(probability, dtype=float)
    order = np.lexsort((np.asarray(member_id).astype(str), -p))
    decile = np.empty(p.size, dtype=np.int64)
    decile[order] = np.arange(p.size) * 10 // max(p.size, 1) + 1
    return decile


def _inputs(source, tables: dict) -> ChurnInputs:
    if isinstance(source, ChurnInputs):
        return source
    if isinstance(source, WarehouseProtocol) or hasattr(source, "list_tables"):
        return ChurnInputs.from_backend(source)  # a warehouse, or a backend holding its tables
    return ChurnInputs(orders=source, **tables)


def _saved(project, target: str, end: dt.date, category: str = ALL_CATEGORIES):
    """The saved model for ``target`` when its cutoff is on or before ``end``."""
    if project is None:
        return None
    folder = model_dir(project, target, category=category)
    if not (folder / "model.json").exists():
        return None
    model, meta = ChurnModel.load(folder)
    if dt.date.fromisoformat(meta["cutoff"]) > end:  # it has seen labels after the as-of day
        return None
    return model, {**meta, "source": f"saved ({folder.name})"}


def _model(
    project, inputs: ChurnInputs, target: str, end: dt.date, train: bool, one_in: int = 1
) -> tuple[ChurnModel, dict]:
    saved = _saved(project, target, end)
    if saved is not None:
        return saved
    if not train:
        raise ConfigError(
            f"no saved {target} model with a cutoff on or before {end}; run "
            f"`memberlens churn train --target {target}` (or let the mart train "
            "it: train=True)"
        )
    model, meta = train_inputs(inputs.sample(one_in), cutoff=end, target=target, backtest=False)
    source = f"trained at {end}" + (f" on 1 member in {one_in}" if one_in > 1 else "")
    return model, {**meta, "source": source, "sample_one_in": one_in}


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
    member is still scored. None: train on everyone.

    Returns ``(frame, summary)``. ``frame``: member_id, churn_probability, churn_risk_decile
    (1 = the tenth most at risk), propensity_30d (P(purchase in the next 30 days)),
    category_1 / category_1_propensity ... category_3 (when a category model is saved),
    reason_1_en, reason_1_zh, ... (why the churn score is high). ``summary``: as_of, members,
    model_kind, horizon_days, auc (the churn back-test's), and per model (``churn``,
    ``propensity``, ``categories``) its source, cutoffs and back-test figures.
    """
    end = as_day(as_of, name="as_of")
    inputs = _inputs(
        source,
        {
            "events": events,
            "interactions": interactions,
            "order_items": order_items,
            "products": products,
        },
    )
    table = inputs.features(end)
    one_in = 1
    if train and train_sample is not None:
        buyers = purchases(as_table(inputs.orders), end=end).member_id.nunique()
        one_in = sample_rate(int(buyers.execute()), train_sample)
    churn, churn_meta = _model(project, inputs, "churn", end, train, one_in)
    buy, buy_meta = _model(project, inputs, "purchase", end, train, one_in)
    horizon = int(churn_meta["horizon_days"])
    purchase_model = fit_purchase_model(table)
    parts = []
    for batch in table.to_pyarrow_batches(chunk_size=batch_rows):
        base = batch.to_pandas()
        churn_features = with_purchase_model(base, purchase_model, horizon_days=horizon)
        buy_features = with_purchase_model(base, purchase_model, horizon_days=PROPENSITY_DAYS)
        why = churn.reasons(churn_features, top=reasons)
        why = why[[c for c in why.columns if not c.endswith("_feature")]]
        # reasons repeat a few hundred phrases: dictionary-encoded per batch (unified when the
        # batches become one frame), not one Python string per member and reason
        parts.append(
            pa.Table.from_pydict(
                {
                    "member_id": pa.array(base["member_id"].to_numpy(dtype=object), pa.string()),
                    "churn_probability": churn.probability(churn_features).to_numpy(),
                    "propensity_30d": buy.probability(buy_features).to_numpy(),
                    **{
                        c: pa.array(why[c].to_numpy(dtype=object), pa.string()).dictionary_encode()
                        for c in why.columns
                    },
                }
            )
        )
    frame = pa.concat_tables(parts).to_pandas()
    del parts
    frame.insert(
        2, "churn_risk_decile", risk_deciles(frame["churn_probability"], frame["member_id"])
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
        "churn": _metrics(churn_meta),
        "propensity": _metrics(buy_meta),
        "categories": {c: _metrics(meta, c) for c, (_, meta) in category_models.items()},
    }
    return frame, summary
