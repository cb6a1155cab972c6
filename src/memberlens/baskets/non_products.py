"""Lines that are not products: postage, fees, discounts and manual adjustments.

Line-level exports book them as order lines (``POST`` postage on most export orders of a UK
wholesaler), so they would top every basket analysis ("bought with postage"). Basket mining
leaves out the common codes below and any the shop lists in ``memberlens.toml``::

    [baskets]
    exclude_products = ["SHIPPING", "GIFTWRAP"]

Codes are compared without case and surrounding blanks; ``NON_PRODUCT_PREFIXES`` also catch
numbered ones (``ADJUST2``, ``gift_0001_20``, ``TEST001``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ibis.expr.types as ir

from memberlens.exceptions import ConfigError

__all__ = [
    "NON_PRODUCT_CODES",
    "NON_PRODUCT_PREFIXES",
    "excluded_codes",
    "is_non_product",
]

#: common non-product codes of POS and marketplace exports (upper case): postage (POST, DOT:
#: dotcom postage, C2: carriage), manual lines (M), discounts (D), bank and marketplace fees,
#: samples (S), bad-debt adjustments (B), charity lines (CRUK) and packing (PADS).
NON_PRODUCT_CODES = frozenset(
    {
        "POST",
        "POSTAGE",
        "DOT",
        "C2",
        "M",
        "D",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "PADS",
        "SHIPPING",
        "DISCOUNT",
    }
)
#: prefixes of numbered non-product codes (upper case)
NON_PRODUCT_PREFIXES = ("ADJUST", "GIFT_0001", "TEST")


def excluded_codes(settings: Mapping[str, Any]) -> frozenset[str]:
    """The common codes plus ``[baskets] exclude_products`` (a list of codes), upper case."""
    extra = settings.get("exclude_products", [])
    if isinstance(extra, str) or not isinstance(extra, Iterable):
        raise ConfigError(
            f"[baskets] exclude_products: must be a list of product codes, got {extra!r}; "
            'e.g. exclude_products = ["SHIPPING", "GIFTWRAP"] in memberlens.toml'
        )
    codes = list(extra)
    bad = [c for c in codes if not isinstance(c, (str, int)) or isinstance(c, bool)]
    if bad:
        raise ConfigError(
            f"[baskets] exclude_products: every entry must be a product code (text), got "
            f"{bad[0]!r}; fix it in memberlens.toml"
        )
    return NON_PRODUCT_CODES | {str(c).strip().upper() for c in codes}


def is_non_product(
    product_id: ir.Value, codes: Iterable[str] = NON_PRODUCT_CODES
) -> ir.BooleanValue:
    """Whether a product id (any type) is one of ``codes`` or starts with a numbered prefix."""
    code = product_id.cast("string").strip().upper()
    hit = code.isin(sorted(codes))
    for prefix in NON_PRODUCT_PREFIXES:
        hit |= code.startswith(prefix)
    return hit.fill_null(False)
