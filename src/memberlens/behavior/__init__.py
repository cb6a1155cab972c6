"""Member behaviour over time: lifecycle stages, cohorts and retention, purchase profiles."""

from memberlens.behavior.cohorts import (
    COHORT_COLUMNS,
    cohort_retention,
    registration_cohort_retention,
)
from memberlens.behavior.lifecycle import (
    STAGE_NAMES,
    LifecycleRules,
    StageRule,
    counts_from_monthly,
    lifecycle_counts,
    lifecycle_stages,
    monthly_stages,
    stage_transitions,
    transition_matrix,
    transitions_from_monthly,
)
from memberlens.behavior.profiles import category_mix, purchase_profile

__all__ = [
    "COHORT_COLUMNS",
    "STAGE_NAMES",
    "LifecycleRules",
    "StageRule",
    "category_mix",
    "cohort_retention",
    "counts_from_monthly",
    "lifecycle_counts",
    "lifecycle_stages",
    "monthly_stages",
    "purchase_profile",
    "registration_cohort_retention",
    "stage_transitions",
    "transition_matrix",
    "transitions_from_monthly",
]
