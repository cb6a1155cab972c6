"""Maximum likelihood on log-parameters: L-BFGS-B, a Newton polish, and Hessian standard errors.

Every CLV model's parameters are positive, so the optimiser works on ``theta = log(params)``
(no bounds needed, better conditioning). Standard errors come from the observed information
(the negative Hessian of the total log-likelihood at the optimum, by central differences of the
gradient) and the delta method: ``se(p) = p * se(theta)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from memberlens.exceptions import ConvergenceError

LogLik = Callable[[np.ndarray], float]
Gradient = Callable[[np.ndarray], np.ndarray]
ValueAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

_THETA_BOUND = 25.0  # |log(param)| <= 25: parameters between 1e-11 and 7e10


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
    otherwise gradients are central differences.
    """
    analytic = value_and_gradient is not None
    if value_and_gradient is None:
        def value_and_gradient(theta):
            return loglik(theta), central_gradient(loglik, theta)

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
    result = minimize(objective, np.asarray(start, dtype=float), jac=True, method="L-BFGS-B",
                      bounds=bounds, options={"maxiter": max_iter, "ftol": 1e-13, "gtol": tol})
    theta = result.x
    # Newton polish with one Hessian: L-BFGS-B stops on its own criteria, a few Newton steps
    # reach the optimum to machine precision; the same Hessian gives the standard errors.
    with np.errstate(all="ignore"):
        hess = (_hessian_from_gradient(grad, theta) if analytic
                else _hessian_from_values(loglik, theta))
        value = loglik(theta)
        g = grad(theta)
        for _ in range(6):
            try:
                step = np.linalg.solve(hess, -g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 0.1:
                break
            candidate = theta + step
            new_value = loglik(candidate)
            if not np.isfinite(new_value) or new_value < value:
                break
            new_g = grad(candidate)
            theta, value, g = candidate, new_value, new_g
            if np.max(np.abs(step)) < 1e-9:
                break
    if not np.isfinite(value) or np.max(np.abs(g)) > max(1e-6 * scale, 1e-2):
        raise ConvergenceError(
            f"{who}: the likelihood maximisation did not converge (log-likelihood {value!r}, "
            f"largest gradient {np.max(np.abs(g)):.3g}, optimiser said {result.message!r}); "
            "fix: check the summary's time unit (T of order 1 to 1000 works best) or pass "
            "initial_params")
    if np.any(np.abs(theta) >= _THETA_BOUND - 1e-6):
        warnings.warn(f"{who}: a parameter reached the edge of its range "
                      f"({dict(enumerate(np.exp(theta)))}); the data do not identify it",
                      RuntimeWarning, stacklevel=3)
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(-hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        params = np.exp(theta)
        standard_errors = params * np.sqrt(np.diag(cov))
    return MaximumLikelihood(params, float(value), standard_errors, int(result.nit))
