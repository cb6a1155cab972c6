"""Basket inputs: every accepted form encodes the same transactions (arules' set semantics:
a repeated item counts once, an empty basket still counts), and bad input names the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memberlens.baskets import association_rules, encode_baskets, read_basket_file
from memberlens.datasets import data_path
from memberlens.exceptions import DataError, SourceError

BASKETS = [["milk", "bread"], ["milk", "eggs", "milk"], [], ["bread", "eggs", "milk"], ["tea"]]


def _pairs_frame(baskets, ids=None) -> pd.DataFrame:
    ids = ids if ids is not None else [f"o{i}" for i in range(len(baskets))]
    rows = [(ids[i], item) for i, b in enumerate(baskets) for item in b]
    return pd.DataFrame(rows, columns=["basket_id", "item"])


def test_lists_collapse_repeats_and_count_empty_baskets():
    t = encode_baskets(BASKETS)
    assert t.n_transactions == 5
    assert list(t.labels) == ["bread", "eggs", "milk", "tea"]
    assert t.item_counts().tolist() == [2, 2, 3, 1]
    assert t.to_lists() == [
        ["bread", "milk"],
        ["eggs", "milk"],
        [],
        ["bread", "eggs", "milk"],
        ["tea"],
    ]


def _same_rules(a, b):
    kwargs = {"min_support": 0.2, "min_confidence": 0.1}
    pd.testing.assert_frame_equal(association_rules(a, **kwargs), association_rules(b, **kwargs))


def test_frame_arrow_and_lists_give_the_same_rules():
    nonempty = [b for b in BASKETS if b]  # a pairs table cannot hold an empty basket
    frame = _pairs_frame(nonempty)
    _same_rules(nonempty, frame)
    _same_rules(nonempty, pa.Table.from_pandas(frame, preserve_index=False))
    chunked = pa.concat_tables(
        [
            pa.Table.from_pandas(frame.iloc[:4], preserve_index=False),
            pa.Table.from_pandas(frame.iloc[4:], preserve_index=False),
        ]
    )
    _same_rules(nonempty, chunked)
    dictionary = pa.table(
        {
            "basket_id": pa.array(frame["basket_id"]).dictionary_encode(),
            "item": pa.array(frame["item"]).dictionary_encode(),
        }
    )
    _same_rules(nonempty, dictionary)


def test_sorted_integer_ids_and_unsorted_ids_agree(groceries):
    frame = _pairs_frame(groceries, ids=np.arange(len(groceries)) * 7)  # sorted, with gaps
    rng = np.random.default_rng(5)
    shuffled = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    kwargs = {"min_support": 0.003, "min_confidence": 0.3}
    expected = association_rules(groceries, **kwargs)
    pd.testing.assert_frame_equal(association_rules(frame, **kwargs), expected)
    pd.testing.assert_frame_equal(association_rules(shuffled, **kwargs), expected)
    table = pa.Table.from_pandas(shuffled, preserve_index=False)
    pd.testing.assert_frame_equal(association_rules(table, **kwargs), expected)


def test_categorical_items_in_any_category_order():
    frame = _pairs_frame([b for b in BASKETS if b])
    frame["item"] = pd.Categorical(
        frame["item"], categories=["tea", "milk", "zzz", "eggs", "bread"]
    )
    t = encode_baskets(frame)
    assert list(t.labels) == ["bread", "eggs", "milk", "tea", "zzz"]
    assert t.item_counts().tolist() == [2, 2, 3, 1, 0]


def test_basket_file_reads_like_the_bundled_loader(groceries, tmp_path):
    assert read_basket_file(data_path("groceries.csv")) == groceries
    path = tmp_path / "b.csv"
    path.write_text("a,b\n\nb;c\n", encoding="utf-8")
    assert read_basket_file(path) == [["a", "b"], ["b;c"]]
    assert read_basket_file(path, sep=";") == [["a,b"], ["b", "c"]]


def test_unreadable_basket_files(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        read_basket_file(tmp_path / "missing.csv")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("käse,brot\n".encode("latin-1"))
    with pytest.raises(SourceError, match="UTF-8"):
        read_basket_file(bad)


@pytest.mark.parametrize(
    "baskets, message",
    [
        (pd.DataFrame({"order_id": ["1"], "product_id": ["a"]}), "basket_id"),
        (pa.table({"order_id": ["1"], "item": ["a"]}), "basket_id"),
        (pd.DataFrame({"basket_id": ["1", "2"], "item": ["a", None]}), "missing item"),
        (pd.DataFrame({"basket_id": ["1", None], "item": ["a", "b"]}), "missing basket_id"),
        (pa.table({"basket_id": ["1", "2"], "item": ["a", None]}), "missing item"),
        (["milk", "bread"], "not a list of items"),
        ([["milk"], 3], "not a list of items"),
        ("milk,bread", "read_basket_file"),
        (42, "cannot read baskets"),
        ([], "no transactions"),
    ],
)
def test_bad_baskets_name_the_problem(baskets, message):
    with pytest.raises(DataError, match=message):
        encode_baskets(baskets)
