"""Bundled data sets match the figures published in their SOURCE notes."""

from memberlens import datasets


def test_cdnow_sample_matches_source_md():
    # ../shared/data/cdnow/SOURCE.md: 6,919 lines, 2,357 customers, $244,091.94,
    # 6,696 distinct customer-days.
    frame = datasets.load_cdnow_sample()
    assert len(frame) == 6919 and frame.member_id.nunique() == 2357
    assert round(frame.amount.sum(), 2) == 244091.94
    assert len(frame[["member_id", "ordered_at"]].drop_duplicates()) == 6696


def test_groceries_matches_arules_summary():
    # arules summary(Groceries): 9,835 transactions, 169 items, 43,367 item occurrences.
    baskets = datasets.load_groceries()
    assert len(baskets) == 9835 and sum(map(len, baskets)) == 43367
    assert len({i for b in baskets for i in b}) == 169
    assert "cream cheese " in {i for b in baskets for i in b}
    assert len(datasets.load_groceries_items()) == 169


def test_donations_sum_to_11104_donors():
    # Fader, Hardie & Shang (2010): 11,104 donors, 6 periods.
    d = datasets.load_donations()
    assert d.weights.sum() == 11104 and set(d.periods) == {6}
