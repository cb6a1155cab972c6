"""k-means clusters of the member summary with bilingual names and profiles."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from memberlens.pipeline.step import RunContext, Step, StepResult, json_default

if TYPE_CHECKING:
    from memberlens.segmentation.clusters import ClusterResult

#: fewer members than this and no clusters are formed
MIN_MEMBERS = 50
#: a saved cluster model is refitted when it is older than this many days ...
RETRAIN_DAYS = 30
#: ... or when the members' cluster shares moved this far from the fit's (population stability
#: index, :func:`memberlens.segmentation.clusters.cluster_shift`), as churn's ``max_psi``
MAX_SHIFT = 0.2


def model_path(ctx: RunContext) -> Path:
    """Where the run keeps its cluster model (k, scaling, centroids) for the next runs."""
    return Path(ctx.project.state_dir) / "models" / "clusters-run" / "model.json"


def _fit_or_reuse(
    ctx: RunContext, summary: pd.DataFrame, columns: list[str]
) -> tuple[ClusterResult, str]:
    """The clusters of the saved model when it fits this run (same columns, fitted on or
    before the as-of day and at most :data:`RETRAIN_DAYS` before it, cluster shares within
    :data:`MAX_SHIFT`), else a new fit (k chosen again) saved for the next runs."""
    from memberlens.segmentation import cluster_members
    from memberlens.segmentation.clusters import ClusterModel, cluster_shift

    path = model_path(ctx)
    why = "no saved model"
    if path.exists():
        saved = ClusterModel.from_json(path.read_text(encoding="utf-8"))
        fitted = dt.date.fromisoformat(saved.fitted_on)
        age = (ctx.as_of - fitted).days
        if list(saved.columns) != columns:
            why = "columns changed"
        elif age < 0 or age > RETRAIN_DAYS:
            why = f"model fitted {fitted}, {age} days from the as-of day"
        else:
            result = cluster_members(summary, model=saved)
            shift = cluster_shift(saved, result.labels["cluster"].to_numpy())
            if shift <= MAX_SHIFT:
                return result, f"model reused, fitted {fitted}, PSI {shift:.2f}"
            why = f"cluster shares shifted: PSI {shift:.2f} > {MAX_SHIFT}"
    result = cluster_members(summary, method="kmeans", k="auto", columns=columns)
    if result.model is not None:
        model = ClusterModel(**{**result.model.__dict__, "fitted_on": ctx.as_of.isoformat()})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(model.to_json(), encoding="utf-8")
        tmp.replace(path)
    return result, f"k chosen and fitted ({why})"


def _clusters(ctx: RunContext) -> StepResult:
    """k-means clusters with profiles (k by silhouette and stability) on the member summary."""
    from memberlens.exceptions import DataError
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
        result, decision = _fit_or_reuse(ctx, summary, columns)
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
        message=f"k = {result.k} ({decision})"
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
        "names and profiles; k and centroids kept for the next runs unless the data drifted"
    ),
    run=_clusters,
    uses=("members",),
    makes=("members",),
    writes=("mart_clusters",),
)
