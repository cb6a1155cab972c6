"""Maximum likelihood on log-parameters: damped Newton or L-BFGS-B, and Hessian standard errors.

Every CLV model's parameters are positive, so the optimiser works on ``theta = log(params)``
(better conditioning; only wide safety bounds). Models with an analytic Hessian are maximised
by a damped Newton method (a handful of steps); the others by L-BFGS-B and a Newton polish.
Standard errors come from the observed information (the negative Hessian of the total
log-likelihood at the optimum: analytic, or by differences of the analytic gradient, or of the
values when a model has none) and the delta method: ``se(p) = p * se(theta)``.
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
ValueGradientHessian = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]

_THETA_BOUND = 25.0  # |log(param)| <= 25: parameters between 1e-11 and 7e10
_RUNAWAY = 6.0  # in a failed fit, |log(param)| > 6 (beyond 2.5e-3..403) hints at a run-off


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


def log_scale_hessian(params: np.ndarray, grad: np.ndarray, hess: np.ndarray) -> np.ndarray:
    """The Hessian in theta = log(params) from the gradient and Hessian in params (chain rule:
    d2/dtheta_i dtheta_j = p_i p_j H_ij + [i == j] p_i g_i)."""
    out = params[:, None] * hess * params[None, :]
    out.flat[:: params.size + 1] += params * grad
    return out


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's BLAS/OpenMP pools, found once (finding them reads /proc, ~5 ms)."""
    return ThreadpoolController()


def single_blas_thread():
    """A context in which BLAS runs on one thread. A fit's dot products over 10^4-10^6 rows
    gain little from BLAS threads, whose spin-waits cost 10-50x on a busy machine (a 45,000-row
    np.dot measured at 0.16 ms alone and 7.8 ms with another job on the two cores); the limit
    is scoped (no global state) and costs ~15 us."""
    return _threadpools().limit(limits=1, user_api="blas")


def _hessian_from_gradient(
    gradient: Gradient, theta: np.ndarray, at_theta: np.ndarray | None = None, step: float = 1e-5
) -> np.ndarray:
    """Hessian by differences of an analytic gradient: central, or forward from ``at_theta``
    (the gradient at theta, already known) with a smaller step (error ~1e-6 relative, plenty
    for standard errors, at half the cost)."""
    size = theta.size
    hess = np.empty((size, size))
    for k in range(size):
        up = theta.copy()
        if at_theta is None:
            down = theta.copy()
            up[k] += step
            down[k] -= step
            hess[k] = (gradient(up) - gradient(down)) / (2 * step)
        else:
            up[k] += step / 10
            hess[k] = (gradient(up) - at_theta) / (step / 10)
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
                loglik(theta + eye[i] + eye[j])
                - loglik(theta + eye[i] - eye[j])
                - loglik(theta - eye[i] + eye[j])
                + loglik(theta - eye[i] - eye[j])
            ) / (4 * step**2)
    return hess


def maximize(
    loglik: LogLik,
    start: np.ndarray,
    *,
    value_and_gradient: ValueAndGradient | None = None,
    value_gradient_hessian: ValueGradientHessian | None = None,
    max_iter: int = 1000,
    tol: float = 1e-9,
    who: str = "model",
) -> MaximumLikelihood:
    """Maximise ``loglik(theta)`` (total log-likelihood of log-parameters ``theta``).

    ``value_gradient_hessian(theta)`` (all three analytic) makes the search a damped Newton
    method: a handful of iterations, and the Hessian for the standard errors comes with the last
    one. Otherwise L-BFGS-B searches with ``value_and_gradient(theta)`` (analytic gradients) or
    finite differences, and one Hessian by differences of the gradient (or of the values) serves
    a short Newton polish and the standard errors. Should Newton's method not settle (e.g. a
    parameter running off), the L-BFGS-B route starts over from ``start``.
    """
    with single_blas_thread():
        start = np.asarray(start, dtype=float)
        if value_gradient_hessian is not None:
            if value_and_gradient is None:

                def value_and_gradient(theta):
                    return value_gradient_hessian(theta)[:2]

            found = _newton(loglik, value_gradient_hessian, start, max_iter=min(max_iter, 50))
            if found is not None:
                return _result(*found, who=who)
            # did not settle: L-BFGS-B from the start, its Hessian analytic
        return _maximize(
            loglik,
            start,
            value_and_gradient=value_and_gradient,
            value_gradient_hessian=value_gradient_hessian,
            max_iter=max_iter,
            tol=tol,
            who=who,
        )


def _ascent_step(hess: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """Newton's step for a maximum, made safe: solve |H| step = g, where |H| is -H with its
    eigenvalues replaced by their absolute values (floored), so the step always climbs; near the
    optimum -H is positive definite and this is the plain Newton step."""
    if not (np.all(np.isfinite(hess)) and np.all(np.isfinite(grad))):
        return None
    eigenvalues, vectors = np.linalg.eigh(-hess)
    size = np.abs(eigenvalues)
    size = np.maximum(size, max(float(size.max()), 1.0) * 1e-10)
    return vectors @ ((vectors.T @ grad) / size)


def _newton(loglik, value_gradient_hessian, theta, *, max_iter):
    """Damped Newton ascent on log-parameters; (theta, value, gradient, Hessian, iterations) at
    the optimum, or None when it does not settle within ``max_iter`` steps or leaves the box.

    It stops when the Newton decrement g' step (twice the gain the quadratic model still
    promises) is at the rounding level of the log-likelihood; that last step is taken without
    a new evaluation (near the optimum Newton's method doubles the correct digits per step).
    """
    with np.errstate(all="ignore"):
        value, grad, hess = value_gradient_hessian(theta)
        if not np.isfinite(value):
            return None
        for iteration in range(max_iter):
            step = _ascent_step(hess, grad)
            if step is None:
                return None
            decrement = float(grad @ step)
            if decrement <= 1e-11 * max(abs(value), 1.0) and np.max(np.abs(step)) < 1e-3:
                return (
                    theta + step,
                    value + decrement / 2,
                    grad + hess @ step,
                    hess,
                    iteration + 1,
                )
            step = step * min(1.0, 2.0 / float(np.max(np.abs(step))))  # a factor e^2 at most
            # Armijo line search; the full step (accepted near the optimum) is evaluated with
            # its derivatives at once, shorter ones by value first
            found = value_gradient_hessian(theta + step)
            for _halving in range(40):
                if np.isfinite(found[0]) and found[0] >= value + 1e-4 * float(grad @ step):
                    break
                step = step / 2
                found = (loglik(theta + step),)
            else:
                return None
            theta = theta + step
            if np.max(np.abs(theta)) >= _THETA_BOUND:
                return None
            value, grad, hess = found if len(found) == 3 else value_gradient_hessian(theta)
    return None


def _result(theta, value, grad, hess, iterations, *, who) -> MaximumLikelihood:
    scale = max(abs(value), 1.0)
    runaway = np.abs(theta) > _RUNAWAY
    if not np.isfinite(value) or np.max(np.abs(grad)) > max(1e-6 * scale, 1e-2):
        hint = (
            f"parameter(s) number {(np.flatnonzero(runaway) + 1).tolist()} run off to "
            f"{np.exp(theta[runaway])}: the data do not identify them (e.g. too few "
            "members, or no sign of drop-out); fix: fit on more members or a longer period"
            if runaway.any()
            else "fix: check the summary's time unit (T of order 1 to "
            "1000 works best) or pass initial_params"
        )
        raise ConvergenceError(
            f"{who}: the likelihood maximisation did not converge (log-likelihood {value!r}, "
            f"largest gradient {np.max(np.abs(grad)):.3g} at parameters {np.exp(theta)}); " + hint
        )
    if np.any(np.abs(theta) >= _THETA_BOUND - 1e-6):
        warnings.warn(
            f"{who}: a parameter reached the edge of its range "
            f"({np.exp(theta)}); the data do not identify it",
            RuntimeWarning,
            stacklevel=4,
        )
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(-hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        params = np.exp(theta)
        standard_errors = params * np.sqrt(np.diag(cov))
    return MaximumLikelihood(params, float(value), standard_errors, int(iterations))


def _maximize(
    loglik, start, *, value_and_gradient, value_gradient_hessian, max_iter, tol, who
) -> MaximumLikelihood:
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
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
    if not analytic and not result.success:
        # forward differences can stall the line search near the optimum: go on with central
        def objective_central(theta):
            with np.errstate(all="ignore"):
                value = loglik(theta)
                if not np.isfinite(value):
                    return 1e10, np.zeros_like(theta)
                return -value / scale, -grad(theta) / scale

        result = minimize(
            objective_central, result.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
    theta = result.x
    # Newton polish with one Hessian: L-BFGS-B stops on its own criteria, a few Newton steps
    # reach the optimum to machine precision; the same Hessian gives the standard errors.
    with np.errstate(all="ignore"):
        if value_gradient_hessian is not None:
            value, g, hess = value_gradient_hessian(theta)
        elif analytic:
            value, g = value_and_gradient(theta)
            hess = _hessian_from_gradient(grad, theta, at_theta=g)
        else:
            hess = _hessian_from_values(loglik, theta)
            value, g = loglik(theta), grad(theta)
        for _ in range(10):
            try:
                step = np.linalg.solve(hess, -g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or np.max(np.abs(step)) < 1e-10:
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
            theta, value, g = candidate, new_value, grad(candidate)
            if np.max(np.abs(step)) < 1e-7:  # converging quadratically: the next one is noise
                break
    try:
        return _result(theta, value, g, hess, result.nit, who=who)
    except ConvergenceError as exc:
        raise ConvergenceError(f"{exc} (optimiser said {result.message!r})") from None
