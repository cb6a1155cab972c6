"""The optimiser on a likelihood with a known answer: a normal sample's mean and sd."""

from __future__ import annotations

import numpy as np
import pytest

from memberlens.clv._mle import maximize
from memberlens.exceptions import ConvergenceError


def _normal(sample):
    def loglik(theta):  # theta = log(mean), log(sd)
        mu, sd = np.exp(theta)
        return float(np.sum(-np.log(sd) - 0.5 * ((sample - mu) / sd) ** 2))
    return loglik


def test_normal_mle_and_standard_errors():
    sample = np.random.default_rng(3).normal(50.0, 4.0, 5_000)
    fit = maximize(_normal(sample), np.log([10.0, 1.0]))
    mean, sd = sample.mean(), sample.std()
    assert fit.params == pytest.approx([mean, sd], rel=1e-7)
    # textbook: se(mean) = sd / sqrt(n), se(sd) = sd / sqrt(2n)
    assert fit.standard_errors == pytest.approx([sd / np.sqrt(5_000), sd / np.sqrt(10_000)],
                                                rel=1e-3)


def test_divergence_is_reported():
    with pytest.raises(ConvergenceError, match="did not converge"):
        maximize(lambda theta: float(np.sum(theta) * 1e3), np.zeros(2), max_iter=2)


def test_unidentified_parameters_are_named():
    # donations rows with an odd index only: no sign of drop-out, gamma and delta run off
    from memberlens.clv import BetaGeoBetaBinomModel
    from memberlens.datasets import load_donations

    data = load_donations()
    with pytest.raises(ConvergenceError, match=r"number \[3, 4\] run off"):
        BetaGeoBetaBinomModel().fit(data[data.index % 2 == 1])
