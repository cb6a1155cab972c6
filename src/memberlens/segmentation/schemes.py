"""RFM segment schemes declared as data, with names in English and Chinese.

A :class:`SegmentScheme` is a tuple of :class:`Segment` rules of one kind:

* ``score_ranges``: each rule gives inclusive score ranges ``(low, high)`` for R, F and/or M
  (None = any score); the **first** matching rule wins and unmatched members get ``fallback``.
* ``high_low``: each rule says whether R, F and M are ``"high"`` or ``"low"`` against the
  ``reference`` (mean or median) of the raw metric learnt by :class:`RFMScorer`. "High" means
  strictly better than the reference (a tie counts as low); for R better means *fewer* days
  since the last purchase.

Built-in schemes (:data:`SCHEMES`): ``cn8`` (the Chinese 8-class RFM scheme, 重要价值客户 ...),
``rfm11`` (the 11 English segments of the R ``rfm`` package) and ``rf_grid`` (the 10-cell R/F
grid). Users declare their own in the project file (TOML) and load them with
:func:`scheme_from_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from memberlens.exceptions import ConfigError
from memberlens.segmentation._labels import labels_at
from memberlens.segmentation.scores import RFMScorer

__all__ = [
    "CN8",
    "RFM11",
    "RF_GRID",
    "SCHEMES",
    "Segment",
    "SegmentScheme",
    "assign_segments",
    "scheme_from_dict",
    "segment_table",
]

Level = Literal["high", "low"]
Range = tuple[int, int]
SchemeKind = Literal["score_ranges", "high_low"]
Reference = Literal["mean", "median"]


@dataclass(frozen=True)
class Segment:
    """One segment: its key, names, and its condition on R, F and M (None = any)."""

    key: str
    en: str
    zh: str
    r: Range | Level | None = None
    f: Range | Level | None = None
    m: Range | Level | None = None
    description_en: str = ""
    description_zh: str = ""


@dataclass(frozen=True)
class SegmentScheme:
    """A named set of segment rules (see the module notes for the two kinds)."""

    name: str
    kind: SchemeKind
    segments: tuple[Segment, ...]
    fallback: Segment | None = None
    reference: Reference = "mean"
    source: str = ""
    n_bins: int = 5

    def __post_init__(self) -> None:
        where = f"segment scheme {self.name!r}"
        if self.kind not in ("score_ranges", "high_low"):
            raise ConfigError(
                f"{where}: kind must be 'score_ranges' or 'high_low', got {self.kind!r}"
            )
        if self.reference not in ("mean", "median"):
            raise ConfigError(
                f"{where}: reference must be 'mean' or 'median', got {self.reference!r}"
            )
        if not self.segments:
            raise ConfigError(f"{where}: declares no segments; add at least one [[segment]]")
        keys = [s.key for s in self.segments] + ([self.fallback.key] if self.fallback else [])
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            raise ConfigError(f"{where}: segment keys must be unique, {duplicated} repeat")
        for seg in self.segments:
            for metric in ("r", "f", "m"):
                self._check_condition(seg, metric, getattr(seg, metric))

    def _check_condition(self, seg: Segment, metric: str, cond: object) -> None:
        where = f"segment scheme {self.name!r}, segment {seg.key!r}, field {metric}"
        if cond is None:
            return
        if self.kind == "high_low":
            if cond not in ("high", "low"):
                raise ConfigError(
                    f"{where}: must be 'high' or 'low' in a high_low scheme, got {cond!r}"
                )
            return
        if (
            not isinstance(cond, tuple)
            or len(cond) != 2
            or not all(isinstance(v, int) for v in cond)
            or not 1 <= cond[0] <= cond[1] <= self.n_bins
        ):
            raise ConfigError(
                f"{where}: must be a score range [low, high] with 1 <= low <= high "
                f"<= {self.n_bins}, got {cond!r}"
            )

    def to_frame(self) -> pd.DataFrame:
        """The rules as a table (for docs and reports)."""
        rows = [
            {
                "key": s.key,
                "en": s.en,
                "zh": s.zh,
                "R": s.r,
                "F": s.f,
                "M": s.m,
                "description_en": s.description_en,
                "description_zh": s.description_zh,
            }
            for s in self.segments + ((self.fallback,) if self.fallback else ())
        ]
        return pd.DataFrame(rows)


def _cn(key: str, r: Level, f: Level, m: Level, zh: str, en: str) -> Segment:
    return Segment(key=key, en=en, zh=zh, r=r, f=f, m=m)


#: The Chinese 8-class RFM scheme (RFM 八类客户): high/low R, F, M against the mean (default) or
#: median; 重要 ("important") members have high M, 一般 ("general") low M.
CN8 = SegmentScheme(
    name="cn8",
    kind="high_low",
    reference="mean",
    source="The RFM 8-class scheme common in Chinese CRM practice (e.g. 阿里云/神策 RFM 模型 "
    "guides): each of R, F, M high or low against its mean",
    segments=(
        _cn("important_value", "high", "high", "high", "重要价值客户", "Important value"),
        _cn(
            "important_development", "high", "low", "high", "重要发展客户", "Important development"
        ),
        _cn("important_retention", "low", "high", "high", "重要保持客户", "Important retention"),
        _cn("important_winback", "low", "low", "high", "重要挽留客户", "Important win-back"),
        _cn("general_value", "high", "high", "low", "一般价值客户", "General value"),
        _cn("general_development", "high", "low", "low", "一般发展客户", "General development"),
        _cn("general_retention", "low", "high", "low", "一般保持客户", "General retention"),
        _cn("general_winback", "low", "low", "low", "一般挽留客户", "General win-back"),
    ),
)


def _en(key: str, en: str, zh: str, r: Range, f: Range, m: Range | None, desc: str) -> Segment:
    return Segment(key=key, en=en, zh=zh, r=r, f=f, m=m, description_en=desc)


#: The 11 English segments with the R, F, M score ranges of the R package ``rfm`` (Hebbali,
#: CRAN, vignette "RFM Analysis", segment table). Deliberate change: in the vignette's order
#: several narrow rules lie inside broader rules listed before them (New and Promising inside
#: Potential Loyalist, Can't Lose Them inside At Risk, Lost inside Hibernating) and can never
#: match. Here the narrow rules are tested first (Champions, Can't Lose Them, New, Promising),
#: the ranges are the table's, and Lost is the lowest cell (R, F, M all 1) tested before
#: Hibernating. Cells no rule covers (e.g. R 1, F 1, M 5) fall back to Others.
RFM11 = SegmentScheme(
    name="rfm11",
    kind="score_ranges",
    source="R package rfm (A. Hebbali), vignette 'RFM Analysis', segment table "
    "(R/F/M score ranges), after Putler's RFM segments; rule order changed so that "
    "every segment can match",
    segments=(
        _en(
            "champions",
            "Champions",
            "冠军客户",
            (4, 5),
            (4, 5),
            (4, 5),
            "Bought recently, buy often and spend the most",
        ),
        _en(
            "cant_lose_them",
            "Can't Lose Them",
            "不能失去的客户",
            (1, 1),
            (4, 5),
            (4, 5),
            "Made big purchases and often, but a long time ago",
        ),
        _en("new", "New", "新客户", (4, 5), (1, 1), (1, 1), "Bought recently, but not often"),
        _en(
            "promising",
            "Promising",
            "有潜力客户",
            (3, 4),
            (1, 1),
            (1, 1),
            "Recent shoppers, but have not spent much",
        ),
        _en(
            "loyal",
            "Loyal",
            "忠诚客户",
            (2, 5),
            (3, 5),
            (3, 5),
            "Spend good money, responsive to promotions",
        ),
        _en(
            "potential_loyalist",
            "Potential Loyalist",
            "潜在忠诚客户",
            (3, 5),
            (1, 3),
            (1, 3),
            "Recent customers, spent a good amount, bought more than once",
        ),
        _en(
            "need_attention",
            "Need Attention",
            "需要关注客户",
            (2, 3),
            (2, 3),
            (2, 3),
            "Above average recency, frequency and monetary values",
        ),
        _en(
            "about_to_sleep",
            "About to Sleep",
            "即将沉睡客户",
            (2, 3),
            (1, 2),
            (1, 2),
            "Below average recency, frequency and monetary values",
        ),
        _en(
            "at_risk",
            "At Risk",
            "流失风险客户",
            (1, 2),
            (2, 5),
            (2, 5),
            "Spent big money, purchased often but a long time ago",
        ),
        _en(
            "lost",
            "Lost",
            "已流失客户",
            (1, 1),
            (1, 1),
            (1, 1),
            "Lowest recency, frequency and monetary scores",
        ),
        _en(
            "hibernating",
            "Hibernating",
            "沉睡客户",
            (1, 2),
            (1, 2),
            (1, 2),
            "Low spenders, low frequency, purchased a long time ago",
        ),
    ),
    fallback=Segment(key="others", en="Others", zh="其他"),
)

#: The 10-cell R/F grid found in many RFM tutorials (the ``seg_map`` of regular expressions on
#: the two-digit R/F cell); it covers all 25 cells, so there is no fallback.
RF_GRID = SegmentScheme(
    name="rf_grid",
    kind="score_ranges",
    source="The R/F score grid used in many RFM tutorials (seg_map: [1-2][1-2] hibernating, "
    "[1-2][3-4] at risk, [1-2]5 can't lose, 3[1-2] about to sleep, 33 need attention, "
    "[3-4][4-5] loyal, 41 promising, 51 new, [4-5][2-3] potential loyalists, "
    "5[4-5] champions)",
    segments=(
        _en("hibernating", "Hibernating", "沉睡客户", (1, 2), (1, 2), None, ""),
        _en("at_risk", "At Risk", "流失风险客户", (1, 2), (3, 4), None, ""),
        _en("cant_lose_them", "Can't Lose Them", "不能失去的客户", (1, 2), (5, 5), None, ""),
        _en("about_to_sleep", "About to Sleep", "即将沉睡客户", (3, 3), (1, 2), None, ""),
        _en("need_attention", "Need Attention", "需要关注客户", (3, 3), (3, 3), None, ""),
        _en("loyal", "Loyal", "忠诚客户", (3, 4), (4, 5), None, ""),
        _en("promising", "Promising", "有潜力客户", (4, 4), (1, 1), None, ""),
        _en("new", "New", "新客户", (5, 5), (1, 1), None, ""),
        _en("potential_loyalist", "Potential Loyalist", "潜在忠诚客户", (4, 5), (2, 3), None, ""),
        _en("champions", "Champions", "冠军客户", (5, 5), (4, 5), None, ""),
    ),
)

SCHEMES: dict[str, SegmentScheme] = {s.name: s for s in (CN8, RFM11, RF_GRID)}


def _condition(value: Any, where: str) -> Range | Level | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and len(value) == 2:
        return (value[0], value[1])
    raise ConfigError(f"{where}: expected [low, high], 'high', 'low' or nothing, got {value!r}")


def _segment(data: Mapping[str, Any], where: str) -> Segment:
    missing = [k for k in ("key", "en", "zh") if not data.get(k)]
    if missing:
        raise ConfigError(
            f"{where}: missing {', '.join(missing)} (every segment needs a key and "
            "names in English (en) and Chinese (zh))"
        )
    unknown = set(data) - {"key", "en", "zh", "r", "f", "m", "description_en", "description_zh"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {sorted(unknown)}; allowed: key, en, zh, "
            "r, f, m, description_en, description_zh"
        )
    return Segment(
        key=str(data["key"]),
        en=str(data["en"]),
        zh=str(data["zh"]),
        r=_condition(data.get("r"), f"{where}.r"),
        f=_condition(data.get("f"), f"{where}.f"),
        m=_condition(data.get("m"), f"{where}.m"),
        description_en=str(data.get("description_en", "")),
        description_zh=str(data.get("description_zh", "")),
    )


def scheme_from_dict(name: str, data: Mapping[str, Any]) -> SegmentScheme:
    """A user scheme from a mapping (a ``[segments.NAME]`` table of the project TOML).

    >>> s = scheme_from_dict("vip", {"kind": "score_ranges", "segments": [
    ...     {"key": "vip", "en": "VIP", "zh": "贵宾", "r": [4, 5], "m": [5, 5]}],
    ...     "fallback": {"key": "rest", "en": "Others", "zh": "其他"}})
    >>> s.segments[0].r, s.fallback.zh
    ((4, 5), '其他')
    """
    where = f"segments.{name}"
    if "segments" not in data or not isinstance(data["segments"], list | tuple):
        raise ConfigError(
            f"{where}: needs a list of segments ([[segments.{name}.segments]] "
            "tables with key, en, zh and r/f/m conditions)"
        )
    unknown = set(data) - {"kind", "segments", "fallback", "reference", "source", "n_bins"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {sorted(unknown)}; allowed: kind, segments, "
            "fallback, reference, source, n_bins"
        )
    segments = tuple(_segment(s, f"{where}.segments[{i}]") for i, s in enumerate(data["segments"]))
    fallback = data.get("fallback")
    return SegmentScheme(
        name=name,
        kind=data.get("kind", "score_ranges"),
        segments=segments,
        fallback=_segment(fallback, f"{where}.fallback") if fallback else None,
        reference=data.get("reference", "mean"),
        source=str(data.get("source", "")),
        n_bins=int(data.get("n_bins", 5)),
    )


def _matches(
    scheme: SegmentScheme, seg: Segment, scores: pd.DataFrame, high: dict[str, np.ndarray]
) -> np.ndarray:
    ok = np.ones(len(scores), dtype=bool)
    for metric in ("R", "F", "M"):
        cond = getattr(seg, metric.lower())
        if cond is None:
            continue
        if scheme.kind == "high_low":
            ok &= high[metric] if cond == "high" else ~high[metric]
        else:
            values = scores[metric].to_numpy()
            ok &= (values >= cond[0]) & (values <= cond[1])
    return ok


def assign_segments(
    summary: pd.DataFrame, scheme: SegmentScheme, scorer: RFMScorer
) -> pd.DataFrame:
    """Scores and segment of every member: the columns of ``scorer.transform`` plus ``segment``
    (the key), ``segment_en`` and ``segment_zh``. Members matching no rule and no fallback get
    null segment columns.
    """
    scores = scorer.transform(summary)
    segments = segments_from_scores(scores, summary, scheme, scorer)
    for column in segments.columns:
        scores[column] = segments[column]
    return scores


def segments_from_scores(
    scores: pd.DataFrame, summary: pd.DataFrame, scheme: SegmentScheme, scorer: RFMScorer
) -> pd.DataFrame:
    """``segment``, ``segment_en`` and ``segment_zh`` of every member from the scores of
    ``scorer.transform(summary)``: what :func:`assign_segments` adds, so that several schemes
    share one scoring."""
    if scheme.kind == "score_ranges" and scheme.n_bins != scorer.n_bins:
        raise ConfigError(
            f"segment scheme {scheme.name!r}: written for {scheme.n_bins} score "
            f"bins but the scorer uses n_bins={scorer.n_bins}; use the same number"
        )
    high: dict[str, np.ndarray] = {}
    if scheme.kind == "high_low":
        reference = scorer.means_ if scheme.reference == "mean" else scorer.medians_
        columns = {"R": scorer.recency, "F": scorer.frequency, "M": scorer.monetary}
        for metric, column in columns.items():
            values = summary[column].to_numpy(dtype="float64")
            high[metric] = (
                values < reference[metric] if metric == "R" else values > reference[metric]
            )
    conditions = [_matches(scheme, seg, scores, high) for seg in scheme.segments]
    # the first matching segment's position (-1: none), then its names by position: one
    # integer array, not one full-length array of names per segment and column
    codes = (
        np.select(
            conditions, [np.int16(i) for i in range(len(scheme.segments))], default=np.int16(-1)
        )
        if conditions
        else np.full(len(scores), -1)
    )
    out = pd.DataFrame(index=scores.index)
    for column, attr in (("segment", "key"), ("segment_en", "en"), ("segment_zh", "zh")):
        default = getattr(scheme.fallback, attr) if scheme.fallback else None
        names = [getattr(seg, attr) for seg in scheme.segments] + [default]
        out[column] = labels_at(codes, names, scores.index)  # -1 is the default, last
    return out


def segment_table(summary: ir.Table, scheme: SegmentScheme, scorer: RFMScorer) -> ir.Table:
    """:func:`assign_segments` in the engine: ``summary`` (an Ibis member summary) with the
    scores of :meth:`RFMScorer.score_table` and ``segment``, ``segment_en``, ``segment_zh``.
    Uses the scorer's stored edges, means and medians, so results equal the pandas version.
    """
    if scheme.kind == "score_ranges" and scheme.n_bins != scorer.n_bins:
        raise ConfigError(
            f"segment scheme {scheme.name!r}: written for {scheme.n_bins} score "
            f"bins but the scorer uses n_bins={scorer.n_bins}; use the same number"
        )
    scored = scorer.score_table(summary)
    high: dict[str, ir.BooleanValue] = {}
    if scheme.kind == "high_low":
        reference = scorer.means_ if scheme.reference == "mean" else scorer.medians_
        columns = {"R": scorer.recency, "F": scorer.frequency, "M": scorer.monetary}
        for metric, column in columns.items():
            value = scored[column].cast("float64")
            high[metric] = value < reference[metric] if metric == "R" else value > reference[metric]
    conditions = []
    for seg in scheme.segments:
        ok = ibis.literal(True)
        for metric in ("R", "F", "M"):
            cond = getattr(seg, metric.lower())
            if cond is None:
                continue
            if scheme.kind == "high_low":
                ok &= high[metric] if cond == "high" else ~high[metric]
            else:
                ok &= scored[metric].between(cond[0], cond[1])
        conditions.append(ok)
    out = {}
    for column, attr in (("segment", "key"), ("segment_en", "en"), ("segment_zh", "zh")):
        default = getattr(scheme.fallback, attr) if scheme.fallback else None
        out[column] = ibis.cases(
            *[
                (ok, getattr(seg, attr))
                for ok, seg in zip(conditions, scheme.segments, strict=True)
            ],
            else_=ibis.literal(default, type="string"),
        )
    return scored.mutate(**out)
