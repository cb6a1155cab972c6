"""Member value tiers (会员价值分层) from a weighted score, explained by a shallow tree.

**Score.** Each available component is turned into a mid-rank percentile in [0, 1] against
the quantiles learnt at fit (101 stored quantiles per component, no customer rows kept); recency
(days since the last purchase) is reversed so that recent is high. The value score is the
weighted mean of the available percentiles. Default weights (:data:`DEFAULT_WEIGHTS`):

==============  =======================  ======
component       column                   weight
==============  =======================  ======
spend           ``total_spend``          0.30
frequency       ``frequency``            0.20
recency         ``days_since_last``      0.15
predicted CLV   ``clv``                  0.20
P(alive)        ``p_alive``              0.10
engagement      ``engagement``           0.05
==============  =======================  ======

Components whose column is absent (typically ``clv``, ``p_alive`` or ``engagement`` before a
CLV model or event data exist) are dropped and the remaining weights renormalised to sum to 1;
``weights_`` and ``notes_`` say so. Spend is net paid value (docs/glossary.md). A missing value
in a present column (e.g. no CLV for a refunder, or for everyone after a degenerate purchase-model
fit) scores the bottom percentile of that component and never meets a threshold on it.

**Tiers** (first match wins; thresholds in ``thresholds_``):

0. refunders (``refunder`` True: net value <= 0) are ``low_value`` whatever else they score;
1. ``churn_risk`` 流失风险: P(alive) below ``churn_p_alive`` (0.3); without P(alive), days since
   the last purchase above the ``churn_recency_quantile`` (0.8) quantile;
2. ``high_value`` 高价值: score at or above its ``high_quantile`` (0.8) quantile;
3. ``medium_value`` 中价值: score at or above its ``medium_quantile`` (0.5) quantile;
4. ``potential_value`` 潜力: predicted CLV at or above its ``potential_quantile`` (0.7) quantile;
   without CLV, a recent buyer (recency percentile >= 0.5) with few repeats (frequency at or
   below the median);
5. ``low_value`` 低价值: everyone else.

**Explanation.** A ``DecisionTreeClassifier`` (depth ``tree_depth``, 3) is fitted on the raw
component columns to reproduce the tiers; each tier is explained by its largest leaf, in plain
English and Chinese ("High value: total spend > 412.50 and days since last purchase <= 35",
with the leaf's precision and coverage).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from memberlens.exceptions import ConfigError, DataError

__all__ = ["COMPONENTS", "DEFAULT_WEIGHTS", "TIERS", "TierRule", "ValueTierModel"]

#: component -> (column, higher is better, English label, Chinese label)
COMPONENTS: dict[str, tuple[str, bool, str, str]] = {
    "spend": ("total_spend", True, "total spend", "累计消费金额"),
    "frequency": ("frequency", True, "repeat purchases", "复购次数"),
    "recency": ("days_since_last", False, "days since last purchase", "距上次购买天数"),
    "clv": ("clv", True, "predicted CLV", "预测客户终身价值"),
    "p_alive": ("p_alive", True, "P(alive)", "存活概率"),
    "engagement": ("engagement", True, "engagement", "互动度"),
}
DEFAULT_WEIGHTS: dict[str, float] = {
    "spend": 0.30,
    "frequency": 0.20,
    "recency": 0.15,
    "clv": 0.20,
    "p_alive": 0.10,
    "engagement": 0.05,
}
#: tier key -> (English, Chinese), in rule order
TIERS: dict[str, tuple[str, str]] = {
    "churn_risk": ("Churn risk", "流失风险"),
    "high_value": ("High value", "高价值"),
    "medium_value": ("Medium value", "中价值"),
    "potential_value": ("Potential value", "潜力"),
    "low_value": ("Low value", "低价值"),
}
_GRID = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class TierRule:
    """The plain-words rule of one tier: its largest leaf in the explaining tree."""

    tier: str
    en: str
    zh: str
    members: int
    precision: float
    coverage: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _percentile(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of ``values`` among the 101 stored quantiles: tied quantiles (many
    members with the same value) give the middle of their range, as an average rank does."""
    lo = np.searchsorted(quantiles, values, side="left")
    hi = np.searchsorted(quantiles, values, side="right")
    # a missing value (NaN sorts last) is the bottom of the component, not the top
    return np.where(np.isnan(values), 0.0, (lo + hi) / (2.0 * len(quantiles)))


def _quantiles(values: np.ndarray, q) -> np.ndarray:
    """Quantiles of the known values (NaN ignored); NaN everywhere when none is known."""
    known = values[~np.isnan(values)]
    if known.size == 0:
        return np.full(np.shape(q), np.nan)
    return np.quantile(known, q)


class ValueTierModel(BaseEstimator):
    """Value tiers from a member table (an rfm_summary, optionally with clv, p_alive,
    engagement). Attributes after fit: ``weights_`` (effective, summing to 1), ``notes_``,
    ``quantiles_``, ``thresholds_``, ``tree_``, ``rules_`` (tuple of :class:`TierRule`),
    ``tier_counts_``.
    """

    def __init__(
        self,
        *,
        weights: dict[str, float] | None = None,
        high_quantile: float = 0.8,
        medium_quantile: float = 0.5,
        churn_p_alive: float = 0.3,
        churn_recency_quantile: float = 0.8,
        potential_quantile: float = 0.7,
        tree_depth: int = 3,
        random_state: int = 0,
    ):
        self.weights = weights
        self.high_quantile = high_quantile
        self.medium_quantile = medium_quantile
        self.churn_p_alive = churn_p_alive
        self.churn_recency_quantile = churn_recency_quantile
        self.potential_quantile = potential_quantile
        self.tree_depth = tree_depth
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------
    def _effective_weights(self, members: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
        weights = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        unknown = set(weights) - set(COMPONENTS)
        if unknown:
            raise ConfigError(
                f"tiers.weights: unknown component(s) {sorted(unknown)}; use "
                f"{', '.join(COMPONENTS)}"
            )
        if any(w < 0 for w in weights.values()):
            raise ConfigError(f"tiers.weights: weights must be >= 0, got {weights}")
        notes = []
        present = {}
        for name, w in weights.items():
            column = COMPONENTS[name][0]
            if column in members.columns and w > 0:
                present[name] = w
            elif w > 0:
                notes.append(f"{name} ({column}) absent: its weight {w:g} was dropped")
        total = sum(present.values())
        if total <= 0:
            raise DataError(
                "value tiers: none of the weighted columns "
                f"({', '.join(COMPONENTS[n][0] for n in weights)}) is present; pass "
                "an rfm_summary (total_spend, frequency, days_since_last)"
            )
        if notes:
            notes.append("remaining weights renormalised to sum to 1")
        return {k: v / total for k, v in present.items()}, notes

    def _score(self, members: pd.DataFrame) -> np.ndarray:
        score = np.zeros(len(members))
        for name, w in self.weights_.items():
            column, higher, _, _ = COMPONENTS[name]
            values = members[column].to_numpy(dtype="float64")
            pct = _percentile(values, self.quantiles_[name])
            score += w * (pct if higher else np.where(np.isnan(values), 0.0, 1.0 - pct))
        return score

    def _tiers(self, members: pd.DataFrame, score: np.ndarray) -> np.ndarray:
        t = self.thresholds_
        if "p_alive" in members.columns:
            churn = members["p_alive"].to_numpy(dtype="float64") < t["churn_p_alive"]
        else:
            churn = members["days_since_last"].to_numpy(dtype="float64") > t["churn_days"]
        if "clv" in members.columns:
            potential = members["clv"].to_numpy(dtype="float64") >= t["potential_clv"]
        else:
            recent = members["days_since_last"].to_numpy(dtype="float64") <= t["recent_days"]
            few = members["frequency"].to_numpy(dtype="float64") <= t["few_repeats"]
            potential = recent & few
        conditions = [churn, score >= t["high_score"], score >= t["medium_score"], potential]
        tiers = np.select(conditions, list(TIERS)[:4], default="low_value")
        if "refunder" in members.columns:  # kept nothing: no value to tier on
            tiers[members["refunder"].fillna(False).to_numpy(dtype=bool)] = "low_value"
        return tiers

    def fit(self, members: pd.DataFrame, y: object = None) -> ValueTierModel:
        """Learn quantiles, thresholds, tiers and the explaining tree."""
        self._fit(members)
        return self

    def _fit(self, members: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`fit`, returning the members' scores and tiers it computed on the way."""
        needed = ["total_spend", "frequency", "days_since_last"]
        missing = [c for c in needed if c not in members.columns]
        if missing:
            raise DataError(
                f"value tiers: member table lacks {', '.join(missing)}; pass the "
                "output of memberlens.features.rfm_summary (to_pandas())"
            )
        if not 0 < self.medium_quantile < self.high_quantile < 1:
            raise ConfigError(
                "tiers: need 0 < medium_quantile < high_quantile < 1, got "
                f"{self.medium_quantile}, {self.high_quantile}"
            )
        self.weights_, self.notes_ = self._effective_weights(members)
        columns = {n: COMPONENTS[n][0] for n in COMPONENTS if COMPONENTS[n][0] in members}
        self.quantiles_ = {
            n: _quantiles(members[c].to_numpy(dtype="float64"), _GRID) for n, c in columns.items()
        }
        score = self._score(members)
        days = members["days_since_last"].to_numpy(dtype="float64")
        self.thresholds_ = {
            "high_score": float(np.quantile(score, self.high_quantile)),
            "medium_score": float(np.quantile(score, self.medium_quantile)),
            "churn_p_alive": float(self.churn_p_alive),
            "churn_days": float(np.quantile(days, self.churn_recency_quantile)),
            "recent_days": float(np.quantile(days, 0.5)),
            "few_repeats": float(np.quantile(members["frequency"], 0.5)),
        }
        if "clv" in members.columns:
            self.thresholds_["potential_clv"] = float(
                _quantiles(members["clv"].to_numpy(dtype="float64"), self.potential_quantile)
            )
        tiers = self._tiers(members, score)
        self.tier_counts_ = {k: int((tiers == k).sum()) for k in TIERS}
        self.feature_columns_ = list(columns.values())
        x = members[self.feature_columns_].to_numpy(dtype="float64")
        self.tree_ = DecisionTreeClassifier(
            max_depth=self.tree_depth, random_state=self.random_state
        ).fit(x, tiers)
        self.rules_ = self._explain(x, tiers)
        return score, tiers

    # -- outputs ---------------------------------------------------------------------------
    def transform(self, members: pd.DataFrame) -> pd.DataFrame:
        """member_id (if present), value_score, tier, tier_en, tier_zh."""
        check_is_fitted(self, "thresholds_")
        score = self._score(members)
        return self._frame(members, score, self._tiers(members, score))

    def _frame(self, members: pd.DataFrame, score: np.ndarray, tiers: np.ndarray) -> pd.DataFrame:
        out = pd.DataFrame(index=members.index)
        if "member_id" in members.columns:
            out["member_id"] = members["member_id"]
        out["value_score"] = score
        out["tier"] = tiers
        out["tier_en"] = pd.Series(tiers, index=members.index).map(
            {k: v[0] for k, v in TIERS.items()}
        )
        out["tier_zh"] = pd.Series(tiers, index=members.index).map(
            {k: v[1] for k, v in TIERS.items()}
        )
        return out

    def fit_transform(self, members: pd.DataFrame, y: object = None) -> pd.DataFrame:
        """:meth:`fit`, then :meth:`transform` of the same members, scoring them once."""
        score, tiers = self._fit(members)
        return self._frame(members, score, tiers)

    def thresholds_frame(self) -> pd.DataFrame:
        """Thresholds and effective weights as a table, for reports."""
        check_is_fitted(self, "thresholds_")
        rows = [("threshold", k, v) for k, v in self.thresholds_.items()]
        rows += [("weight", k, v) for k, v in self.weights_.items()]
        return pd.DataFrame(rows, columns=["kind", "name", "value"])

    def rules_frame(self) -> pd.DataFrame:
        check_is_fitted(self, "rules_")
        return pd.DataFrame([r.to_dict() for r in self.rules_])

    def _explain(self, x: np.ndarray, tiers: np.ndarray) -> tuple[TierRule, ...]:
        tree = self.tree_.tree_
        leaves = self.tree_.apply(x)
        paths = self._paths()
        classes = self.tree_.classes_
        rules = []
        for tier in TIERS:
            in_tier = tiers == tier
            if not in_tier.any():
                continue
            best, best_hits = None, -1
            for leaf in paths:
                if classes[int(np.argmax(tree.value[leaf][0]))] != tier:
                    continue
                hits = int((in_tier & (leaves == leaf)).sum())
                if hits > best_hits:
                    best, best_hits = leaf, hits
            en_name, zh_name = TIERS[tier]
            if best is None:
                en = (
                    f"{en_name}: no simple rule (the depth-{self.tree_depth} tree never "
                    "predicts this tier)"
                )
                zh = f"{zh_name}：无简单规则（深度 {self.tree_depth} 的决策树未预测此层）"
                rules.append(TierRule(tier, en, zh, int(in_tier.sum()), 0.0, 0.0))
                continue
            in_leaf = leaves == best
            cond_en = " and ".join(c[0] for c in paths[best]) or "everyone"
            cond_zh = " 且 ".join(c[1] for c in paths[best]) or "所有会员"
            precision = best_hits / int(in_leaf.sum())
            coverage = best_hits / int(in_tier.sum())
            rules.append(
                TierRule(
                    tier=tier,
                    en=f"{en_name}: {cond_en} (precision {precision:.0%}, covers {coverage:.0%} "
                    "of the tier)",
                    zh=f"{zh_name}：{cond_zh}（准确率 {precision:.0%}，覆盖该层 {coverage:.0%}）",
                    members=int(in_tier.sum()),
                    precision=precision,
                    coverage=coverage,
                )
            )
        return tuple(rules)

    def _paths(self) -> dict[int, list[tuple[str, str]]]:
        """Leaf id -> (English, Chinese) conditions from the root, the tightest bound kept when
        a path splits the same column twice in the same direction."""
        tree = self.tree_.tree_
        labels = {COMPONENTS[n][0]: (COMPONENTS[n][2], COMPONENTS[n][3]) for n in COMPONENTS}
        bounds: dict[int, dict[tuple[str, str], float]] = {}
        stack: list[tuple[int, dict[tuple[str, str], float]]] = [(0, {})]
        while stack:
            node, conds = stack.pop()
            left, right = tree.children_left[node], tree.children_right[node]
            if left == -1:
                bounds[node] = conds
                continue
            column = self.feature_columns_[tree.feature[node]]
            thr = float(tree.threshold[node])
            below = dict(conds)
            below[(column, "<=")] = min(thr, conds.get((column, "<="), np.inf))
            above = dict(conds)
            above[(column, ">")] = max(thr, conds.get((column, ">"), -np.inf))
            stack += [(left, below), (right, above)]
        out = {}
        for leaf, conds in bounds.items():
            words = []
            for (column, op), thr in conds.items():
                en, zh = labels[column]
                words.append(
                    (f"{en} {op} {thr:.2f}", f"{zh} {'≤' if op == '<=' else '>'} {thr:.2f}")
                )
            out[leaf] = words
        return out
