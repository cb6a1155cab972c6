"""Maximum likelihood on log-parameters: L-BFGS-B, a Newton polish, and Hessian standard errors.

Every CLV model's parameters are positive, so the optimiser works on ``theta = log(params)``
(better conditioning; only wide safety bounds). Standard errors come from the observed
information (the negative Hessian of the total log-likelihood at the optimum, by central
differences of the analytic gradient, or of the values when a model has none) and the delta
method: ``se(p) = p * se(theta)``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

from memberlens.exceptions import ConvergenceError

LogLik = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]
ValueAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

_THETA_BOUND = 25.0  # |log(param)| <= 25: parameters between 1e-11 and 7e10
_RUNAWAY = 9.0  # in a failed fit, |log(param)| > 9 (beyond 1.2e-4..8e3) hints at a run-off


@dataclass(frozen=True)
class MaximumLikelihood:
    """The optimum: parameters, total log-likelihood, standard errors, iterations used."""

    params: np.ndarray
    log_likelihood: float
    standard_errors: np.ndarray
    n_iterations: int


def central_gradient(loglik: LogLik, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Gradient of ``loglik`` at ``theta`` by central differences."""
    grad = np.empty_like(theta)
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        grad[k] = (loglik(up) - loglik(down)) / (2 * step)
    return grad


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's BLAS/OpenMP pools, found once (finding them reads /proc, ~5 ms)."""
    return ThreadpoolController()


def _hessian_from_gradient(gradient: Gradient, theta: np.ndarray,
                           step: float = 1e-5) -> np.ndarray:
    size = theta.size
    hess = np.empty((size, size))
    for k in range(size):
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        hess[k] = (gradient(up) - gradient(down)) / (2 * step)
    return (hess + hess.T) / 2


def _hessian_from_values(loglik: LogLik, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    size = theta.size
    eye = np.eye(size) * step
    center = loglik(theta)
    hess = np.empty((size, size))
    for i in range(size):
        hess[i, i] = (loglik(theta + eye[i]) - 2 * center + loglik(theta - eye[i])) / step**2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                loglik(theta + eye[i] + eye[j]) - loglik(theta + eye[i] - eye[j])
                - loglik(theta - eye[i] + eye[j]) + loglik(theta - eye[i] - eye[j])) / (4 * step**2)
    return hess


def maximize(loglik: LogLik, start: np.ndarray, *,
             value_and_gradient: ValueAndGradient | None = None,
             max_iter: int = 1000, tol: float = 1e-9, who: str = "model") -> MaximumLikelihood:
    """Maximise ``loglik(theta)`` (total log-likelihood of log-parameters ``theta``).

    ``value_and_gradient(theta)`` returns both at once when the model has analytic gradients;
    otherwise gradients are finite differences.
    """
    # The optimiser's 3-4 parameter linear algebra gains nothing from BLAS threads, whose
    # spin-waits cost ~10x on a busy machine; the limit is scoped to this call (no global state).
    with _threadpools().limit(limits=1, user_api="blas"):
        return _maximize(loglik, np.asarray(start, dtype=float),
                         value_and_gradient=value_and_gradient, max_iter=max_iter, tol=tol,
                         who=who)


def _maximize(loglik, start, *, value_and_gradient, max_iter, tol, who) -> MaximumLikelihood:
    analytic = value_and_gradient is not None
    if value_and_gradient is None:
        # Forward differences while searching (half the cost); the Newton polish below uses
        # central differences and an exact-enough Hessian, so the optimum is not affected.
        def value_and_gradient(theta):
            value = loglik(theta)
            step = 1e-7
            shifted = [loglik(theta + step * unit) for unit in np.eye(theta.size)]
            return value, (np.array(shifted) - value) / step

        def grad(theta):
            return central_gradient(loglik, theta)
    else:
        def grad(theta):
            return value_and_gradient(theta)[1]
    scale = max(abs(loglik(np.asarray(start, dtype=float))), 1.0)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, slope = value_and_gradient(theta)
            if not np.isfinite(value):
                return 1e10, np.zeros_like(theta)
            return -value / scale, -slope / scale

    bounds = [(-_THETA_BOUND, _THETA_BOUND)] * len(start)
    options = {"maxiter": max_iter, "ftol": 1e-10, "gtol": tol}
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                      options=options)
    if not analytic and not result.success:
        # forward differences can stall the line search near the optimum: go on with central
        def objective_central(theta):
            with np.errstate(all="ignore"):
                value = loglik(theta)
                if not np.isfinite(value):
                    return 1e10, np.zeros_like(theta)
                return -value / scale, -grad(theta) / scale

        result = minimize(objective_central, result.x, jac=True, method="L-BFGS-B",
                          bounds=bounds, options=options)
    theta = result.x
    # Newton polish with one Hessian: L-BFGS-B stops on its own criteria, a few Newton steps
    # reach the optimum to machine precision; the same Hessian gives the standard errors.
    with np.errstate(all="ignore"):
        hess = (_hessian_from_gradient(grad, theta) if analytic
                else _hessian_from_values(loglik, theta))
        value = loglik(theta)
        g = grad(theta)
        for _ in range(10):
            try:
                step = np.linalg.solve(hess, -g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            step = step * min(1.0, 0.5 / np.max(np.abs(step)))  # at most a 65% change
            for _halving in range(20):
                candidate = theta + step
                new_value = loglik(candidate)
                if np.isfinite(new_value) and new_value >= value:
                    break
                step = step / 2
            else:
                break
            new_g = grad(candidate)
            theta, value, g = candidate, new_value, new_g
            if np.max(np.abs(step)) < 1e-9:
                break
    runaway = np.abs(theta) > _RUNAWAY
    if not np.isfinite(value) or np.max(np.abs(g)) > max(1e-6 * scale, 1e-2):
        hint = (f"parameter(s) number {(np.flatnonzero(runaway) + 1).tolist()} run off to "
                f"{np.exp(theta[runaway])}: the data do not identify them (e.g. too few "
                "members, or no sign of drop-out); fix: fit on more members or a longer period"
                if runaway.any() else "fix: check the summary's time unit (T of order 1 to "
                "1000 works best) or pass initial_params")
        raise ConvergenceError(
            f"{who}: the likelihood maximisation did not converge (log-likelihood {value!r}, "
            f"largest gradient {np.max(np.abs(g)):.3g} at parameters {np.exp(theta)}, "
            f"optimiser said {result.message!r}); " + hint)
    if np.any(np.abs(theta) >= _THETA_BOUND - 1e-6):
        warnings.warn(f"{who}: a parameter reached the edge of its range "
                      f"({np.exp(theta)}); the data do not identify it",
                      RuntimeWarning, stacklevel=3)
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(-hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        params = np.exp(theta)
        standard_errors = params * np.sqrt(np.diag(cov))
    return MaximumLikelihood(params, float(value), standard_errors, int(result.nit))
