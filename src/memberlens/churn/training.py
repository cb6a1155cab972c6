"""Churn on a project: train (back-test + final model, saved), score in batches, report.

The model lives in ``<project>/.memberlens/models/churn-<target>/`` (per-category propensity:
``churn-category-<all|name>/``): ``model.txt`` (LightGBM's text format) and ``model.json``
(settings, calibration, cutoff, horizon, categories, back-test report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from memberlens.churn.backtest import (
    ChurnBacktest,
    Target,
    backtest_churn,
    fit_at,
    window_days,
)
from memberlens.churn.categories import (
    DEFAULT_TOP_CATEGORIES,
    category_feature_table,
    category_slug,
    check_categories,
    top_categories,
)
from memberlens.churn.features import ChurnInputs, fit_purchase_model, with_purchase_model
from memberlens.churn.labels import PROPENSITY_DAYS, default_horizon_days, last_purchase_day
from memberlens.churn.model import ChurnModel
from memberlens.exceptions import ConfigError, DataError
from memberlens.features.purchases import as_day

__all__ = [
    "ALL_CATEGORIES",
    "ChurnTraining",
    "model_dir",
    "report_project",
    "score_batches",
    "score_project",
    "scores",
    "train_inputs",
    "train_project",
]

BATCH_ROWS = 100_000
#: ``category="all"``: the top categories by buyers, one pooled model.
ALL_CATEGORIES = "all"


def model_dir(project, target: Target = "churn", *, category: str = ALL_CATEGORIES) -> Path:
    """Where the project's model for ``target`` (and ``category``) is saved."""
    name = (
        f"churn-category-{category_slug(category)}" if target == "category" else f"churn-{target}"
    )
    return Path(project.state_dir) / "models" / name


def probability_column(target: Target) -> str:
    """The score's column name: churn_probability or purchase_probability."""
    return "churn_probability" if target == "churn" else "purchase_probability"


@dataclass(frozen=True)
class ChurnTraining:
    """What ``train`` did: the saved model's folder, its cutoff and horizon, the back-test."""

    model_dir: Path
    target: str
    cutoff: dt.date
    horizon_days: int
    n_train: int
    backtest: ChurnBacktest
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "model_dir": str(self.model_dir),
            "target": self.target,
            "cutoff": self.cutoff.isoformat(),
            "horizon_days": self.horizon_days,
            "n_train": self.n_train,
            "categories": list(self.categories),
            "backtest": self.backtest.to_dict(),
        }

    def to_frame(self) -> pd.DataFrame:
        return self.backtest.to_frame()


def _open(project):
    from memberlens.engine.warehouse import open_warehouse

    return open_warehouse(project, read_only=True)


def train_inputs(
    inputs: ChurnInputs,
    *,
    cutoff: dt.date | str,
    horizon_days: int | None = None,
    target: Target = "churn",
    category: str = ALL_CATEGORIES,
    top: int = DEFAULT_TOP_CATEGORIES,
    backtest: bool = True,
) -> tuple[ChurnModel, dict]:
    """The final model (labels known by ``cutoff``) and its metadata, with the back-test at
    ``cutoff - window`` (``metadata["backtest"]``). With ``backtest=False`` a history too short
    for the back-test leaves ``backtest`` None and ``backtest_error`` set instead of raising.

    ``target="category"``: ``category`` is "all" (the ``top`` categories by buyers in the year
    before the back-test cutoff) or one category name."""
    end = as_day(cutoff, name="cutoff")
    horizon = (
        int(horizon_days)
        if horizon_days
        else default_horizon_days(inputs.orders, cutoff=end)
        if target == "churn"
        else PROPENSITY_DAYS
    )
    horizon = window_days(target, horizon)
    test_cutoff = end - dt.timedelta(days=horizon)
    categories = None
    if target == "category":
        categories = tuple(
            top_categories(inputs, cutoff=test_cutoff, top=top)
            if category == ALL_CATEGORIES
            else check_categories(inputs, [category])
        )
    cache: dict = {}  # the back-test's test cutoff is the final model's calibration cutoff
    model, used = fit_at(
        inputs,
        known_through=end,
        horizon_days=horizon,
        target=target,
        cache=cache,
        categories=categories,
    )
    meta = {
        "target": target,
        "cutoff": end.isoformat(),
        "horizon_days": horizon,
        "train_cutoff": used["train_cutoff"].isoformat(),
        "calibration_cutoff": used["calibration_cutoff"].isoformat(),
        "n_train": used["n_train"],
        "categories": list(categories or ()),
        "category": category if target == "category" else None,
    }
    try:
        meta["backtest"] = backtest_churn(
            inputs,
            horizon_days=horizon,
            target=target,
            test_cutoff=test_cutoff,
            cache=cache,
            categories=categories,
        ).to_dict()
    except DataError as exc:
        if backtest:
            raise
        meta["backtest"], meta["backtest_error"] = None, str(exc)
    return model, meta


def train_project(
    project,
    *,
    cutoff: dt.date | str | None = None,
    horizon_days: int | None = None,
    target: Target = "churn",
    category: str = ALL_CATEGORIES,
    top: int = DEFAULT_TOP_CATEGORIES,
) -> ChurnTraining:
    """Back-test, then fit on everything known at ``cutoff`` (default: the project's as_of or
    the last purchase day) and save the model (see :func:`train_inputs`)."""
    warehouse = _open(project)
    try:
        inputs = ChurnInputs.from_backend(warehouse)
        end = (
            as_day(cutoff, name="cutoff")
            if cutoff is not None
            else project.as_of or last_purchase_day(inputs.orders)
        )
        model, meta = train_inputs(
            inputs, cutoff=end, horizon_days=horizon_days, target=target, category=category, top=top
        )
    finally:
        warehouse.close()
    folder = model.save(model_dir(project, target, category=category), metadata=meta)
    return ChurnTraining(
        model_dir=folder,
        target=target,
        cutoff=end,
        horizon_days=meta["horizon_days"],
        n_train=meta["n_train"],
        backtest=ChurnBacktest.from_dict(meta["backtest"]),
        categories=tuple(meta["categories"]),
    )


def _load(project, target: Target, category: str = ALL_CATEGORIES) -> tuple[ChurnModel, dict]:
    return ChurnModel.load(model_dir(project, target, category=category))


def scores(
    model: ChurnModel,
    inputs: ChurnInputs,
    *,
    as_of: dt.date | str,
    horizon_days: int,
    column: str = "churn_probability",
    batch_rows: int = BATCH_ROWS,
    top: int = 3,
    categories: tuple[str, ...] | None = None,
) -> Iterator[pd.DataFrame]:
    """Scores of every member who bought by ``as_of``, one frame of at most ``batch_rows``
    rows at a time: member_id (and category, with ``categories``), ``column`` and the ``top``
    reasons in English and Chinese (none with ``top=0``). The features stream out of the
    engine as Arrow batches, so memory is bounded by the batch."""
    end = as_day(as_of, name="as_of")
    table = inputs.features(end)
    purchase_model = fit_purchase_model(table)  # BG/NBD: one row per member, before any join
    keys = ["member_id"]
    if categories:
        table = table.join(
            category_feature_table(inputs, cutoff=end, categories=categories), "member_id"
        )
        keys.append("category")
    for batch in table.to_pyarrow_batches(chunk_size=batch_rows):
        features = with_purchase_model(batch.to_pandas(), purchase_model, horizon_days=horizon_days)
        out = features[keys].assign(**{column: model.probability(features).to_numpy()})
        yield pd.concat([out, model.reasons(features, top=top)], axis=1) if top > 0 else out


def score_batches(
    project,
    *,
    target: Target = "churn",
    as_of: dt.date | str | None = None,
    batch_rows: int = BATCH_ROWS,
    top: int = 3,
    category: str = ALL_CATEGORIES,
) -> Iterator[pd.DataFrame]:
    """:func:`scores` with the project's saved model, as of its cutoff unless ``as_of``."""
    model, meta = _load(project, target, category)
    end = as_of if as_of is not None else meta["cutoff"]
    warehouse = _open(project)
    try:
        yield from scores(
            model,
            ChurnInputs.from_backend(warehouse),
            as_of=end,
            horizon_days=int(meta["horizon_days"]),
            column=probability_column(target),
            batch_rows=batch_rows,
            top=top,
            categories=tuple(meta.get("categories") or ()) or None,
        )
    finally:
        warehouse.close()


def score_project(
    project,
    *,
    target: Target = "churn",
    as_of: dt.date | str | None = None,
    batch_rows: int = BATCH_ROWS,
    category: str = ALL_CATEGORIES,
) -> pd.DataFrame:
    """All batches of :func:`score_batches` in one frame, highest probability first."""
    frames = list(
        score_batches(project, target=target, as_of=as_of, batch_rows=batch_rows, category=category)
    )
    column = probability_column(target)
    keys = ["member_id", "category"] if target == "category" else ["member_id"]
    return pd.concat(frames, ignore_index=True).sort_values(
        [column, *keys], ascending=[False, *([True] * len(keys))], ignore_index=True
    )


def report_project(
    project, *, target: Target = "churn", category: str = ALL_CATEGORIES
) -> ChurnBacktest:
    """The back-test saved with the trained model."""
    _, meta = _load(project, target, category)
    if not meta.get("backtest"):
        raise ConfigError(
            f"{model_dir(project, target, category=category)}: the saved model "
            "has no back-test; rerun `memberlens churn train`"
        )
    return ChurnBacktest.from_dict(meta["backtest"])
