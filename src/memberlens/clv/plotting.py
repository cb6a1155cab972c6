"""Plots of the model checks (matplotlib). Each helper takes ``ax=None`` and returns the axes;
without ``ax`` it draws on a new ``matplotlib.figure.Figure`` (no pyplot global state)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memberlens.clv.checking import RepeatTracking

__all__ = ["plot_conditional_expectations", "plot_probability_alive_calibration", "plot_tracking"]


def _axes(ax):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(7, 4)).add_subplot()


def plot_tracking(tracking: RepeatTracking, *, cumulative: bool = True, ax=None):
    """Actual vs expected repeat purchases per period, with the end of calibration marked."""
    ax = _axes(ax)
    kind = "cumulative" if cumulative else "incremental"
    ax.plot(tracking.period, getattr(tracking, f"actual_{kind}"), label="actual", color="black")
    ax.plot(
        tracking.period,
        getattr(tracking, f"expected_{kind}"),
        label="model",
        linestyle="--",
        color="tab:blue",
    )
    ax.axvline(
        tracking.calibration_periods, color="grey", linestyle=":", label="end of calibration"
    )
    ax.set_xlabel(f"period ({tracking.time_unit}) since {tracking.origin.date()}")
    ax.set_ylabel(f"{kind} repeat purchases")
    ax.legend()
    return ax


def plot_conditional_expectations(table: pd.DataFrame, *, ax=None):
    """Mean holdout purchases by calibration frequency: actual vs expected (from
    :func:`~memberlens.clv.checking.conditional_expectations_by_frequency`)."""
    ax = _axes(ax)
    positions = np.arange(len(table))
    ax.plot(positions, table["actual_mean"], marker="o", label="actual", color="black")
    ax.plot(
        positions,
        table["expected_mean"],
        marker="s",
        linestyle="--",
        label="model",
        color="tab:blue",
    )
    ax.set_xticks(positions, [str(v) for v in table.index])
    ax.set_xlabel("purchases in calibration period")
    ax.set_ylabel("mean purchases in holdout period")
    ax.legend()
    return ax


def plot_probability_alive_calibration(table: pd.DataFrame, *, ax=None):
    """Share of members active in the holdout against predicted P(alive), by bin (from
    :func:`~memberlens.clv.checking.probability_alive_calibration`)."""
    ax = _axes(ax)
    filled = table[table["members"] > 0]
    ax.plot(
        filled["mean_probability_alive"],
        filled["share_active_in_holdout"],
        marker="o",
        color="black",
        label="share buying in holdout",
    )
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="diagonal")
    ax.set_xlabel("predicted P(alive) at end of calibration")
    ax.set_ylabel("share of members")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend()
    return ax
