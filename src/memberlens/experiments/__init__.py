"""Measuring what worked: A/B test statistics over sufficient statistics (no I/O).

The engine aggregates each arm to :class:`SampleMean` / :class:`Proportion` (``n``, ``sum``,
``sum_squares`` / ``successes``); the functions here turn them into lifts, intervals, p-values,
Bayesian read-outs, sequential decisions and sample-size plans. See ``docs/experiments.md``.
"""

from memberlens.experiments.bayesian import (
    BayesianResult,
    beta_binomial_readout,
    gaussian_readout,
    probability_beta_greater,
)
from memberlens.experiments.campaigns import (
    ArmSummary,
    CampaignReport,
    Comparison,
    Costs,
    Economics,
    arm_statistics,
    campaign_report,
    member_outcomes,
)
from memberlens.experiments.cuped import cuped_adjusted, cuped_theta
from memberlens.experiments.frequentist import (
    ComparisonResult,
    relative_lift_variance,
    two_proportion_ztest,
    welch_ttest,
)
from memberlens.experiments.multiple import benjamini_hochberg, holm
from memberlens.experiments.planning import (
    SampleSizePlan,
    cohens_h,
    power_two_sample_normal,
    sample_size_for_rate,
)
from memberlens.experiments.programme import (
    PlanReturn,
    ProgrammeInputs,
    ProgrammeResult,
    programme_roi,
)
from memberlens.experiments.regression import (
    AnovaRow,
    Coefficient,
    RegressionResult,
    fit_drivers,
    fit_factorial,
)
from memberlens.experiments.results import campaign_results
from memberlens.experiments.sequential import (
    SequentialResult,
    always_valid_p_values,
    confidence_sequence,
    msprt_likelihood_ratio,
    sequential_proportion_test,
)
from memberlens.experiments.srm import (
    SampleRatioMismatchWarning,
    SrmResult,
    sample_ratio_mismatch,
)
from memberlens.experiments.statistics import (
    PairedSampleMean,
    Proportion,
    SampleMean,
    paired_mean_aggregates,
    proportion_aggregates,
    sample_mean_aggregates,
)

__all__ = [
    "AnovaRow",
    "ArmSummary",
    "BayesianResult",
    "CampaignReport",
    "Coefficient",
    "Comparison",
    "ComparisonResult",
    "Costs",
    "Economics",
    "PairedSampleMean",
    "PlanReturn",
    "ProgrammeInputs",
    "ProgrammeResult",
    "Proportion",
    "RegressionResult",
    "SampleMean",
    "SampleRatioMismatchWarning",
    "SampleSizePlan",
    "SequentialResult",
    "SrmResult",
    "always_valid_p_values",
    "arm_statistics",
    "benjamini_hochberg",
    "beta_binomial_readout",
    "campaign_report",
    "campaign_results",
    "cohens_h",
    "confidence_sequence",
    "cuped_adjusted",
    "cuped_theta",
    "fit_drivers",
    "fit_factorial",
    "gaussian_readout",
    "holm",
    "member_outcomes",
    "msprt_likelihood_ratio",
    "paired_mean_aggregates",
    "power_two_sample_normal",
    "probability_beta_greater",
    "programme_roi",
    "proportion_aggregates",
    "relative_lift_variance",
    "sample_mean_aggregates",
    "sample_ratio_mismatch",
    "sample_size_for_rate",
    "sequential_proportion_test",
    "two_proportion_ztest",
    "welch_ttest",
]
