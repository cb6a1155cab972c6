"""Sufficient statistics of an experiment arm: what a SQL aggregate returns, nothing more.

Every test in :mod:`memberlens.experiments` takes these instead of raw rows, so the engine does the
aggregation (``count``, ``sum``, ``sum of squares`` per arm and segment) and Python only the
statistics. They add up, so per-day or per-segment aggregates combine into totals exactly
(the idea of GrowthBook's ``gbstats/models/statistics.py``).

>>> SampleMean.from_values([1.0, 2.0, 3.0]) + SampleMean.from_values([4.0])
SampleMean(n=4, sum=10.0, sum_squares=30.0)
>>> Proportion(n=200, successes=30).mean
0.15
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PairedSampleMean",
    "Proportion",
    "SampleMean",
    "paired_mean_aggregates",
    "proportion_aggregates",
    "sample_mean_aggregates",
]


def _check_n(n: int, name: str) -> None:
    if n < 0:
        raise ValueError(f"{name}: n must be >= 0, found {n}")


@dataclass(frozen=True)
class SampleMean:
    """``n`` observations of a numeric metric (e.g. revenue per member), as sums."""

    n: int
    sum: float
    sum_squares: float

    def __post_init__(self) -> None:
        _check_n(self.n, "SampleMean")

    @classmethod
    def from_values(cls, values: npt.ArrayLike) -> SampleMean:
        """The statistics of a 1-d array of observations."""
        x = np.asarray(values, dtype=float).ravel()
        return cls(n=int(x.size), sum=float(x.sum()), sum_squares=float(np.dot(x, x)))

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> SampleMean:
        """From one aggregate row with columns ``{prefix}n``, ``{prefix}sum``, ``{prefix}sum_squares``."""
        return cls(
            n=int(row[f"{prefix}n"]),
            sum=float(row[f"{prefix}sum"]),
            sum_squares=float(row[f"{prefix}sum_squares"]),
        )

    def __add__(self, other: SampleMean) -> SampleMean:
        return SampleMean(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=self.sum_squares + other.sum_squares,
        )

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance, ``(sum_squares - sum**2 / n) / (n - 1)``."""
        if self.n < 2:
            return 0.0
        return max((self.sum_squares - self.sum**2 / self.n) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` members (e.g. buyers out of those reached)."""

    n: int
    successes: int

    def __post_init__(self) -> None:
        _check_n(self.n, "Proportion")
        if not 0 <= self.successes <= self.n:
            raise ValueError(
                f"Proportion: successes must be between 0 and n={self.n}, found {self.successes}"
            )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> Proportion:
        """From one aggregate row with columns ``{prefix}n`` and ``{prefix}successes``."""
        return cls(n=int(row[f"{prefix}n"]), successes=int(row[f"{prefix}successes"]))

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(n=self.n + other.n, successes=self.successes + other.successes)

    @property
    def mean(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Bernoulli variance ``p (1 - p)`` (the per-member variance, not of the mean)."""
        p = self.mean
        return p * (1.0 - p)

    @property
    def as_sample_mean(self) -> SampleMean:
        """The same data as a 0/1 metric (``sum = sum_squares = successes``)."""
        return SampleMean(n=self.n, sum=float(self.successes), sum_squares=float(self.successes))


@dataclass(frozen=True)
class PairedSampleMean:
    """A metric ``y`` and its pre-period covariate ``x`` per member, for CUPED."""

    n: int
    sum: float
    sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_products: float

    def __post_init__(self) -> None:
        _check_n(self.n, "PairedSampleMean")

    @classmethod
    def from_values(cls, values: npt.ArrayLike, pre_values: npt.ArrayLike) -> PairedSampleMean:
        y = np.asarray(values, dtype=float).ravel()
        x = np.asarray(pre_values, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(
                f"PairedSampleMean: values and pre_values differ in length ({y.size} vs {x.size})"
            )
        return cls(
            n=int(y.size),
            sum=float(y.sum()),
            sum_squares=float(np.dot(y, y)),
            pre_sum=float(x.sum()),
            pre_sum_squares=float(np.dot(x, x)),
            sum_products=float(np.dot(x, y)),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], prefix: str = "") -> PairedSampleMean:
        return cls(
            n=int(row[f"{prefix}n"]),
            sum=float(row[f"{prefix}sum"]),
            sum_squares=float(row[f"{prefix}sum_squares"]),
            pre_sum=float(row[f"{prefix}pre_sum"]),
            pre_sum_squares=float(row[f"{prefix}pre_sum_squares"]),
            sum_products=float(row[f"{prefix}sum_products"]),
        )

    def __add__(self, other: PairedSampleMean) -> PairedSampleMean:
        return PairedSampleMean(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=self.sum_squares + other.sum_squares,
            pre_sum=self.pre_sum + other.pre_sum,
            pre_sum_squares=self.pre_sum_squares + other.pre_sum_squares,
            sum_products=self.sum_products + other.sum_products,
        )

    @property
    def post(self) -> SampleMean:
        return SampleMean(n=self.n, sum=self.sum, sum_squares=self.sum_squares)

    @property
    def pre(self) -> SampleMean:
        return SampleMean(n=self.n, sum=self.pre_sum, sum_squares=self.pre_sum_squares)


# The aggregates below are Ibis expressions (no I/O): pass them to ``table.group_by(...).aggregate``
# and build the dataclasses from the rows with ``from_row``.


def sample_mean_aggregates(value: Any, prefix: str = "") -> dict[str, Any]:
    """Ibis aggregates ``n``, ``sum``, ``sum_squares`` of a numeric column (nulls count as 0)."""
    v = value.cast("float64").fill_null(0.0)
    return {f"{prefix}n": v.count(), f"{prefix}sum": v.sum(), f"{prefix}sum_squares": (v * v).sum()}


def proportion_aggregates(flag: Any, prefix: str = "") -> dict[str, Any]:
    """Ibis aggregates ``n`` and ``successes`` of a boolean column (null counts as False)."""
    f = flag.fill_null(False)
    return {f"{prefix}n": f.count(), f"{prefix}successes": f.cast("int64").sum()}


def paired_mean_aggregates(value: Any, pre_value: Any, prefix: str = "") -> dict[str, Any]:
    """Ibis aggregates of :class:`PairedSampleMean` for a metric and its pre-period covariate."""
    y = value.cast("float64").fill_null(0.0)
    x = pre_value.cast("float64").fill_null(0.0)
    return {
        f"{prefix}n": y.count(),
        f"{prefix}sum": y.sum(),
        f"{prefix}sum_squares": (y * y).sum(),
        f"{prefix}pre_sum": x.sum(),
        f"{prefix}pre_sum_squares": (x * x).sum(),
        f"{prefix}sum_products": (x * y).sum(),
    }
