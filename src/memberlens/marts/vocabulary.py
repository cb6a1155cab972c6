"""One vocabulary for what the marts hold: plain names of columns in Chinese and English, a
one-line gloss of each model term, segment/tier/stage names, and money with its currency.

A marketer reads "存活概率 (P(alive))", not "p_alive"; "¥12,345", not "12345.0".
"""

from __future__ import annotations

from typing import Literal

from memberlens.behavior.lifecycle import STAGE_NAMES
from memberlens.segmentation.schemes import SCHEMES
from memberlens.segmentation.tiers import TIERS

Locale = Literal["zh-CN", "en"]

#: mart column -> (Chinese, English) plain names.
COLUMNS: dict[str, tuple[str, str]] = {
    "member_id": ("会员ID", "Member"),
    "segment_cn8": ("RFM 八类", "RFM class"),
    "segment_rfm11": ("RFM 十一类", "RFM segment"),
    "value_tier": ("价值等级", "Value tier"),
    "lifecycle_stage": ("生命周期", "Lifecycle"),
    "R": ("R 分", "R score"),
    "F": ("F 分", "F score"),
    "M": ("M 分", "M score"),
    "frequency": ("复购次数", "Repeat purchases"),
    "total_spend": ("累计消费", "Total spend"),
    "days_since_last": ("距上次购买(天)", "Days since last purchase"),
    "p_alive": ("存活概率", "Chance still active"),
    "expected_purchases_90d": ("90天预计购买", "Expected purchases, 90 days"),
    "clv": ("12个月预计价值", "Expected 12-month value"),
    "members": ("会员数", "Members"),
    "revenue": ("销售额", "Revenue"),
    "revenue_share": ("销售额占比", "Share of revenue"),
    "avg_clv": ("人均12个月预计价值", "Avg expected 12-month value"),
    "segment": ("分群", "Segment"),
}

#: model term -> (Chinese, English) one-line explanation, for a note under a table.
GLOSS: dict[str, tuple[str, str]] = {
    "p_alive": (
        "存活概率：按购买节奏(BG/NBD 模型)估计会员仍会回来购买的概率，0 到 1。",
        "chance still active: how likely a member still buys from you, from their purchase "
        "rhythm (BG/NBD model), 0 to 1.",
    ),
    "clv": (
        "12个月预计价值：模型预计该会员未来 12 个月的消费额(CLV，客户终身价值)。",
        "expected 12-month value: what the member is expected to spend in the next 12 months "
        "(CLV, customer lifetime value).",
    ),
    "cn8": (
        "RFM 八类：按最近购买(R)、购买频次(F)、消费金额(M)高低分成的八类会员。",
        "RFM classes: eight groups by how recently (R), how often (F) and how much (M) "
        "members buy.",
    ),
    "rfm11": (
        "RFM 十一类：按 R、F、M 评分(1-5)分成的十一类会员。",
        "RFM segments: eleven groups by R, F and M scores (1-5).",
    ),
    "R": (
        "R/F/M 分：最近购买、购买频次、消费金额的 1-5 分，5 最好。",
        "R/F/M scores: recency, frequency and spend scored 1-5, 5 best.",
    ),
}

_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$"}


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[0] if locale == "zh-CN" else pair[1]


def column_label(column: str, locale: Locale | str) -> str:
    """The plain name of a mart column in ``locale`` (the column itself when it has none)."""
    pair = COLUMNS.get(column)
    return _pick(pair, locale) if pair else column


def gloss(term: str, locale: Locale | str) -> str:
    """A one-line explanation of a model term (``p_alive``, ``clv``, ``cn8``, ...)."""
    return _pick(GLOSS[term], locale)


def segment_label(scheme: str, key: str | None, locale: Locale | str) -> str:
    """The name of segment ``key`` of a built-in scheme (the key for a project's own scheme)."""
    if key is None:
        return ""
    found = SCHEMES.get(scheme)
    for seg in (*found.segments, found.fallback) if found else ():
        if seg is not None and seg.key == key:
            return seg.zh if locale == "zh-CN" else seg.en
    return key


def tier_label(key: str | None, locale: Locale | str) -> str:
    """The name of value tier ``key`` (高价值 / High value, ...)."""
    if key is None:
        return ""
    en_zh = TIERS.get(key)
    return (en_zh[1] if locale == "zh-CN" else en_zh[0]) if en_zh else key


def stage_label(key: str | None, locale: Locale | str) -> str:
    """The name of lifecycle stage ``key`` (新客 / New, ...)."""
    if key is None:
        return ""
    en_zh = STAGE_NAMES.get(key)
    return (en_zh[1] if locale == "zh-CN" else en_zh[0]) if en_zh else key


def money(amount: float | None, currency: str, *, decimals: int = 0) -> str:
    """``amount`` with its currency: ``¥12,345`` for CNY, ``$1,234.50`` for USD with
    ``decimals=2``, ``12,345 SEK`` for a currency without a common symbol."""
    if amount is None:
        return ""
    text = f"{abs(amount):,.{decimals}f}"
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"
