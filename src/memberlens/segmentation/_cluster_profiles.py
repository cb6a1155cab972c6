"""Cluster profiles: size, feature means against the base, distinctive categories, and a short
generated name and description in English and Chinese.

**Naming** (from the ratio of the cluster mean to the base mean):

* spend (``total_spend``, else ``monetary_value``): ratio >= 1.5 "High-spend" 高消费,
  <= 0.6 "Low-spend" 低消费, otherwise "Mid-spend" 中等消费;
* behaviour, first match: days since the last purchase ratio >= 1.5 "lapsing" 流失风险客户;
  repeat purchases (``frequency``) ratio >= 1.5 "loyal" 忠诚客户; frequency ratio <= 0.5 with
  days since last <= 0.8 "new" 新客; frequency ratio <= 0.5 "one-off" 一次性客户; otherwise
  "regular" 普通客户.

HDBSCAN's noise (cluster -1) is named "Unclustered (noise)" 未归类（噪声）. When two
clusters would share a name, the one with a distinctive category gets it appended
("High-spend loyal · 美妆"), then a cluster number if still needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cluster_profiles"]

MIN_LIFT = 1.2
MIN_CATEGORY_SHARE = 0.05
_LABELS = {  # column -> (English phrase, Chinese phrase)
    "total_spend": ("total spend", "累计消费"),
    "monetary_value": ("average repeat order", "复购客单价"),
    "frequency": ("repeat purchases", "复购次数"),
    "aov": ("order value", "客单价"),
    "days_since_last": ("days since last purchase", "距上次购买天数"),
    "clv": ("predicted CLV", "预测终身价值"),
    "p_alive": ("P(alive)", "存活概率"),
    "engagement": ("engagement", "互动度"),
    "refund_share": ("refund share", "退款占比"),
}


def cluster_profiles(frame: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """One row per cluster: ``cluster``, ``size``, ``share``, ``mean_<col>`` and
    ``ratio_<col>`` for every numeric column, ``top_categories`` (list of
    ``{"category", "share", "lift"}``), ``name_en``, ``name_zh``, ``description_en``,
    ``description_zh``. Sizes add up to the members, size-weighted means to the base means."""
    numeric = [
        c
        for c in frame.columns
        if c != "member_id"
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    values = frame[numeric].astype(float)
    base = values.mean()
    groups = values.groupby(labels)
    means = groups.mean()
    sizes = groups.size()
    out = pd.DataFrame(
        {
            "cluster": sizes.index.astype(int),
            "size": sizes.to_numpy(),
            "share": sizes.to_numpy() / len(frame),
        }
    )
    for column in numeric:
        out[f"mean_{column}"] = means[column].to_numpy()
        denominator = base[column]
        out[f"ratio_{column}"] = (
            means[column].to_numpy() / denominator
            if denominator not in (0, 0.0) and np.isfinite(denominator)
            else np.nan
        )
    out["top_categories"] = _top_categories(frame, labels, out["cluster"].to_numpy())
    names = [_name(row) for row in out.to_dict(orient="records")]
    out["name_en"], out["name_zh"] = _unique(names, out["top_categories"], out["cluster"])
    out["description_en"] = [_describe_en(r, base) for r in out.to_dict(orient="records")]
    out["description_zh"] = [_describe_zh(r, base) for r in out.to_dict(orient="records")]
    return out


def _top_categories(frame, labels, clusters) -> list[list[dict]]:
    if "favourite_category" not in frame.columns:
        return [[] for _ in clusters]
    category = frame["favourite_category"].astype("string").fillna("(none)")
    counts = pd.crosstab(labels, category)
    within = counts.div(counts.sum(axis=1), axis=0)
    base = counts.sum(axis=0) / counts.to_numpy().sum()
    lift = within / base
    out = []
    for cluster in clusters:
        row = pd.DataFrame({"share": within.loc[cluster], "lift": lift.loc[cluster]})
        row = (
            row[
                (row["lift"] >= MIN_LIFT)
                & (row["share"] >= MIN_CATEGORY_SHARE)
                & (row.index != "(none)")
            ]
            .sort_values("lift", ascending=False)
            .head(3)
        )
        out.append(
            [
                {"category": str(c), "share": float(r.share), "lift": float(r.lift)}
                for c, r in row.iterrows()
            ]
        )
    return out


def _ratio(row, *columns) -> float:
    for column in columns:
        value = row.get(f"ratio_{column}")
        if value is not None and np.isfinite(value):
            return float(value)
    return 1.0


def _name(row) -> tuple[str, str]:
    if row["cluster"] < 0:
        return "Unclustered (noise)", "未归类（噪声）"
    spend = _ratio(row, "total_spend", "monetary_value", "clv")
    freq = _ratio(row, "frequency", "order_count")
    idle = _ratio(row, "days_since_last", "recency")
    en, zh = (
        ("High-spend", "高消费")
        if spend >= 1.5
        else ("Low-spend", "低消费")
        if spend <= 0.6
        else ("Mid-spend", "中等消费")
    )
    if idle >= 1.5:
        kind = ("lapsing", "流失风险客户")
    elif freq >= 1.5:
        kind = ("loyal", "忠诚客户")
    elif freq <= 0.5 and idle <= 0.8:
        kind = ("new", "新客")
    elif freq <= 0.5:
        kind = ("one-off", "一次性客户")
    else:
        kind = ("regular", "普通客户")
    return f"{en} {kind[0]}", f"{zh}{kind[1]}"


def _unique(names, categories, clusters) -> tuple[list[str], list[str]]:
    en = [n[0] for n in names]
    zh = [n[1] for n in names]
    for i in range(len(en)):
        if en.count(en[i]) > 1 and categories.iloc[i]:
            top = categories.iloc[i][0]["category"]
            en[i], zh[i] = f"{en[i]} · {top}", f"{zh[i]}·{top}"
    for i in range(len(en)):
        if en.count(en[i]) > 1:
            en[i], zh[i] = f"{en[i]} #{clusters.iloc[i]}", f"{zh[i]} #{clusters.iloc[i]}"
    return en, zh


def _phrases(row, base, zh: bool) -> list[str]:
    parts = []
    for column, (label_en, label_zh) in _LABELS.items():
        ratio = row.get(f"ratio_{column}")
        if ratio is None or not np.isfinite(ratio):
            continue
        if zh:
            parts.append(
                f"{label_zh}为整体的 {ratio:.1f} 倍（{row[f'mean_{column}']:.4g} 对 "
                f"{base[column]:.4g}）"
            )
        else:
            parts.append(
                f"{label_en} {ratio:.1f}x the base ({row[f'mean_{column}']:.4g} vs "
                f"{base[column]:.4g})"
            )
    return parts[:4]


def _describe_en(row, base) -> str:
    text = f"{row['size']:,} members ({row['share']:.1%}): "
    text += "; ".join(_phrases(row, base, False))
    if row["top_categories"]:
        text += "; favours " + ", ".join(
            f"{c['category']} (lift {c['lift']:.1f})" for c in row["top_categories"]
        )
    return text + "."


def _describe_zh(row, base) -> str:
    text = f"{row['size']:,} 名会员（{row['share']:.1%}）："
    text += "；".join(_phrases(row, base, True))
    if row["top_categories"]:
        text += "；偏好品类：" + "、".join(
            f"{c['category']}（提升度 {c['lift']:.1f}）" for c in row["top_categories"]
        )
    return text + "。"
