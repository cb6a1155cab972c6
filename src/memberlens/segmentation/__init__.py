"""Member segmentation: RFM scores, segment schemes (as data) and value tiers."""

from memberlens.segmentation.schemes import (
    CN8,
    RF_GRID,
    RFM11,
    SCHEMES,
    Segment,
    SegmentScheme,
    assign_segments,
    scheme_from_dict,
    segment_table,
    segments_from_scores,
)
from memberlens.segmentation.scores import RFMScorer, quantile_edges, scores_from_edges
from memberlens.segmentation.tiers import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    TIERS,
    TierRule,
    ValueTierModel,
)

__all__ = [
    "CN8",
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "RFM11",
    "RF_GRID",
    "SCHEMES",
    "TIERS",
    "RFMScorer",
    "Segment",
    "SegmentScheme",
    "TierRule",
    "ValueTierModel",
    "assign_segments",
    "quantile_edges",
    "scheme_from_dict",
    "scores_from_edges",
    "segment_table",
    "segments_from_scores",
]

from memberlens.segmentation.clusters import ClusterResult, cluster_members

__all__ += ["ClusterResult", "cluster_members"]
