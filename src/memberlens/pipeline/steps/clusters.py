"""k-means clusters of the member summary with bilingual names and profiles."""

from __future__ import annotations

import json

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult, json_default

#: fewer members than this and no clusters are formed
MIN_MEMBERS = 50


def _clusters(ctx: RunContext) -> StepResult:
    """k-means clusters with profiles (k by silhouette and stability) on the member summary."""
    from memberlens.exceptions import DataError
    from memberlens.segmentation import cluster_members
    from memberlens.segmentation.clusters import DEFAULT_COLUMNS, ZERO_IF_MISSING

    summary: pd.DataFrame = ctx.frame("members")
    if len(summary) < MIN_MEMBERS:
        return StepResult(
            status="degraded",
            message=f"{len(summary)} members: clusters need at least {MIN_MEMBERS}",
            rows_in=len(summary),
            rows_out=len(summary),
        )
    # a column an earlier step could not fill (CLV without a spend model) is left out
    present = [c for c in DEFAULT_COLUMNS if c in summary.columns]
    columns = [
        c
        for c in present
        if summary[c].notna().all() or (c in ZERO_IF_MISSING and summary[c].notna().any())
    ]
    left_out = [c for c in present if c not in columns]
    try:
        result = cluster_members(summary, method="kmeans", k="auto", columns=columns)
    except DataError as exc:
        return StepResult(
            status="degraded", message=str(exc), rows_in=len(summary), rows_out=len(summary)
        )
    labels = result.labels.rename(columns={"name_en": "cluster_en", "name_zh": "cluster_zh"})
    again = [c for c in labels.columns if c != "member_id" and c in summary.columns]
    out = summary.drop(columns=again).merge(labels, on="member_id", how="left")
    profiles = result.profiles.copy()
    for col in profiles.columns:
        if profiles[col].dtype == object:
            profiles[col] = profiles[col].map(
                lambda v: (
                    v
                    if isinstance(v, str) or v is None
                    else json.dumps(v, default=json_default, ensure_ascii=False)
                )
            )
    return StepResult(
        status="degraded" if left_out else "ok",
        message=f"k = {result.k}"
        + (f"; without {', '.join(left_out)} (missing for some members)" if left_out else ""),
        rows_in=len(out),
        rows_out=len(out),
        marts={"mart_clusters": profiles},
        frames={"members": out},
    )


CLUSTERS = Step(
    name="clusters",
    title=(
        "k-means clusters of the member summary (k by silhouette and stability) with bilingual "
        "names and profiles"
    ),
    run=_clusters,
    uses=("members",),
    makes=("members",),
    writes=("mart_clusters",),
)
