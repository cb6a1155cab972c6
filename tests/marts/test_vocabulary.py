"""Plain names, glosses and money as a marketer reads them."""

from __future__ import annotations

from memberlens.marts import column_label, gloss, money, segment_label, stage_label, tier_label


def test_names_follow_the_locale():
    assert segment_label("cn8", "important_value", "zh-CN") == "重要价值客户"
    assert segment_label("cn8", "important_value", "en") == "Important value"
    assert segment_label("my_scheme", "vip", "en") == "vip"  # a project's own scheme: its key
    assert tier_label("high_value", "zh-CN") == "高价值"
    assert stage_label("won_back", "en") == "Won back"
    assert column_label("p_alive", "zh-CN") == "存活概率"
    assert "BG/NBD" in gloss("p_alive", "en") and "12" in gloss("clv", "zh-CN")


def test_money_carries_its_currency():
    assert money(244091.94, "USD") == "$244,092"
    assert money(1234.5, "CNY", decimals=2) == "¥1,234.50"
    assert money(-12, "SEK") == "-12 SEK"
    assert money(None, "CNY") == ""
