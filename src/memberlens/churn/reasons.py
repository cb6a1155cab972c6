"""Per-member top reasons in words a marketer can read, in English and Chinese.

A reason is a feature whose LightGBM contribution (``pred_contrib=True``: SHAP values of the
tree model, Lundberg et al. 2020, "From local explanations to global understanding with
explainable AI for trees") pushes the member's churn score **up** the most; it is written with
the member's own value ("no purchase for 120 days" / "距上次购买120天").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PHRASES", "top_reasons"]

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
    "orders_trend_90d": ("orders in the last 90 days vs the 90 before: {v}",
                         "近90天订单较前90天变化{v}单", "signed"),
    "coupon_share": ("{v} of orders used a coupon", "{v}的订单使用了优惠券", "pct"),
    "events_30d": ("{v} browsing events in the last 30 days", "近30天浏览等行为{v}次", "int"),
    "events_90d": ("{v} browsing events in the last 90 days", "近90天浏览等行为{v}次", "int"),
    "interactions_90d": ("{v} interactions (service, reviews, points) in the last 90 days",
                         "近90天互动(客服、评价、积分){v}次", "int"),
    "p_alive": ("purchase model puts P(still active) at {v}", "购买模型估计仍活跃概率{v}", "pct"),
    "expected_purchases": ("expected purchases in the horizon: {v}", "预计周期内购买{v}次",
                           "dec"),
}


def _formatted(values: np.ndarray, kind: str) -> pd.Series:
    values = pd.Series(np.nan_to_num(values.astype(float)))
    if kind == "pct":
        return (values * 100).round().astype("int64").astype(str) + "%"
    if kind == "signed":
        rounded = values.round().astype("int64")
        return np.where(rounded > 0, "+", "") + rounded.astype(str)
    if kind == "dec":
        return values.round(2).astype(str)
    return values.round().astype("int64").astype(str)


def _fill(template: str, values: pd.Series) -> pd.Series:
    head, _, tail = template.partition("{v}")
    return head + values + tail


def top_reasons(contributions: np.ndarray, features: pd.DataFrame, *, columns: list[str],
                top: int = 3) -> pd.DataFrame:
    """The ``top`` reasons per row: columns ``reason_1_en``, ``reason_1_zh``, ... and
    ``reason_1_feature`` (empty text when fewer features push the score up).

    ``contributions`` is LightGBM's ``pred_contrib`` matrix (one column per feature, then the
    bias); ``features`` holds the same rows' values under ``columns``.
    """
    contrib = np.asarray(contributions)[:, : len(columns)]
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    positive = np.take_along_axis(contrib, order, axis=1) > 0
    out: dict[str, pd.Series] = {}
    for slot in range(order.shape[1]):
        en = pd.Series("", index=range(len(features)), dtype=object)
        zh = en.copy()
        name = en.copy()
        for j, column in enumerate(columns):  # a loop over features, never over members
            rows = np.flatnonzero((order[:, slot] == j) & positive[:, slot])
            if rows.size == 0:
                continue
            template_en, template_zh, kind = PHRASES.get(column, (f"{column} = {{v}}",
                                                                  f"{column} = {{v}}", "dec"))
            values = _formatted(features[column].to_numpy()[rows], kind)
            en.iloc[rows] = _fill(template_en, values).to_numpy()
            zh.iloc[rows] = _fill(template_zh, values).to_numpy()
            name.iloc[rows] = column
        out[f"reason_{slot + 1}_feature"] = name
        out[f"reason_{slot + 1}_en"] = en
        out[f"reason_{slot + 1}_zh"] = zh
    return pd.DataFrame(out, index=features.index)
