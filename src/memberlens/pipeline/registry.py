"""The steps of ``memberlens run``, in the order they run.

A new step is one entry here (and its module under :mod:`memberlens.pipeline.steps`);
``docs/pipeline.md``, ``memberlens run --steps/--skip`` and the ``[run] skip`` setting all
follow this list.
"""

from __future__ import annotations

from memberlens.pipeline.step import Step
from memberlens.pipeline.steps.baskets import BASKETS
from memberlens.pipeline.steps.behaviour import COHORTS, PROFILES, REPLENISHMENT
from memberlens.pipeline.steps.campaigns import CAMPAIGNS
from memberlens.pipeline.steps.churn import CHURN
from memberlens.pipeline.steps.clusters import CLUSTERS
from memberlens.pipeline.steps.clv import CLV
from memberlens.pipeline.steps.forecast import FORECAST
from memberlens.pipeline.steps.lifecycle import LIFECYCLE
from memberlens.pipeline.steps.members import MEMBERS
from memberlens.pipeline.steps.recommendations import RECOMMENDATIONS
from memberlens.pipeline.steps.segments import SEGMENTS, TIERS
from memberlens.pipeline.steps.summary import SUMMARY

STEPS: tuple[Step, ...] = (
    SUMMARY,
    CLV,
    SEGMENTS,
    TIERS,
    LIFECYCLE,
    COHORTS,
    PROFILES,
    BASKETS,
    CLUSTERS,
    REPLENISHMENT,
    RECOMMENDATIONS,
    CHURN,
    FORECAST,
    CAMPAIGNS,
    MEMBERS,
)


def step_names() -> tuple[str, ...]:
    """The names of the steps, in order."""
    return tuple(s.name for s in STEPS)


def step(name: str) -> Step:
    """The step called ``name`` (KeyError when there is none)."""
    for s in STEPS:
        if s.name == name:
            return s
    raise KeyError(name)
