"""Replenishment (复购周期): each member's next purchase per category (or product), with the
probability of buying within a window, from their own interval history shrunk toward the
category's.

**Intervals, in the engine.** Paid orders with a member are joined to their lines and products;
one row per member, key (``category`` or ``product_id``) and purchase day; the interval to the
previous purchase day of the same key comes from a window ``lag`` (Ibis); the engine then
aggregates per member and key: purchase days, first and last day, number of intervals ``n``,
sum and sum of squares of the log-intervals. Nothing per purchase leaves the engine.

**Model** (numpy, vectorised over all member-key pairs). Log-intervals of member *m* in key *c*
are normal, ``log x ~ N(mu_m, sigma_c^2)``, and the member means are normal around the key's,
``mu_m ~ N(mu_c, tau_c^2)`` (the hierarchical normal model, Gelman et al. 2013, *Bayesian Data
Analysis*, 3rd ed., section 5.4). Given the hyperparameters, the posterior mean of ``mu_m`` is
the weighted mean of the member's mean log-interval and the key's, with a prior worth ``kappa_c =
sigma_c^2 / tau_c^2`` intervals::

    mu_hat = (n * ybar + kappa * mu_c) / (n + kappa),    var(mu_m | data) = sigma^2 / (n + kappa)

The hyperparameters are estimated per key by the method of moments (empirical Bayes, Efron &
Morris 1975): ``mu_c`` the mean of the member means, ``sigma_c^2`` the pooled within-member
variance of log-intervals (members with >= 2 intervals; else the variance of all
log-intervals, at least ``MIN_SIGMA^2``),
``tau_c^2 = max(var(ybar) - mean(sigma^2 / n), sigma^2 / 50)`` (so ``kappa`` is at most 50).
The member's cycle is ``exp(mu_hat)`` days (the median of the lognormal
interval); the expected next purchase date is the last purchase day plus the cycle.

**Probability of buying within the window.** The next interval is lognormal with
``s^2 = sigma^2 + sigma^2 / (n + kappa)`` (predictive). Given ``e`` days already elapsed since
the last purchase at ``as_of`` and no purchase yet, ``P(buy within w) = (F(e + w) - F(e)) /
(1 - F(e))`` (computed with log survival functions). It ignores churn: multiply by P(alive)
for members who may have left.

Only member-key pairs with at least 2 purchase days (at least one interval) are scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError, DataError

__all__ = [
    "ReplenishmentBacktest",
    "ReplenishmentResult",
    "backtest_replenishment",
    "calibration_table",
    "next_purchases",
    "purchase_intervals",
]

Level = Literal["category", "product_id"]
MAX_KAPPA = 50.0
MIN_SIGMA = 0.1


@dataclass(frozen=True)
class ReplenishmentResult:
    """``predictions``: one row per member and key (``member_id``, the key, ``purchase_days``,
    ``n_intervals``, ``last_purchase``, ``own_cycle_days``, ``cycle_days``, ``weight`` (the
    share of the member's own history, ``n / (n + kappa)``), ``expected_next_purchase``,
    ``days_overdue``, ``p_within_window``); ``keys``: per key ``mu``, ``sigma``, ``tau``,
    ``kappa``, ``cycle_days`` (``exp(mu)``), ``members``, ``intervals``."""

    level: str
    as_of: pd.Timestamp
    window_days: int
    predictions: pd.DataFrame
    keys: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.predictions

    def to_dict(self) -> dict:
        return {
            "level": self.level,
            "as_of": self.as_of.date().isoformat(),
            "window_days": self.window_days,
            "keys": self.keys.to_dict(orient="records"),
            "members": int(self.predictions["member_id"].nunique()),
        }


@dataclass(frozen=True)
class ReplenishmentBacktest:
    """Fit up to ``cutoff``, check the window after it: ``auc`` of ``p_within_window`` for
    "bought the key within the window", ``brier``, ``mean_predicted`` against
    ``observed_rate`` and, by tenths of the predicted probability, the ``calibration`` table
    (``bin``, ``pairs``, ``mean_predicted``, ``observed_rate``); for the pairs bought again
    after the cutoff the median absolute error in days of the next purchase date
    (``median_abs_error_days``) against the key-only baseline
    (``baseline_median_abs_error_days``: last purchase + the key's cycle), over ``repeat_pairs``
    pairs."""

    cutoff: pd.Timestamp
    window_days: int
    pairs: int
    auc: float
    brier: float
    mean_predicted: float
    observed_rate: float
    median_abs_error_days: float
    baseline_median_abs_error_days: float
    level: str = "category"
    repeat_pairs: int = 0
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def to_dict(self) -> dict:
        out = {
            k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else v)
            for k, v in self.__dict__.items()
            if k != "calibration"
        }
        return {**out, "calibration": self.calibration.to_dict(orient="records")}


def calibration_table(p, outcome, *, bins: int = 10) -> pd.DataFrame:
    """Pairs in ``bins`` equal-count groups of predicted probability (lowest first): ``bin``,
    ``pairs``, ``mean_predicted``, ``observed_rate`` (a reliability table, as in
    ``sklearn.calibration.calibration_curve(strategy="quantile")``)."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(outcome, dtype=float)
    order = np.argsort(p, kind="stable")
    group = np.empty(p.size, dtype=np.int64)
    group[order] = np.arange(p.size) * bins // max(p.size, 1) + 1
    frame = (
        pd.DataFrame({"bin": group, "p": p, "y": y})
        .groupby("bin")
        .agg(pairs=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    )
    return frame.reset_index()


def purchase_intervals(orders, order_items, products, *, level: Level = "category", as_of=None):
    """Ibis table: per member and key, ``purchase_days``, ``first_day``, ``last_day``,
    ``n_intervals``, ``sum_log``, ``sum_log_sq`` (log-intervals in days) over paid orders up to
    ``as_of`` (inclusive, whole days)."""
    import ibis

    paid = orders.filter((orders.status == "paid") & orders.member_id.notnull())
    if as_of is not None:
        paid = paid.filter(paid.ordered_at < pd.Timestamp(as_of) + pd.Timedelta(days=1))
    lines = order_items.select("order_id", "product_id")
    joined = paid.select("order_id", "member_id", day=paid.ordered_at.date()).join(
        lines, "order_id"
    )
    if level == "category":
        joined = joined.join(products.select("product_id", "category"), "product_id")
    days = joined.select("member_id", level, "day").distinct()
    window = ibis.window(group_by=[days.member_id, days[level]], order_by=days.day)
    gaps = days.mutate(gap=(days.day.epoch_days() - days.day.lag().over(window).epoch_days()))
    log_gap = gaps.gap.cast("float64").log()
    return gaps.group_by(["member_id", level]).aggregate(
        purchase_days=gaps.count(),
        first_day=gaps.day.min(),
        last_day=gaps.day.max(),
        n_intervals=gaps.gap.count(),
        sum_log=log_gap.sum(),
        sum_log_sq=(log_gap * log_gap).sum(),
    )


def next_purchases(
    orders, order_items, products, *, as_of, level: Level = "category", window_days: int = 30
) -> ReplenishmentResult:
    """Next purchase per member and key, shrunk toward the key (see the module docstring)."""
    _check(level, window_days)
    as_of = pd.Timestamp(as_of).normalize()
    frame = purchase_intervals(orders, order_items, products, level=level, as_of=as_of).to_pandas()
    frame = frame[frame["n_intervals"] > 0].reset_index(drop=True)
    if frame.empty:
        raise DataError(
            "orders: no member bought the same " + level + " on two different "
            f"days up to {as_of.date()}; replenishment needs repeat buying"
        )
    return _fit(frame, level, as_of, window_days)


def backtest_replenishment(
    orders, order_items, products, *, cutoff, level: Level = "category", window_days: int = 30
) -> ReplenishmentBacktest:
    """Fit on purchases up to ``cutoff``, then check each scored pair against what it did in
    the ``window_days`` after it."""
    from sklearn.metrics import roc_auc_score

    _check(level, window_days)
    cutoff = _day(cutoff, "cutoff")
    paid_all = orders.filter((orders.status == "paid") & orders.member_id.notnull())
    last = paid_all.ordered_at.max().execute()
    window_end = cutoff + pd.Timedelta(days=window_days)
    if last is None or pd.isna(last) or pd.Timestamp(last).normalize() < window_end:
        latest = (
            pd.Timestamp(last).normalize() - pd.Timedelta(days=window_days)
            if last is not None and not pd.isna(last)
            else None
        )
        raise DataError(
            f"cutoff: {cutoff.date()} + {window_days} days ends on "
            f"{window_end.date()}, after the last paid order "
            f"({pd.Timestamp(last).date() if latest is not None else 'none'}); the "
            "window must lie inside the data: pass a cutoff on or before "
            f"{latest.date() if latest is not None else 'the last order day'}"
        )
    fitted = next_purchases(
        orders, order_items, products, as_of=cutoff, level=level, window_days=window_days
    )
    paid = orders.filter(
        (orders.status == "paid")
        & orders.member_id.notnull()
        & (orders.ordered_at >= cutoff + pd.Timedelta(days=1))
    )
    after = paid.select("order_id", "member_id", day=paid.ordered_at.date()).join(
        order_items.select("order_id", "product_id"), "order_id"
    )
    if level == "category":
        after = after.join(products.select("product_id", "category"), "product_id")
    nxt = after.group_by(["member_id", level]).aggregate(next_day=after.day.min()).to_pandas()
    pred = fitted.predictions.merge(nxt, on=["member_id", level], how="left")
    next_day = pd.to_datetime(pred["next_day"])
    bought = (next_day <= cutoff + pd.Timedelta(days=window_days)).to_numpy()
    p = pred["p_within_window"].to_numpy()
    seen = next_day.notna().to_numpy()
    error = (pd.to_datetime(pred["expected_next_purchase"]) - next_day).dt.days.abs()
    key_cycle = pred[level].map(fitted.keys.set_index(level)["cycle_days"])
    baseline = (
        pd.to_datetime(pred["last_purchase"]) + pd.to_timedelta(key_cycle, unit="D") - next_day
    ).dt.days.abs()
    auc = float(roc_auc_score(bought, p)) if 0 < bought.sum() < len(bought) else float("nan")
    return ReplenishmentBacktest(
        cutoff=cutoff,
        window_days=window_days,
        pairs=len(pred),
        auc=auc,
        brier=float(np.mean((p - bought) ** 2)),
        mean_predicted=float(p.mean()),
        observed_rate=float(bought.mean()),
        median_abs_error_days=float(np.median(error[seen])) if seen.any() else float("nan"),
        baseline_median_abs_error_days=(
            float(np.median(baseline[seen])) if seen.any() else float("nan")
        ),
        level=level,
        repeat_pairs=int(seen.sum()),
        calibration=calibration_table(p, bought),
    )


def shrunk_log_cycle(n, ybar, mu, kappa):
    """Posterior mean of the member's mean log-interval (Gelman et al. 2013, BDA3 5.4)."""
    return (n * ybar + kappa * mu) / (n + kappa)


def probability_within(mu, s, elapsed, window):
    """P(lognormal interval <= elapsed + window | interval > elapsed)."""
    from scipy.stats import norm

    log_e = np.log(np.maximum(elapsed, 1e-9))
    log_s_e = norm.logsf((log_e - mu) / s)
    log_s_ew = norm.logsf((np.log(elapsed + window) - mu) / s)
    return -np.expm1(log_s_ew - log_s_e)


def key_hyperparameters(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """Per key ``mu``, ``sigma``, ``tau``, ``kappa`` by the method of moments."""
    n = frame["n_intervals"].to_numpy(float)
    ybar = frame["sum_log"].to_numpy() / n
    within_ss = np.maximum(frame["sum_log_sq"].to_numpy() - n * ybar**2, 0.0)
    parts = pd.DataFrame(
        {
            level: frame[level].reset_index(drop=True),  # text kept as Arrow, not objects
            "ybar": ybar,
            "ss": within_ss,
            "dof": n - 1,
            "n": n,
            "sum_log": frame["sum_log"].to_numpy(),
            "sum_log_sq": frame["sum_log_sq"].to_numpy(),
        }
    )
    g = parts.groupby(level)
    out = pd.DataFrame(
        {
            "members": g.size(),
            "intervals": g["n"].sum(),
            "mu": g["ybar"].mean(),
            "var_ybar": g["ybar"].var(ddof=1).fillna(0.0),
        }
    )
    pooled = g["ss"].sum() / g["dof"].sum().replace(0, np.nan)
    total = g["sum_log_sq"].sum() / out["intervals"] - (g["sum_log"].sum() / out["intervals"]) ** 2
    sigma2 = pooled.fillna(total).clip(lower=MIN_SIGMA**2)
    mean_noise = sigma2.reindex(parts[level]).to_numpy() / n
    noise = pd.Series(mean_noise, index=parts.index).groupby(parts[level]).mean()
    tau2 = np.maximum(out["var_ybar"] - noise, sigma2 / MAX_KAPPA)
    out["sigma"] = np.sqrt(sigma2)
    out["tau"] = np.sqrt(tau2)
    out["kappa"] = sigma2 / tau2
    out["cycle_days"] = np.exp(out["mu"])
    return out.drop(columns="var_ybar").reset_index()


def _fit(
    frame: pd.DataFrame, level: str, as_of: pd.Timestamp, window_days: int
) -> ReplenishmentResult:
    keys = key_hyperparameters(frame, level)
    k = keys.set_index(level).reindex(frame[level])
    n = frame["n_intervals"].to_numpy(float)
    ybar = frame["sum_log"].to_numpy() / n
    kappa = k["kappa"].to_numpy()
    sigma = k["sigma"].to_numpy()
    mu_hat = shrunk_log_cycle(n, ybar, k["mu"].to_numpy(), kappa)
    s = sigma * np.sqrt(1.0 + 1.0 / (n + kappa))
    last = pd.to_datetime(frame["last_day"])
    elapsed = (as_of - last).dt.days.to_numpy(float)
    cycle = np.exp(mu_hat)
    expected = last + pd.to_timedelta(np.round(cycle), unit="D")
    predictions = pd.DataFrame(
        {
            # the text columns as they are (Arrow), not turned into Python objects and back
            "member_id": frame["member_id"].reset_index(drop=True),
            level: frame[level].reset_index(drop=True),
            "purchase_days": frame["purchase_days"].to_numpy(),
            "n_intervals": n.astype(int),
            "last_purchase": last.to_numpy(),
            "own_cycle_days": np.exp(ybar),
            "cycle_days": cycle,
            "weight": n / (n + kappa),
            "expected_next_purchase": expected.to_numpy(),
            "days_overdue": (as_of - expected).dt.days.to_numpy(),
            "p_within_window": probability_within(mu_hat, s, elapsed, float(window_days)),
        }
    ).sort_values(["member_id", level], ignore_index=True)
    return ReplenishmentResult(
        level=level, as_of=as_of, window_days=window_days, predictions=predictions, keys=keys
    )


def _day(value, name: str) -> pd.Timestamp:
    """A calendar day from a date or ISO text; a clear error otherwise."""
    try:
        day = pd.Timestamp(value)
    except (TypeError, ValueError):
        day = pd.NaT
    if day is pd.NaT or pd.isna(day):
        raise ConfigError(f"{name}: must be a date such as '2025-06-30', got {value!r}")
    return day.normalize()


def _check(level, window_days) -> None:
    if level not in ("category", "product_id"):
        raise ConfigError(f"level: must be 'category' or 'product_id', got {level!r}")
    if (
        isinstance(window_days, bool)
        or not isinstance(window_days, (int, np.integer))
        or window_days < 1
    ):
        raise ConfigError(f"window_days: must be a whole number of days >= 1, got {window_days!r}")
