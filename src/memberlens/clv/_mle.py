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


def _hessian(gradient: Gradient, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    size = theta.size
    hess = np.empty((size, size))
    for k in range(size):
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        hess[k] = (gradient(up) - gradient(down)) / (2 * step)
    return (hess + hess.T) / 2


def maximize(loglik: LogLik, start: np.ndarray, *, gradient: Gradient | None = None,
             max_iter: int = 1000, tol: float = 1e-9, who: str = "model") -> MaximumLikelihood:
    """Maximise ``loglik(theta)`` (total log-likelihood of log-parameters ``theta``)."""
    grad = gradient if gradient is not None else (lambda th: central_gradient(loglik, th))
    scale = max(abs(loglik(np.asarray(start, dtype=float))), 1.0)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value = loglik(theta)
            if not np.isfinite(value):
                return 1e10, np.zeros_like(theta)
            return -value / scale, -grad(theta) / scale

    bounds = [(-_THETA_BOUND, _THETA_BOUND)] * len(start)
    result = minimize(objective, np.asarray(start, dtype=float), jac=True, method="L-BFGS-B",
                      bounds=bounds, options={"maxiter": max_iter, "ftol": 1e-15, "gtol": tol})
    theta = result.x
    # Newton polish: L-BFGS-B stops on its own criteria; a few exact steps reach the optimum.
    with np.errstate(all="ignore"):
        value = loglik(theta)
        for _ in range(8):
            hess = _hessian(grad, theta)
            g = grad(theta)
            try:
                step = np.linalg.solve(hess, -g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 1.0:
                break
            candidate = theta + step
            new_value = loglik(candidate)
            if not np.isfinite(new_value) or new_value < value - 1e-9 * abs(value):
                break
            theta, value = candidate, new_value
            if np.max(np.abs(step)) < 1e-10:
                break
        hess = _hessian(grad, theta)
        g = grad(theta)
    if not np.isfinite(value) or np.max(np.abs(g)) > 1e-3 * max(scale, 1.0):
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
