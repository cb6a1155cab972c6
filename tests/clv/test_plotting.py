"""Plot helpers draw the checked data (not pixels) and return the axes they drew on."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from memberlens.clv.checking import (
    conditional_expectations_by_frequency,
    probability_alive_calibration,
    repeat_purchase_tracking,
)
from memberlens.clv.plotting import (
    plot_conditional_expectations,
    plot_probability_alive_calibration,
    plot_tracking,
)


def test_tracking_plot_shows_the_tracking_data(fitted, cdnow_transactions):
    tracking = repeat_purchase_tracking(
        fitted["bgnbd"], cdnow_transactions, calibration_end="1997-09-30", holdout_end="1998-06-30"
    )
    ax = plot_tracking(tracking)
    actual, model = ax.get_lines()[:2]
    np.testing.assert_array_equal(actual.get_ydata(), tracking.actual_cumulative)
    np.testing.assert_allclose(model.get_ydata(), tracking.expected_cumulative)
    ax2 = plot_tracking(tracking, cumulative=False, ax=ax.figure.add_subplot(2, 1, 2))
    np.testing.assert_array_equal(ax2.get_lines()[0].get_ydata(), tracking.actual_incremental)


def test_conditional_and_alive_plots(fitted, cdnow_summary):
    table = conditional_expectations_by_frequency(fitted["bgnbd"], cdnow_summary)
    ax = plot_conditional_expectations(table)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), table["expected_mean"])
    calib = probability_alive_calibration(fitted["bgnbd"], cdnow_summary)
    ax = plot_probability_alive_calibration(calib)
    filled = calib[calib["members"] > 0]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), filled["mean_probability_alive"])
