"""Fixtures for the segmentation tests: the CDNOW sample as canonical orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memberlens.datasets import load_cdnow_sample


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """CDNOW 1/10 sample as a canonical ``orders`` frame: one order per line, all paid."""
    raw = load_cdnow_sample()
    return pd.DataFrame({
        "order_id": (np.arange(len(raw)) + 1).astype(str),
        "member_id": raw["member_id"],
        "ordered_at": raw["ordered_at"],
        "amount": raw["amount"],
        "status": "paid",
    })


@pytest.fixture
def on_backend(backend):
    """Put a pandas frame on the ``backend`` as a named view over an in-memory table."""
    import ibis
    import pyarrow as pa

    def load(frame: pd.DataFrame, name: str):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if backend.name == "pyspark":
            # Ibis registers a memtable on Spark through pandas, which turns a missing string
            # into the text 'NaN' under pandas 3; Spark reads Arrow nulls faithfully.
            backend._session.createDataFrame(table).createOrReplaceTempView(name)
            return backend.table(name)
        return backend.create_view(name, ibis.memtable(table), overwrite=True)

    return load
