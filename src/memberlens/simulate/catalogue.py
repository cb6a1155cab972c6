"""The catalogue: categories, brands, products with prices, replenishment cycles and planted
co-purchase pairs. Generated once per seed (it does not depend on the number of members).

Products are stored sorted by (category, price), so a product can be drawn by popularity
(:meth:`Catalogue.popular`) or near a target price (:meth:`Catalogue.near_price`) with one
``searchsorted`` over all draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from memberlens.simulate import _columns as col

#: (category, share among women, share among men, median price CNY, price spread (log sd),
#:  brands, [(item noun, replenishment days or 0), ...])
CATEGORIES: tuple[tuple, ...] = (
    (
        "美妆",
        0.24,
        0.04,
        169.0,
        0.6,
        ("花漾", "清研", "若水", "青黛", "星澜", "木槿"),
        (("面霜", 60), ("精华液", 45), ("口红", 0), ("粉底液", 0), ("卸妆水", 30), ("面膜", 30)),
    ),
    (
        "个护",
        0.10,
        0.10,
        59.0,
        0.5,
        ("净源", "沐光", "柔森", "海盐记"),
        (("洗发水", 30), ("沐浴露", 30), ("牙膏", 30), ("剃须刀", 0), ("洗面奶", 45)),
    ),
    (
        "母婴",
        0.14,
        0.05,
        129.0,
        0.6,
        ("贝乐", "小鹿", "启蒙星", "童趣"),
        (("纸尿裤", 14), ("奶粉", 21), ("湿巾", 14), ("婴儿推车", 0), ("辅食", 14)),
    ),
    (
        "食品",
        0.14,
        0.16,
        49.0,
        0.6,
        ("山野集", "禾味", "三餐", "茶语", "咖研社"),
        (("挂耳咖啡", 21), ("每日坚果", 30), ("大米", 30), ("绿茶", 45), ("牛肉干", 0)),
    ),
    (
        "服饰",
        0.15,
        0.12,
        199.0,
        0.6,
        ("衣鹿", "素野", "北纬", "棉作"),
        (("连衣裙", 0), ("T恤", 0), ("羽绒服", 0), ("运动鞋", 0), ("袜子", 90)),
    ),
    (
        "数码",
        0.04,
        0.20,
        399.0,
        1.0,
        ("云米", "极客", "声浪", "光年"),
        (("蓝牙耳机", 0), ("充电宝", 0), ("数据线", 0), ("智能手表", 0), ("平板电脑", 0)),
    ),
    (
        "家居",
        0.08,
        0.08,
        89.0,
        0.7,
        ("栖木", "素居", "暖屋"),
        (("抽纸", 30), ("四件套", 0), ("收纳箱", 0), ("洗衣液", 45), ("香薰", 0)),
    ),
    (
        "运动户外",
        0.04,
        0.10,
        259.0,
        0.7,
        ("跃动", "野径", "驰风"),
        (("瑜伽垫", 0), ("跑步鞋", 0), ("帐篷", 0), ("蛋白粉", 30)),
    ),
    (
        "宠物",
        0.04,
        0.06,
        99.0,
        0.5,
        ("毛孩", "喵星"),
        (("猫粮", 30), ("狗粮", 30), ("猫砂", 21), ("宠物玩具", 0)),
    ),
    ("图书", 0.02, 0.06, 45.0, 0.4, ("知行", "青灯"), (("小说", 0), ("童书", 0), ("教辅", 0))),
    (
        "保健",
        0.03,
        0.03,
        189.0,
        0.5,
        ("元气", "康源"),
        (("维生素", 60), ("鱼油", 60), ("益生菌", 30)),
    ),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c[0] for c in CATEGORIES)
#: Category shares for women (F), men (M) and unknown (U): rows of the Dirichlet base measure.
CATEGORY_SHARES = np.array(
    [
        [c[1] for c in CATEGORIES],
        [c[2] for c in CATEGORIES],
        [(c[1] + c[2]) / 2 for c in CATEGORIES],
    ]
)
CATEGORY_SHARES = CATEGORY_SHARES / CATEGORY_SHARES.sum(axis=1, keepdims=True)
_SPECS = ("", "升级款", "家庭装", "礼盒装", "旗舰款", "经典款", "便携装", "Pro")


@dataclass(frozen=True)
class Catalogue:
    """Products sorted by (category, price) with their sampling keys."""

    category: np.ndarray  # category index per product
    price_cents: np.ndarray
    replenishment_days: np.ndarray  # 0 = not a replenishment item
    popularity_key: np.ndarray  # category + within-category popularity CDF (ascending)
    price_key: np.ndarray  # category * 100 + log(price) (ascending)
    bounds: np.ndarray  # first product of each category, plus the total
    pair_consequent: np.ndarray  # planted consequent per product (-1 = none)
    pair_probability: float
    table: pa.Table

    @property
    def size(self) -> int:
        return len(self.category)

    def popular(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """Products drawn by popularity within the given categories."""
        idx = np.searchsorted(self.popularity_key, category + rng.random(len(category)))
        return np.clip(idx, self.bounds[category], self.bounds[category + 1] - 1)

    def near_price(
        self, rng: np.random.Generator, category: np.ndarray, target_cents: np.ndarray
    ) -> np.ndarray:
        """Products of the given categories priced near ``target_cents`` (with some jitter)."""
        key = category * 100.0 + np.log(np.maximum(target_cents, 100) / 100.0)
        idx = np.searchsorted(self.price_key, key) + rng.integers(-3, 3, len(category))
        return np.clip(idx, self.bounds[category], self.bounds[category + 1] - 1)

    def product_ids(self, index: np.ndarray) -> pa.Array:
        return self.table.column("product_id").combine_chunks().take(pa.array(index))


def build_catalogue(
    rng: np.random.Generator, n_products: int, n_pairs: int, pair_probability: float
) -> Catalogue:
    """A catalogue of about ``n_products`` products over :data:`CATEGORIES`."""
    shares = CATEGORY_SHARES.mean(axis=0)
    per_cat = np.maximum(8, np.round(shares * n_products)).astype(np.int64)
    category = np.repeat(np.arange(len(CATEGORIES)), per_cat)
    n = len(category)
    median = np.array([c[3] for c in CATEGORIES])[category]
    spread = np.array([c[4] for c in CATEGORIES])[category]
    price = median * np.exp(spread * rng.standard_normal(n))
    # whole yuan, half of them ending in .90 (99.90, 129.90 ...)
    price_cents = np.maximum(np.round(price) * 100 - 10 * (rng.random(n) < 0.5), 990)
    price_cents = price_cents.astype(np.int64)
    noun_pick = rng.random(n)
    nouns = [[noun for noun, _ in c[6]] for c in CATEGORIES]
    cycles = [[days for _, days in c[6]] for c in CATEGORIES]
    noun_idx = np.floor(noun_pick * np.array([len(x) for x in nouns])[category]).astype(np.int64)
    brand_idx = np.floor(
        rng.random(n) * np.array([len(c[5]) for c in CATEGORIES])[category]
    ).astype(np.int64)
    # sort by (category, price) so that near-price draws are one searchsorted
    order = np.lexsort((price_cents, category))
    category, price_cents = category[order], price_cents[order]
    noun_idx, brand_idx = noun_idx[order], brand_idx[order]
    flat_nouns = [x for c in nouns for x in c]
    noun_base = np.concatenate([[0], np.cumsum([len(c) for c in nouns])])[:-1]
    flat_brands = [b for c in CATEGORIES for b in c[5]]
    brand_base = np.concatenate([[0], np.cumsum([len(c[5]) for c in CATEGORIES])])[:-1]
    flat_cycles = np.array([x for c in cycles for x in c])
    replenishment = flat_cycles[noun_base[category] + noun_idx]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(category, minlength=len(CATEGORIES)))])
    # Zipf popularity over a random order within each category
    rank = np.empty(n)
    for c in range(len(CATEGORIES)):  # loop over categories, not members
        lo, hi = bounds[c], bounds[c + 1]
        rank[lo:hi] = rng.permutation(hi - lo) + 1
    weight = rank**-1.0
    within = np.zeros(n)
    for c in range(len(CATEGORIES)):
        lo, hi = bounds[c], bounds[c + 1]
        within[lo:hi] = np.cumsum(weight[lo:hi]) / weight[lo:hi].sum()
    popularity_key = category + within
    price_key = category * 100.0 + np.log(price_cents / 100.0)
    # planted pairs: popular antecedents, consequents from the same or a complementary category
    # (a stable sort: ties between categories must not depend on the CPU's SIMD sort kernel)
    consequent = np.full(n, -1, dtype=np.int64)
    antecedents = rng.choice(
        np.argsort(-weight, kind="stable")[: max(n // 4, n_pairs)], size=n_pairs, replace=False
    )
    partner_cat = np.where(
        rng.random(n_pairs) < 0.6, category[antecedents], rng.integers(0, len(CATEGORIES), n_pairs)
    )
    partners = bounds[partner_cat] + np.floor(
        rng.random(n_pairs) * (bounds[partner_cat + 1] - bounds[partner_cat])
    ).astype(np.int64)
    partners = np.where(partners == antecedents, bounds[partner_cat], partners)
    consequent[antecedents] = partners
    spec_idx = rng.integers(0, len(_SPECS), n)
    name = col.concat(
        col.labels(flat_brands, brand_base[category] + brand_idx),
        pa.scalar(" "),
        col.labels(flat_nouns, noun_base[category] + noun_idx),
        col.labels(_SPECS, spec_idx),
    )
    product_id = col.ids("SKU", np.arange(1, n + 1) * 7 + 100000, 7)
    table = col.table(
        "products",
        {
            "product_id": product_id,
            "name": name,
            "category": col.labels(CATEGORY_NAMES, category),
            "brand": col.labels(flat_brands, brand_base[category] + brand_idx),
            "price": col.money(price_cents),
            "replenishment_days": pa.array(replenishment.astype(np.int64), mask=replenishment == 0),
        },
        n,
    )
    return Catalogue(
        category=category,
        price_cents=price_cents,
        replenishment_days=replenishment,
        popularity_key=popularity_key,
        price_key=price_key,
        bounds=bounds,
        pair_consequent=consequent,
        pair_probability=pair_probability,
        table=table,
    )


def pairs_table(cat: Catalogue) -> pa.Table:
    """The planted co-purchase pairs (truth)."""
    ante = np.flatnonzero(cat.pair_consequent >= 0)
    return pa.table(
        {
            "antecedent": cat.product_ids(ante),
            "consequent": cat.product_ids(cat.pair_consequent[ante]),
            "probability": pa.array(np.full(len(ante), cat.pair_probability)),
        }
    )


def replenishment_table(cat: Catalogue) -> pa.Table:
    """Products with a regular repurchase cycle (truth; also in ``products``)."""
    idx = np.flatnonzero(cat.replenishment_days > 0)
    return pa.table(
        {
            "product_id": cat.product_ids(idx),
            "category": col.labels(CATEGORY_NAMES, cat.category[idx]),
            "cycle_days": pa.array(cat.replenishment_days[idx].astype(np.int64)),
        }
    )
