"""Per-member top reasons in words a marketer can read, in English and Chinese.

A reason is a feature whose LightGBM contribution (``pred_contrib=True``: SHAP values of the
tree model, Lundberg et al. 2020, "From local explanations to global understanding with
explainable AI for trees") pushes the member's churn score **up** the most; it is written with
the member's own value ("no purchase for 120 days" / "距上次购买120天"). Per-category propensity
reasons name the category (``{c}``): "last bought 母婴 21 days ago" / "21天前购买过母婴". A
feature whose value is missing is a reason only when it has words for "missing"
(:data:`MISSING_PHRASES`: "never bought 母婴" / "从未购买母婴").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["MISSING_PHRASES", "PHRASES", "top_reasons"]

#: feature -> (English template, Chinese template, value kind). ``{v}`` is the formatted value.
PHRASES: dict[str, tuple[str, str, str]] = {
    "frequency": ("{v} repeat purchases in total", "累计复购{v}次", "int"),
    "recency": ("{v} days between first and last purchase", "首末次购买相隔{v}天", "int"),
    "T": ("member for {v} days since the first purchase", "首购至今{v}天", "int"),
    "monetary_value": ("average repeat purchase ¥{v}", "复购平均消费¥{v}", "int"),
    "total_spend": ("total spend ¥{v}", "累计消费¥{v}", "int"),
    "order_count": ("{v} paid orders in total", "累计支付订单{v}笔", "int"),
    "aov": ("average order value ¥{v}", "客单价¥{v}", "int"),
    "days_since_last": ("no purchase for {v} days", "距上次购买{v}天", "int"),
    "refund_share": ("refunds are {v} of spend", "退款占消费{v}", "pct"),
    "orders_30d": ("{v} orders in the last 30 days", "近30天下单{v}次", "int"),
    "orders_90d": ("{v} orders in the last 90 days", "近90天下单{v}次", "int"),
    "orders_180d": ("{v} orders in the last 180 days", "近180天下单{v}次", "int"),
    "spend_30d": ("spent ¥{v} in the last 30 days", "近30天消费¥{v}", "int"),
    "spend_90d": ("spent ¥{v} in the last 90 days", "近90天消费¥{v}", "int"),
    "spend_180d": ("spent ¥{v} in the last 180 days", "近180天消费¥{v}", "int"),
    "orders_trend_90d": (
        "orders in the last 90 days vs the 90 before: {v}",
        "近90天订单较前90天变化{v}单",
        "signed",
    ),
    "coupon_share": ("{v} of orders used a coupon", "{v}的订单使用了优惠券", "pct"),
    "events_30d": ("{v} browsing events in the last 30 days", "近30天浏览等行为{v}次", "int"),
    "events_90d": ("{v} browsing events in the last 90 days", "近90天浏览等行为{v}次", "int"),
    "interactions_90d": (
        "{v} interactions (service, reviews, points) in the last 90 days",
        "近90天互动(客服、评价、积分){v}次",
        "int",
    ),
    "p_alive": ("purchase model puts P(still active) at {v}", "购买模型估计仍活跃概率{v}", "pct"),
    "expected_purchases": ("expected purchases in the horizon: {v}", "预计周期内购买{v}次", "dec"),
    # per-category propensity ({c}: the row's category)
    "cat_purchase_days": ("bought {c} on {v} different days", "{v}个不同日期购买过{c}", "int"),
    "cat_day_share": ("{c} in {v} of purchase days", "{v}的购物日购买了{c}", "pct"),
    "cat_spend_share": ("{c} is {v} of spend", "{c}占消费{v}", "pct"),
    "cat_days_since_last": ("last bought {c} {v} days ago", "{v}天前购买过{c}", "int"),
    "cat_days_90d": ("bought {c} on {v} days in the last 90 days", "近90天有{v}天购买{c}", "int"),
    "cat_mean_gap_days": ("buys {c} every {v} days on average", "平均每{v}天购买一次{c}", "int"),
    "cat_overdue": (
        "{v} of the usual gap between {c} purchases has passed",
        "距上次购买{c}已过平常间隔的{v}",
        "pct",
    ),
    "cat_popularity_30d": (
        "{c} was bought by {v} of members in the last 30 days",
        "近30天{v}的会员购买了{c}",
        "pct1",
    ),
    "cat_popularity_365d": (
        "{c} was bought by {v} of members in the last year",
        "近一年{v}的会员购买了{c}",
        "pct",
    ),
}
#: feature -> (English, Chinese) when the member's value is missing.
MISSING_PHRASES: dict[str, tuple[str, str]] = {
    "cat_days_since_last": ("never bought {c}", "从未购买{c}"),
}


def _formatted(values: np.ndarray, kind: str) -> pd.Series:
    values = pd.Series(np.nan_to_num(values.astype(float)))
    if kind == "pct":
        return (values * 100).round().astype("int64").astype(str) + "%"
    if kind == "pct1":
        return (values * 100).round(1).astype(str) + "%"
    if kind == "signed":
        rounded = values.round().astype("int64")
        return np.where(rounded > 0, "+", "") + rounded.astype(str)
    if kind == "dec":
        return values.round(2).astype(str)
    return values.round().astype("int64").astype(str)


def _fill(template: str, values: pd.Series, category: pd.Series) -> pd.Series:
    """``template`` with ``{v}`` and ``{c}`` replaced row by row (vectorised concatenation)."""
    out = pd.Series("", index=values.index, dtype=object)
    for part in re.split(r"(\{v\}|\{c\})", template):
        out = out + (values if part == "{v}" else category if part == "{c}" else part)
    return out


def top_reasons(
    contributions: np.ndarray,
    features: pd.DataFrame,
    *,
    columns: list[str],
    top: int = 3,
    category: pd.Series | None = None,
) -> pd.DataFrame:
    """The ``top`` reasons per row: columns ``reason_1_en``, ``reason_1_zh``, ... and
    ``reason_1_feature`` (empty text when fewer features push the score up).

    ``contributions`` is LightGBM's ``pred_contrib`` matrix (one column per feature, then the
    bias); ``features`` holds the same rows' values under ``columns``; ``category`` names each
    row's category for the per-category phrases.
    """
    contrib = np.array(np.asarray(contributions)[:, : len(columns)], dtype=float)
    for j, column in enumerate(columns):  # no words for a missing value: not a reason
        if column not in MISSING_PHRASES:
            contrib[features[column].isna().to_numpy(), j] = -np.inf
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    positive = np.take_along_axis(contrib, order, axis=1) > 0
    cats = None if category is None else category.astype(str).to_numpy()
    out: dict[str, pd.Series] = {}
    for slot in range(order.shape[1]):
        en = pd.Series("", index=range(len(features)), dtype=object)
        zh = en.copy()
        name = en.copy()
        for j, column in enumerate(columns):  # a loop over features, never over members
            rows = np.flatnonzero((order[:, slot] == j) & positive[:, slot])
            if rows.size == 0:
                continue
            template_en, template_zh, kind = PHRASES.get(
                column, (f"{column} = {{v}}", f"{column} = {{v}}", "dec")
            )
            raw = features[column].to_numpy(dtype=float)[rows]
            values = _formatted(raw, kind)
            names = pd.Series(
                cats[rows] if cats is not None else np.full(rows.size, ""), dtype=object
            )
            en_text = _fill(template_en, values, names)
            zh_text = _fill(template_zh, values, names)
            missing = np.isnan(raw)
            if missing.any():
                never_en, never_zh = MISSING_PHRASES[column]
                en_text[missing] = _fill(never_en, values, names)[missing]
                zh_text[missing] = _fill(never_zh, values, names)[missing]
            en.iloc[rows] = en_text.to_numpy()
            zh.iloc[rows] = zh_text.to_numpy()
            name.iloc[rows] = column
        out[f"reason_{slot + 1}_feature"] = name
        out[f"reason_{slot + 1}_en"] = en
        out[f"reason_{slot + 1}_zh"] = zh
    return pd.DataFrame(out, index=features.index)
