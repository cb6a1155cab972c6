"""Model checking on a calibration/holdout split (Fader, Hardie & Lee 2005, sec. 5).

Given a purchase model fitted on the calibration period, the calibration summary with holdout
columns (``frequency_holdout``, ``duration_holdout``) and the transactions (``member_id``,
``ordered_at``; same-day purchases are merged here), report:

- aggregate tracking of repeat purchases per period, cumulative and incremental, expected vs
  actual, with exact birth dates: expected cumulative at t = sum_i E[X(t - s_i)], t the last
  day of the period;
- conditional expectations vs actual holdout purchases by calibration frequency (0..6, 7+);
- member-level error (MAE, RMSE, correlation);
- P(alive) calibration: members binned by predicted P(alive) against holdout activity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from memberlens.clv._purchase import UNIT_DAYS, PurchaseModel, TimeUnit
from memberlens.clv._summary import summary_columns
from memberlens.exceptions import ConfigError, DataError

__all__ = [
    "Backtest",
    "MemberError",
    "RepeatTracking",
    "backtest",
    "backtest_orders",
    "conditional_expectations_by_frequency",
    "member_level_error",
    "probability_alive_calibration",
    "repeat_purchase_tracking",
]

HOLDOUT = ("frequency_holdout", "duration_holdout")


def _holdout_expectation(model: PurchaseModel, summary: pd.DataFrame) -> np.ndarray:
    """E[holdout purchases | calibration history] per member, each with its own holdout length."""
    duration = summary_columns(summary, HOLDOUT, who="checking")["duration_holdout"]
    cohort = getattr(model, "expected_purchases_cohort", None)
    if cohort is not None and model.by_ is None and len(duration) and np.ptp(duration) == 0:
        # MBG/CNBD-k: BTYDplus' cohort correction of the approximate conditional expectation
        return cohort(summary, horizon=float(duration[0])).to_numpy(dtype=float)
    p, x, t_x, T = model._member_arrays(summary)
    with np.errstate(over="ignore", under="ignore"):
        return np.asarray(model._expected(p, x, t_x, T, duration), dtype=float)


@dataclass(frozen=True)
class RepeatTracking:
    """Repeat purchases per period since ``origin``; period k covers [k-1, k) time units (the
    last one ends at the holdout end, so it may be shorter)."""

    origin: pd.Timestamp
    time_unit: str
    calibration_periods: int
    period: np.ndarray
    actual_incremental: np.ndarray
    expected_incremental: np.ndarray
    actual_cumulative: np.ndarray
    expected_cumulative: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: v for k, v in asdict(self).items() if isinstance(v, np.ndarray)})

    def to_dict(self) -> dict:
        return {
            "origin": str(self.origin.date()),
            "time_unit": self.time_unit,
            "calibration_periods": self.calibration_periods,
            "periods": self.to_frame().to_dict(orient="list"),
        }


def repeat_purchase_tracking(
    model: PurchaseModel,
    transactions: pd.DataFrame,
    *,
    calibration_end,
    holdout_end,
    time_unit: TimeUnit = "W",
    origin=None,
) -> RepeatTracking:
    """Expected vs actual repeat purchases of the cohort in ``transactions``, per period.

    The cohort is the members whose first paid purchase is on or before ``calibration_end``
    (rows with a ``status`` other than 'paid' or without member_id are left out). ``origin``
    defaults to the first purchase date in the data; members are born on their first
    purchase day and E[X(t - s_i)] (the model's new-member expectation) is summed over members.
    """
    if time_unit not in UNIT_DAYS:
        raise ConfigError(
            f"repeat_purchase_tracking: time_unit must be one of "
            f"{list(UNIT_DAYS)}; found {time_unit!r}"
        )
    model._check_fitted()
    if model.by_ is not None:
        raise ConfigError(
            "repeat_purchase_tracking: needs a model fitted without by= (one "
            "cohort); fix: fit one model per segment and track each"
        )
    missing = {"member_id", "ordered_at"} - set(transactions.columns)
    if missing:
        raise DataError(
            f"repeat_purchase_tracking: transactions lack column(s) "
            f"{sorted(missing)}; found {list(transactions.columns)}"
        )
    paid = transactions["member_id"].notna()
    if "status" in transactions.columns:  # the data contract: analytics use paid orders only
        paid &= transactions["status"] == "paid"
    days = pd.DataFrame(
        {
            "member_id": transactions.loc[paid, "member_id"],
            "day": pd.to_datetime(transactions.loc[paid, "ordered_at"]).dt.normalize(),
        }
    )
    days = days[days["day"] <= pd.Timestamp(holdout_end)].drop_duplicates(["member_id", "day"])
    birth = days.groupby("member_id")["day"].transform("min")
    cohort = birth <= pd.Timestamp(calibration_end)  # the members the model was fitted on
    days, birth = days[cohort], birth[cohort]
    origin = pd.Timestamp(origin) if origin is not None else birth.min()
    unit = pd.Timedelta(days=UNIT_DAYS[time_unit])
    n_periods = int(np.ceil((pd.Timestamp(holdout_end) + pd.Timedelta(days=1) - origin) / unit))
    repeat = days.loc[days["day"] > birth, "day"]
    index = np.floor((repeat - origin) / unit).astype(int).to_numpy()
    actual = np.bincount(index[(index >= 0) & (index < n_periods)], minlength=n_periods)
    # Purchases carry day stamps: the last purchase counted in period k is on its last day,
    # k * unit - 1 day after the origin, so a member born on day d has age (k*unit - 1 - d).
    born = ((days.groupby("member_id")["day"].min() - origin) / pd.Timedelta(days=1)).to_numpy()
    starts, counts = np.unique(born, return_counts=True)
    ends = np.arange(1, n_periods + 1, dtype=float)
    # the last period may run past holdout_end (one holdout day of a week): it is counted up to
    # holdout_end only, for the expected purchases as for the actual ones
    last_day = np.minimum(
        ends * UNIT_DAYS[time_unit] - 1.0,
        (pd.Timestamp(holdout_end) - origin) / pd.Timedelta(days=1),
    )
    age = np.clip((last_day[:, None] - starts[None, :]) / UNIT_DAYS[time_unit], 0.0, None)
    params, _ = model._population_params()
    with np.errstate(over="ignore", under="ignore"):
        expected_cum = np.asarray(model._new_member(params, age), dtype=float) @ counts
    calibration = int(
        np.ceil((pd.Timestamp(calibration_end) + pd.Timedelta(days=1) - origin) / unit)
    )
    return RepeatTracking(
        origin,
        time_unit,
        calibration,
        ends.astype(int),
        actual,
        np.diff(expected_cum, prepend=0.0),
        np.cumsum(actual),
        expected_cum,
    )


def conditional_expectations_by_frequency(
    model: PurchaseModel, summary: pd.DataFrame, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Mean actual vs expected holdout purchases by calibration frequency (0, 1, ..., max+)."""
    actual = summary_columns(summary, HOLDOUT, who="checking")["frequency_holdout"]
    expected = _holdout_expectation(model, summary)
    freq = summary["frequency"].to_numpy()
    group = np.minimum(freq, max_frequency).astype(int)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    frame = pd.DataFrame({"frequency": group, "actual": actual, "expected": expected})
    table = frame.groupby("frequency").agg(
        members=("actual", "size"),
        actual_mean=("actual", "mean"),
        expected_mean=("expected", "mean"),
    )
    table = table.reindex(range(max_frequency + 1))
    table.index = pd.Index([labels[k] for k in table.index], name="frequency")
    table["members"] = table["members"].fillna(0).astype(int)
    return table


@dataclass(frozen=True)
class MemberError:
    """Member-level holdout error of the conditional expectations."""

    n_members: int
    mae: float
    rmse: float
    correlation: float
    actual_total: float
    expected_total: float

    def to_dict(self) -> dict:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.to_dict()])


def member_level_error(model: PurchaseModel, summary: pd.DataFrame) -> MemberError:
    """MAE, RMSE and Pearson correlation of E[holdout purchases] against the actual counts."""
    actual = summary_columns(summary, HOLDOUT, who="checking")["frequency_holdout"]
    expected = _holdout_expectation(model, summary)
    diff = expected - actual
    corr = float(np.corrcoef(expected, actual)[0, 1]) if len(actual) > 1 else float("nan")
    return MemberError(
        len(actual),
        float(np.mean(np.abs(diff))),
        float(np.sqrt(np.mean(diff**2))),
        corr,
        float(actual.sum()),
        float(expected.sum()),
    )


def probability_alive_calibration(
    model: PurchaseModel, summary: pd.DataFrame, *, bins: int = 10
) -> pd.DataFrame:
    """Members binned by predicted P(alive) (equal-width bins on [0, 1]) with the share that
    bought in the holdout and the mean expected vs actual holdout purchases."""
    actual = summary_columns(summary, HOLDOUT, who="checking")["frequency_holdout"]
    alive = model.probability_alive(summary).to_numpy()
    expected = _holdout_expectation(model, summary)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(alive, edges[1:-1]), 0, bins - 1)
    frame = pd.DataFrame(
        {"bin": which, "alive": alive, "active": actual > 0, "actual": actual, "expected": expected}
    )
    table = (
        frame.groupby("bin")
        .agg(
            members=("alive", "size"),
            mean_probability_alive=("alive", "mean"),
            share_active_in_holdout=("active", "mean"),
            expected_mean=("expected", "mean"),
            actual_mean=("actual", "mean"),
        )
        .reindex(range(bins))
    )
    table.insert(0, "upper", edges[1:])
    table.insert(0, "lower", edges[:-1])
    table["members"] = table["members"].fillna(0).astype(int)
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class Backtest:
    """Everything :func:`backtest` reports; ``to_dict`` is the JSON of ``memberlens backtest``."""

    tracking: RepeatTracking
    by_frequency: pd.DataFrame
    error: MemberError
    alive_calibration: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            "tracking": self.tracking.to_dict(),
            "by_frequency": self.by_frequency.reset_index().to_dict(orient="records"),
            "error": self.error.to_dict(),
            "alive_calibration": self.alive_calibration.to_dict(orient="records"),
        }


def backtest(
    model: PurchaseModel,
    summary: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    calibration_end,
    holdout_end,
    time_unit: TimeUnit = "W",
) -> Backtest:
    """All four checks of a fitted model against the holdout period."""
    return Backtest(
        repeat_purchase_tracking(
            model,
            transactions,
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            time_unit=time_unit,
        ),
        conditional_expectations_by_frequency(model, summary),
        member_level_error(model, summary),
        probability_alive_calibration(model, summary),
    )


PURCHASE_MODELS = {
    "bgnbd": "BetaGeoModel",
    "mbgnbd": "ModifiedBetaGeoModel",
    "pnbd": "ParetoNBDModel",
    "mbgcnbd": "ModifiedBetaGeoCNBDModel",
}


def backtest_orders(
    orders, *, calibration_end, holdout_end, model: str = "bgnbd", time_unit: TimeUnit = "W"
) -> tuple[PurchaseModel, Backtest]:
    """Fit ``model`` on the calibration period of canonical ``orders`` (an Ibis table or a
    pandas frame) and check it on the holdout: what ``memberlens backtest`` runs."""
    import memberlens.clv as clv
    from memberlens.features import calibration_holdout_summary, interpurchase_log_times
    from memberlens.features.purchases import as_day, as_table, purchases

    if model not in PURCHASE_MODELS:
        raise ConfigError(
            f"backtest: model must be one of {list(PURCHASE_MODELS)}; found {model!r}"
        )
    table = as_table(orders)
    summary = calibration_holdout_summary(
        table, calibration_end=calibration_end, holdout_end=holdout_end, time_unit=time_unit
    )
    summary = summary.to_pandas().rename(
        columns={
            "frequency_cal": "frequency",
            "recency_cal": "recency",
            "T_cal": "T",
            "monetary_value_cal": "monetary_value",
        }
    )
    if summary.empty:
        raise DataError(
            f"backtest: no paid member orders on or before calibration_end "
            f"{calibration_end}; fix: pick a later calibration_end"
        )
    if model == "mbgcnbd":  # regular timing needs the sum of log gaps of the calibration
        litt = interpurchase_log_times(table, end=calibration_end, time_unit=time_unit)
        summary = summary.merge(litt.to_pandas(), on="member_id", how="left").fillna({"litt": 0})
    paid = purchases(table, end=as_day(holdout_end, name="holdout_end"))
    days = paid.select("member_id", ordered_at=paid.day.cast("timestamp")).distinct().to_pandas()
    fitted = getattr(clv, PURCHASE_MODELS[model])().fit(summary)
    return fitted, backtest(
        fitted,
        summary,
        days,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
    )
