"""CDNOW fixtures for the CLV tests (Fader, Hardie & Lee 2005 setup).

The calibration/holdout summary is built here with plain pandas from the bundled 1/10 sample:
same-day lines merged, weeks, calibration 1997-01-01..1997-09-30, holdout to 1998-06-30.
SOURCE.md (shared/data/cdnow) gives its totals, asserted below.
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


def _transactions() -> pd.DataFrame:
    lines = load_cdnow_sample()
    return (lines.groupby(["member_id", "ordered_at"], as_index=False)["amount"].sum()
            .sort_values(["member_id", "ordered_at"], kind="stable").reset_index(drop=True))


def _summary(days: pd.DataFrame) -> pd.DataFrame:
    week = pd.Timedelta(days=7)
    first = days.groupby("member_id")["ordered_at"].transform("min")
    calib = days[days["ordered_at"] <= CALIBRATION_END]
    repeat = calib[calib["ordered_at"] > first.loc[calib.index]]
    per = calib.groupby("member_id").agg(first=("ordered_at", "min"), last=("ordered_at", "max"),
                                         days=("ordered_at", "size"))
    spend = repeat.groupby("member_id")["amount"].mean()
    hold = days[(days["ordered_at"] > CALIBRATION_END) & (days["ordered_at"] <= HOLDOUT_END)]
    summary = pd.DataFrame({
        "member_id": per.index,
        "frequency": (per["days"] - 1).to_numpy(),
        "recency": ((per["last"] - per["first"]) / week).to_numpy(),
        "T": ((CALIBRATION_END - per["first"]) / week).to_numpy(),
        "monetary_value": spend.reindex(per.index, fill_value=0.0).to_numpy(),
        "frequency_holdout": hold.groupby("member_id").size().reindex(per.index, fill_value=0)
        .to_numpy(),
        "duration_holdout": (HOLDOUT_END - CALIBRATION_END) / week,
    })
    return summary.reset_index(drop=True)


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    """One row per member and purchase day: member_id, ordered_at, amount (same-day merged)."""
    return _transactions()


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_transactions) -> pd.DataFrame:
    """Calibration summary with holdout columns, 2,357 members, checked against SOURCE.md."""
    summary = _summary(cdnow_transactions)
    assert len(summary) == 2357
    assert summary["frequency"].sum() == 2457
    assert (summary["frequency"] == 0).sum() == 1411
    assert summary["frequency_holdout"].sum() == 1882
    return summary


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
