"""Non-product lines (postage, fees, discounts, adjustments) are left out of baskets.

Reference: the codes of the public UK "Online Retail II" export (POST, DOT, C2, M, D, BANK
CHARGES, AMAZONFEE, CRUK, PADS, ADJUST2, gift_0001_20, TEST001), built into hand-made lines.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from memberlens.baskets import NON_PRODUCT_CODES, baskets_from_orders, excluded_codes
from memberlens.exceptions import ConfigError

FEES = ["POST", "DOT", "C2", "M", "d", " BANK CHARGES ", "AMAZONFEE", "CRUK", "PADS"]
NUMBERED = ["ADJUST2", "gift_0001_20", "TEST001"]


@pytest.fixture()
def lines():
    products = ["85099B", "22423", *FEES, *NUMBERED, "SHIPPING-EU"]
    frame = pd.DataFrame({"order_id": "o1", "product_id": products, "quantity": 1.0})
    return ibis.duckdb.connect().create_table("order_items", frame)


def _items(table) -> set[str]:
    return set(table.to_pandas()["item"])


def test_common_non_product_codes_are_left_out_of_baskets(lines):
    assert _items(baskets_from_orders(lines)) == {"85099B", "22423", "SHIPPING-EU"}


def test_project_codes_add_to_the_common_ones(lines):
    codes = excluded_codes({"exclude_products": ["shipping-eu"]})
    assert codes >= NON_PRODUCT_CODES
    assert _items(baskets_from_orders(lines, exclude_products=codes)) == {"85099B", "22423"}


def test_none_keeps_every_line(lines):
    assert len(_items(baskets_from_orders(lines, exclude_products=None))) == 2 + len(FEES) + 4


@pytest.mark.parametrize("bad", ["POST", 3.5, [True], [None]])
def test_a_bad_exclude_list_names_the_setting(bad):
    with pytest.raises(ConfigError, match=r"\[baskets\] exclude_products"):
        excluded_codes({"exclude_products": bad})
