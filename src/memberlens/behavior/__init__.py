"""Member behaviour over time: lifecycle stages, cohorts and retention, purchase profiles."""

from memberlens.behavior.cohorts import (
    COHORT_COLUMNS,
    cohort_retention,
    cohort_retention_from_days,
    registration_cohort_retention,
)
from memberlens.behavior.lifecycle import (
    STAGE_KEYS,
    STAGE_NAMES,
    LifecycleRules,
    StageRule,
    counts_from_monthly,
    lifecycle_counts,
    lifecycle_stages,
    monthly_stage_codes,
    monthly_stages,
    stage_codes,
    stage_names,
    stage_transitions,
    transition_matrix,
    transitions_from_monthly,
)
from memberlens.behavior.profiles import (
    category_mix,
    member_purchases,
    profile_by_group,
    purchase_profile,
)

__all__ = [
    "COHORT_COLUMNS",
    "STAGE_KEYS",
    "STAGE_NAMES",
    "LifecycleRules",
    "StageRule",
    "category_mix",
    "cohort_retention",
    "cohort_retention_from_days",
    "counts_from_monthly",
    "lifecycle_counts",
    "lifecycle_stages",
    "member_purchases",
    "monthly_stage_codes",
    "monthly_stages",
    "profile_by_group",
    "purchase_profile",
    "registration_cohort_retention",
    "stage_codes",
    "stage_names",
    "stage_transitions",
    "transition_matrix",
    "transitions_from_monthly",
]
