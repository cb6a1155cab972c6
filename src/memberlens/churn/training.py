"""Churn on a project: train (back-test + final model, saved), score in batches, report.

The model lives in ``<project>/.memberlens/models/churn-<target>/``: ``model.txt`` (LightGBM's
text format) and ``model.json`` (settings, calibration, cutoff, horizon, back-test report).
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
from memberlens.churn.features import ChurnInputs, fit_purchase_model, with_purchase_model
from memberlens.churn.labels import default_horizon_days, last_purchase_day
from memberlens.churn.model import ChurnModel
from memberlens.exceptions import ConfigError
from memberlens.features.purchases import as_day

__all__ = ["ChurnTraining", "model_dir", "report_project", "score_batches", "score_project",
           "scores", "train_project"]

BATCH_ROWS = 100_000


def model_dir(project, target: Target = "churn") -> Path:
    """Where the project's model for ``target`` is saved."""
    return Path(project.state_dir) / "models" / f"churn-{target}"


@dataclass(frozen=True)
class ChurnTraining:
    """What ``train`` did: the saved model's folder, its cutoff and horizon, the back-test."""

    model_dir: Path
    target: str
    cutoff: dt.date
    horizon_days: int
    n_train: int
    backtest: ChurnBacktest

    def to_dict(self) -> dict:
        return {"model_dir": str(self.model_dir), "target": self.target,
                "cutoff": self.cutoff.isoformat(), "horizon_days": self.horizon_days,
                "n_train": self.n_train, "backtest": self.backtest.to_dict()}

    def to_frame(self) -> pd.DataFrame:
        return self.backtest.to_frame()


def _open(project):
    from memberlens.engine.warehouse import open_warehouse

    return open_warehouse(project, read_only=True)


def train_project(project, *, cutoff: dt.date | str | None = None,
                  horizon_days: int | None = None, target: Target = "churn") -> ChurnTraining:
    """Back-test, then fit on everything known at ``cutoff`` (default: the project's as_of or
    the last purchase day) and save the model."""
    warehouse = _open(project)
    try:
        inputs = ChurnInputs.from_backend(warehouse.con)
        end = (as_day(cutoff, name="cutoff") if cutoff is not None
               else project.as_of or last_purchase_day(inputs.orders))
        horizon = int(horizon_days) if horizon_days else default_horizon_days(inputs.orders,
                                                                              cutoff=end)
        horizon = window_days(target, horizon)
        cache: dict = {}  # the back-test's test cutoff is the final model's calibration cutoff
        report = backtest_churn(inputs, horizon_days=horizon, target=target,
                                test_cutoff=end - dt.timedelta(days=horizon), cache=cache)
        model, used = fit_at(inputs, known_through=end, horizon_days=horizon, target=target,
                             cache=cache)
    finally:
        warehouse.close()
    folder = model.save(model_dir(project, target), metadata={
        "target": target, "cutoff": end.isoformat(), "horizon_days": horizon,
        "train_cutoff": used["train_cutoff"].isoformat(),
        "calibration_cutoff": used["calibration_cutoff"].isoformat(),
        "backtest": report.to_dict()})
    return ChurnTraining(model_dir=folder, target=target, cutoff=end, horizon_days=horizon,
                         n_train=used["n_train"], backtest=report)


def _load(project, target: Target) -> tuple[ChurnModel, dict]:
    return ChurnModel.load(model_dir(project, target))


def scores(model: ChurnModel, inputs: ChurnInputs, *, as_of: dt.date | str,
           horizon_days: int, column: str = "churn_probability", batch_rows: int = BATCH_ROWS,
           top: int = 3) -> Iterator[pd.DataFrame]:
    """Scores of every member who bought by ``as_of``, one frame of at most ``batch_rows``
    members at a time: member_id, ``column`` and the top reasons in English and Chinese. The
    features stream out of the engine as Arrow batches, so memory is bounded by the batch."""
    table = inputs.features(as_day(as_of, name="as_of"))
    purchase_model = fit_purchase_model(table)
    for batch in table.to_pyarrow_batches(chunk_size=batch_rows):
        features = with_purchase_model(batch.to_pandas(), purchase_model,
                                       horizon_days=horizon_days)
        out = pd.DataFrame({"member_id": features["member_id"],
                            column: model.probability(features).to_numpy()})
        yield pd.concat([out, model.reasons(features, top=top)], axis=1)


def score_batches(project, *, target: Target = "churn", as_of: dt.date | str | None = None,
                  batch_rows: int = BATCH_ROWS, top: int = 3) -> Iterator[pd.DataFrame]:
    """:func:`scores` with the project's saved model, as of its cutoff unless ``as_of``."""
    model, meta = _load(project, target)
    end = as_of if as_of is not None else meta["cutoff"]
    column = "churn_probability" if target == "churn" else "purchase_probability"
    warehouse = _open(project)
    try:
        yield from scores(model, ChurnInputs.from_backend(warehouse.con), as_of=end,
                          horizon_days=int(meta["horizon_days"]), column=column,
                          batch_rows=batch_rows, top=top)
    finally:
        warehouse.close()


def score_project(project, *, target: Target = "churn", as_of: dt.date | str | None = None,
                  batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """All batches of :func:`score_batches` in one frame, highest probability first."""
    frames = list(score_batches(project, target=target, as_of=as_of, batch_rows=batch_rows))
    column = frames[0].columns[1]
    return pd.concat(frames, ignore_index=True).sort_values(
        [column, "member_id"], ascending=[False, True], ignore_index=True)


def report_project(project, *, target: Target = "churn") -> ChurnBacktest:
    """The back-test saved with the trained model."""
    _, meta = _load(project, target)
    if "backtest" not in meta:
        raise ConfigError(f"{model_dir(project, target)}: the saved model has no back-test; "
                          "rerun `memberlens churn train`")
    return ChurnBacktest.from_dict(meta["backtest"])
