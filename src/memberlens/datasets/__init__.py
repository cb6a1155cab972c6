"""Small real data sets bundled with memberlens (see ``data/LICENSES.md`` for origins and licences).

>>> load_cdnow_sample().shape
(6919, 5)
>>> len(load_groceries())
9835
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = [
    "data_path",
    "load_cdnow_sample",
    "load_donations",
    "load_groceries",
    "load_groceries_items",
]


def data_path(name: str) -> Path:
    """Path of a bundled file, e.g. ``data_path("CDNOW_sample.txt")``."""
    path = Path(str(resources.files("memberlens.datasets") / "data" / name))
    if not path.exists():
        raise FileNotFoundError(f"no bundled data file {name!r} in {path.parent}")
    return path


def load_cdnow_sample() -> pd.DataFrame:
    """The CDNOW 1/10 sample: one row per purchase line (6,919 rows, 2,357 customers).

    Columns: ``master_id``, ``member_id`` (the sample id, ``"0001"``..``"2357"``), ``ordered_at``
    (date), ``quantity`` (CDs) and ``amount`` (dollars). Several lines may share a member and a
    day; the literature merges them into one transaction.
    """
    frame = pd.read_csv(
        data_path("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "member_id", "ordered_at", "quantity", "amount"],
        dtype={"master_id": str, "member_id": str, "ordered_at": str},
    )
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="%Y%m%d")
    return frame


def load_donations() -> pd.DataFrame:
    """The BG/BB donations summary (Fader, Hardie & Shang 2010): frequency, recency, periods, weights."""
    return pd.read_csv(data_path("donations.csv"))


def load_groceries() -> list[list[str]]:
    """The arules Groceries baskets: 9,835 lists of item labels (two labels end in a space)."""
    text = data_path("groceries.csv").read_text(encoding="utf-8")
    return [line.split(",") for line in text.splitlines() if line]


def load_groceries_items() -> pd.DataFrame:
    """The 169 Groceries items with their arules category levels (``level1``, ``level2``)."""
    return pd.read_csv(data_path("items.csv"), dtype={"code": str}, keep_default_na=False)
