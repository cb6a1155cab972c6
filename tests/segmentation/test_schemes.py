"""Segment schemes as data.

Outside references: the R/F ``seg_map`` regular expressions of the common RFM tutorials
(applied with pandas' regex replace), the segment table of the R package ``rfm`` vignette
(Hebbali), and the 8-class definitions (high/low against the mean) worked by hand.
"""

from __future__ import annotations

import itertools
import tomllib

import numpy as np
import pandas as pd
import pytest

from memberlens.exceptions import ConfigError
from memberlens.segmentation import (
    CN8,
    RF_GRID,
    RFM11,
    RFMScorer,
    SegmentScheme,
    assign_segments,
    scheme_from_dict,
)

SEG_MAP = {  # the R/F regex map as published in the tutorials
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at_risk",
    r"[1-2]5": "cant_lose_them",
    r"3[1-2]": "about_to_sleep",
    r"33": "need_attention",
    r"[3-4][4-5]": "loyal",
    r"41": "promising",
    r"51": "new",
    r"[4-5][2-3]": "potential_loyalist",
    r"5[4-5]": "champions",
}


class _FixedScorer(RFMScorer):
    """A scorer whose scores are given (columns R, F, M of the frame), to test the rules alone."""

    def transform(self, summary):
        out = summary[["member_id", "R", "F", "M"]].copy()
        out["rfm_cell"] = out.R.astype(str) + out.F.astype(str) + out.M.astype(str)
        out["rfm_total"] = out.R + out.F + out.M
        return out


def _all_cells() -> pd.DataFrame:
    cells = pd.DataFrame(list(itertools.product(range(1, 6), repeat=3)), columns=["R", "F", "M"])
    cells.insert(0, "member_id", [f"m{i}" for i in range(len(cells))])
    return cells


def test_rf_grid_equals_the_tutorial_regex_map():
    cells = _all_cells()
    got = assign_segments(cells, RF_GRID, _FixedScorer())
    rf = (cells.R.astype(str) + cells.F.astype(str)).replace(SEG_MAP, regex=True)
    assert (got.segment == rf).all()


def test_rfm11_follows_the_rfm_package_table_and_reaches_every_segment():
    got = assign_segments(_all_cells(), RFM11, _FixedScorer()).set_index("rfm_cell")
    expected = {
        "555": "champions",
        "245": "loyal",
        "512": "potential_loyalist",
        "511": "new",
        "311": "promising",
        "222": "need_attention",
        "212": "about_to_sleep",
        "155": "cant_lose_them",
        "224": "at_risk",
        "111": "lost",
        "112": "hibernating",
        "115": "others",
    }
    assert got.loc[list(expected), "segment"].to_dict() == expected
    assert set(got.segment) == {s.key for s in RFM11.segments} | {"others"}
    assert got.loc["555", "segment_zh"] == "冠军客户"


def test_cn8_high_low_against_mean_and_median():
    summary = pd.DataFrame(
        {
            "member_id": ["a", "b", "c", "d", "e"],
            "days_since_last": [10, 10, 100, 100, 30],  # mean 50, median 30
            "frequency": [5, 0, 5, 0, 1],  # mean 2.2, median 1
            "total_spend": [500.0, 500.0, 20.0, 20.0, 60.0],  # mean 220, median 60
        }
    )
    scorer = RFMScorer().fit(summary)
    mean = assign_segments(summary, CN8, scorer).set_index("member_id")
    assert mean.segment_zh.to_dict() == {
        "a": "重要价值客户",
        "b": "重要发展客户",
        "c": "一般保持客户",
        "d": "一般挽留客户",
        "e": "一般发展客户",
    }
    from dataclasses import replace

    median = assign_segments(summary, replace(CN8, reference="median"), scorer)
    # e equals every median: a tie is low (R not more recent, F and M not above)
    assert median.set_index("member_id").loc["e", "segment_zh"] == "一般挽留客户"
    assert median.segment_en.iloc[0] == "Important value"


def test_cn8_partitions_cdnow(cdnow_orders):
    from memberlens.features import rfm_summary

    summary = rfm_summary(cdnow_orders, as_of="1998-06-30").to_pandas()
    got = assign_segments(summary, CN8, RFMScorer().fit(summary))
    assert got.segment.notna().all() and got.segment.nunique() == 8
    important = got.segment.str.startswith("important")
    np.testing.assert_array_equal(important, summary.total_spend > summary.total_spend.mean())


def test_user_scheme_from_toml():
    text = """
    [segments.vip]
    kind = "score_ranges"
    source = "our CRM team"
    fallback = {key = "rest", en = "Everyone else", zh = "其他会员"}
    [[segments.vip.segments]]
    key = "vip"
    en = "VIP"
    zh = "贵宾"
    r = [4, 5]
    m = [5, 5]
    """
    scheme = scheme_from_dict("vip", tomllib.loads(text)["segments"]["vip"])
    got = assign_segments(_all_cells(), scheme, _FixedScorer())
    assert (got.segment == "vip").sum() == 2 * 5  # R in 4..5, any F, M = 5
    assert set(got.segment_zh) == {"贵宾", "其他会员"}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"segments": []}, "no segments"),
        ({"kind": "clusters", "segments": [{"key": "a", "en": "A", "zh": "甲"}]}, "kind"),
        ({"segments": [{"key": "a", "en": "A", "zh": "甲", "r": [0, 6]}]}, "score range"),
        ({"segments": [{"key": "a", "en": "A"}]}, "missing zh"),
        ({"segments": [{"key": "a", "en": "A", "zh": "甲", "x": 1}]}, "unknown field"),
        (
            {"kind": "high_low", "segments": [{"key": "a", "en": "A", "zh": "甲", "r": "up"}]},
            "'high' or 'low'",
        ),
        (
            {
                "segments": [
                    {"key": "a", "en": "A", "zh": "甲"},
                    {"key": "a", "en": "B", "zh": "乙"},
                ]
            },
            "unique",
        ),
    ],
)
def test_bad_user_schemes_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message):
        scheme_from_dict("mine", data)


def test_scheme_rules_export_as_a_table():
    frame = RFM11.to_frame()
    assert len(frame) == 12 and frame.iloc[0].R == (4, 5)
    assert isinstance(CN8, SegmentScheme) and CN8.to_frame().R.tolist()[:2] == ["high", "high"]


@pytest.mark.parametrize("scheme", [CN8, RFM11], ids=["cn8", "rfm11"])
def test_engine_segments_equal_pandas_segments(backend, on_backend, cdnow_orders, scheme):
    from memberlens.features import rfm_summary
    from memberlens.segmentation import segment_table

    summary = rfm_summary(cdnow_orders, as_of="1998-06-30").to_pandas()
    scorer = RFMScorer().fit(summary)
    expected = assign_segments(summary, scheme, scorer).sort_values("member_id")
    table = rfm_summary(on_backend(cdnow_orders, "cdnow_orders"), as_of="1998-06-30")
    got = backend.to_pandas(
        segment_table(table, scheme, scorer).select(
            "member_id", "segment", "segment_en", "segment_zh"
        )
    ).sort_values("member_id")
    for column in ("segment", "segment_en", "segment_zh"):
        assert got[column].tolist() == expected[column].tolist()
