"""The clv step keeps its back-test's choice of purchase model (memberlens.pipeline.steps.clv):
reused for RECHOOSE_DAYS as-of days, chosen again after, never reused from an AIC choice."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pandas as pd
import pytest

from memberlens.pipeline.steps.clv import (
    RECHOOSE_DAYS,
    _save_choice,
    _saved_choice,
    choice_path,
)

DAY = dt.date(2011, 12, 9)


def ctx(tmp_path, as_of: dt.date):
    return SimpleNamespace(project=SimpleNamespace(state_dir=tmp_path / ".memberlens"), as_of=as_of)


def test_a_back_test_choice_is_reused_for_its_window_only(tmp_path):
    comparison = pd.DataFrame(
        {"model": ["bgnbd", "pnbd"], "holdout_mae": [0.1234567890123456789, float("nan")]}
    )
    _save_choice(ctx(tmp_path, DAY), "bgnbd", "holdout", comparison)
    saved, why = _saved_choice(ctx(tmp_path, DAY + dt.timedelta(days=RECHOOSE_DAYS)))
    assert saved is not None and saved["model"] == "bgnbd" and why == ""
    # the comparison reads back exactly (floats by repr, NaN kept)
    back = pd.DataFrame.from_records(saved["comparison"], columns=comparison.columns)
    pd.testing.assert_frame_equal(back, comparison)
    later, why = _saved_choice(ctx(tmp_path, DAY + dt.timedelta(days=RECHOOSE_DAYS + 1)))
    assert later is None and f"{RECHOOSE_DAYS + 1} days" in why
    earlier, why = _saved_choice(ctx(tmp_path, DAY - dt.timedelta(days=1)))
    assert earlier is None and "-1 days" in why


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"model": "bgnbd", "criterion": "aic", "chosen_on": "2011-12-09"}, "not from a back-test"),
        ({"model": "nbd", "criterion": "holdout", "chosen_on": "2011-12-09"}, "not from a back"),
        ({"model": "bgnbd", "criterion": "holdout"}, "unreadable"),
        ("{not json", "unreadable"),
    ],
)
def test_a_choice_not_to_reuse_is_made_again(tmp_path, record, reason):
    path = choice_path(ctx(tmp_path, DAY))
    path.parent.mkdir(parents=True)
    path.write_text(record if isinstance(record, str) else json.dumps(record), encoding="utf-8")
    saved, why = _saved_choice(ctx(tmp_path, DAY))
    assert saved is None and reason in why
