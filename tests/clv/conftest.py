"""CDNOW fixtures for the CLV tests (Fader, Hardie & Lee 2005 setup).

The calibration/holdout summary comes from ``memberlens.features.calibration_holdout_summary``
on the bundled 1/10 sample (same-day lines merged, weeks, calibration 1997-01-01..1997-09-30,
holdout to 1998-06-30); SOURCE.md (shared/data/cdnow) gives its totals, asserted below.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memberlens.datasets import load_cdnow_sample

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")


def cdnow_reference() -> dict:
    """Published and verified CDNOW / donations figures (tests/reference/cdnow_clv.json)."""
    return json.loads((REFERENCE / "cdnow_clv.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def reference() -> dict:
    return cdnow_reference()


def cdnow_orders() -> pd.DataFrame:
    """The sample's purchase lines as canonical paid orders (several lines may share a day)."""
    lines = load_cdnow_sample()
    return pd.DataFrame(
        {
            "order_id": np.arange(len(lines)).astype(str),
            "member_id": lines["member_id"],
            "ordered_at": lines["ordered_at"],
            "amount": lines["amount"],
            "status": "paid",
        }
    )


def cdnow_calibration_summary(orders: pd.DataFrame) -> pd.DataFrame:
    """memberlens.features' split, with its ``*_cal`` columns named as the models read them."""
    from memberlens.features import calibration_holdout_summary

    table = calibration_holdout_summary(
        orders,
        calibration_end=CALIBRATION_END.date(),
        holdout_end=HOLDOUT_END.date(),
        time_unit="W",
    )
    summary = table.to_pandas().rename(
        columns={
            "frequency_cal": "frequency",
            "recency_cal": "recency",
            "T_cal": "T",
            "monetary_value_cal": "monetary_value",
        }
    )
    return summary.sort_values("member_id").reset_index(drop=True)


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    """The CDNOW sample as orders (member_id, ordered_at, amount, ...), lines not merged."""
    return cdnow_orders()


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_transactions) -> pd.DataFrame:
    """Calibration summary with holdout columns, 2,357 members, checked against SOURCE.md."""
    summary = cdnow_calibration_summary(cdnow_transactions)
    assert len(summary) == 2357
    assert summary["frequency"].sum() == 2457
    assert (summary["frequency"] == 0).sum() == 1411
    assert summary["frequency_holdout"].sum() == 1882
    return summary


@pytest.fixture(scope="session")
def cdnow_litt(cdnow_summary, cdnow_transactions) -> pd.DataFrame:
    """The calibration summary with ``litt`` (sum of log inter-purchase times, weeks) for
    MBG/CNBD-k."""
    from memberlens.features import interpurchase_log_times

    litt = interpurchase_log_times(
        cdnow_transactions, end=CALIBRATION_END.date(), time_unit="W"
    ).to_pandas()
    return cdnow_summary.merge(litt, on="member_id", how="left")


@pytest.fixture(scope="session")
def fitted(cdnow_summary):
    """Fitted CDNOW models, shared by read-only tests (each test that mutates refits)."""
    from memberlens.clv import BetaGeoModel, GammaGammaModel, ParetoNBDModel

    return {
        "bgnbd": BetaGeoModel().fit(cdnow_summary),
        "pnbd": ParetoNBDModel().fit(cdnow_summary),
        "gg": GammaGammaModel().fit(cdnow_summary),
    }


def rng(seed: int = 20261124) -> np.random.Generator:
    return np.random.default_rng(seed)
