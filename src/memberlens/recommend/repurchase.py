"""Which products members buy again (replenishment items: 纸尿裤, 猫粮, 面霜 ...).

A product bought before may be recommended again only when members rebuy it. The repeat
purchase rate of a product is the share of its buyers who bought it on two or more days::

    rate(p) = #{members with purchase_days(m, p) >= 2} / #{members with purchase_days(m, p) >= 1}

A product is a replenishment item when its rate is at least ``threshold`` and it has at least
``min_buyers`` buyers; a product with fewer buyers takes its category's pooled rate (all
member-product pairs of the category), so a new 猫粮 is rebought like the other 猫粮. A catalogue
that declares ``replenishment_days`` (data contract) marks those products too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["declared_replenishment", "repeat_purchase_rates", "replenishment_mask"]


def repeat_purchase_rates(purchases: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(buyers, repeat buyers) per item from a members x items matrix of purchase days."""
    csc = purchases.tocsc()
    n_items = purchases.shape[1]
    column = np.repeat(np.arange(n_items), np.diff(csc.indptr))
    bought = csc.data >= 1
    buyers = np.bincount(column[bought], minlength=n_items)
    repeaters = np.bincount(column[csc.data >= 2], minlength=n_items)
    return buyers, repeaters


def replenishment_mask(
    purchases: sp.csr_matrix,
    *,
    category_codes: np.ndarray | None,
    threshold: float,
    min_buyers: int,
    declared: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean per item: rebought (see the module notes) or declared by the catalogue."""
    buyers, repeaters = repeat_purchase_rates(purchases)
    rate = np.divide(repeaters, buyers, out=np.zeros(len(buyers)), where=buyers > 0)
    known = buyers >= min_buyers
    mask = known & (rate >= threshold)
    if category_codes is not None:
        has_category = category_codes >= 0
        codes = np.where(has_category, category_codes, 0)
        n_cat = int(codes.max()) + 1 if len(codes) else 0
        cat_buyers = np.bincount(codes, weights=buyers * has_category, minlength=n_cat)
        cat_repeat = np.bincount(codes, weights=repeaters * has_category, minlength=n_cat)
        cat_rate = np.divide(cat_repeat, cat_buyers, out=np.zeros(n_cat), where=cat_buyers > 0)
        pooled = has_category & ~known & (cat_buyers[codes] >= min_buyers)
        mask |= pooled & (cat_rate[codes] >= threshold)
    if declared is not None:
        mask |= np.asarray(declared, dtype=bool)
    return mask


def declared_replenishment(products: pd.DataFrame | None, items: pd.Index) -> np.ndarray | None:
    """Items whose catalogue row has a ``replenishment_days`` value, or None without one."""
    if products is None or "replenishment_days" not in products.columns:
        return None
    days = pd.to_numeric(products["replenishment_days"], errors="coerce")
    flagged = products.loc[days.notna() & (days > 0), "product_id"].astype(items.dtype)
    return items.isin(flagged)
