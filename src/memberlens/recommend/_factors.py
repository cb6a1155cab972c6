"""Reusing the ALS item factors of an earlier fit instead of refitting every run.

An ALS fit alternates user and item least-squares solves for ``iterations`` rounds. When the
items and their popularity have barely moved since an earlier fit, that fit's item factors
``Y`` still describe the catalogue, and each member's factors follow from them in one exact
solve (Hu, Koren & Volinsky 2008, eq. 4):

    x_u = (Y'Y + Y'(C_u - I)Y + lambda I)^-1 Y' C_u p(u)

which is ``implicit``'s own ``recalculate_user`` (Cholesky, multi-threaded): about the cost of
one half-iteration instead of fifteen full ones. The earlier fit is refused (and ALS refitted)
when its settings differ, when an item has no factor in it, or when the items' buyer shares
moved (population stability index above ``max_shift``, as churn's and the clusters' drift
checks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["buyer_share_shift", "fold_in_users", "item_factor_frame", "reusable_factors"]

#: the settings an ALS fit depends on: factors fitted with other values are not reused
ALS_SETTINGS = ("factors", "regularization", "alpha", "scaling", "event_weights")


def item_factor_frame(model) -> pd.DataFrame:
    """The fitted ALS item factors (``f0`` ..) and buyer shares, indexed by product id."""
    frame = pd.DataFrame(
        model.item_factors_, index=model.items_, columns=[f"f{j}" for j in range(model.factors)]
    )
    frame["buyer_share"] = model.popularity_share_
    return frame


def buyer_share_shift(before: np.ndarray, after: np.ndarray) -> float:
    """Population stability index between two item buyer-share vectors (each normalised to
    sum 1; a floor of 1e-6 keeps empty items finite): sum (a - b) ln(a / b)."""
    b = np.maximum(before / max(float(before.sum()), 1e-12), 1e-6)
    a = np.maximum(after / max(float(after.sum()), 1e-12), 1e-6)
    return float(np.sum((a - b) * np.log(a / b)))


def reusable_factors(
    previous: pd.DataFrame, model, *, max_shift: float
) -> tuple[np.ndarray | None, str]:
    """The earlier fit's item factors aligned to ``model.items_`` and why, or None and why
    not."""
    columns = [f"f{j}" for j in range(model.factors)]
    if list(previous.columns) != [*columns, "buyer_share"]:
        return None, f"saved factors have {previous.shape[1] - 1} factors, not {model.factors}"
    aligned = previous.reindex(pd.Index(model.items_).astype(previous.index.dtype))
    missing = int(aligned["buyer_share"].isna().sum())
    if missing:
        return None, f"{missing} item(s) without saved factors"
    shift = buyer_share_shift(aligned["buyer_share"].to_numpy(), model.popularity_share_)
    if shift > max_shift:
        return None, f"item buyer shares shifted: PSI {shift:.2f} > {max_shift}"
    factors = np.ascontiguousarray(aligned[columns].to_numpy(np.float32))
    return factors, f"item factors reused, PSI {shift:.2f}"


def fold_in_users(model, item_factors: np.ndarray, threads: int) -> np.ndarray:
    """Every member's factors from fixed ``item_factors`` (the exact solve above)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        als = AlternatingLeastSquares(
            factors=int(model.factors),
            regularization=float(model.regularization),
            alpha=float(model.alpha),
            random_state=model.random_state,
            num_threads=threads,
        )
        als.item_factors = item_factors
        users = model.user_items_.shape[0]
        return np.asarray(als.recalculate_user(np.arange(users), model.user_items_))
