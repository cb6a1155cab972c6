"""Per-member features computed in the engine (Ibis): purchase summaries for RFM and CLV."""

from memberlens.features.purchases import (
    TIME_UNIT_DAYS,
    TimeUnit,
    purchases,
    purchases_and_refunds,
    refunds,
)
from memberlens.features.rfm import (
    RFM_SUMMARY_COLUMNS,
    calibration_holdout_summary,
    rfm_summary,
)
from memberlens.features.timing import interpurchase_log_times

__all__ = [
    "RFM_SUMMARY_COLUMNS",
    "TIME_UNIT_DAYS",
    "TimeUnit",
    "calibration_holdout_summary",
    "interpurchase_log_times",
    "purchases",
    "purchases_and_refunds",
    "refunds",
    "rfm_summary",
]
