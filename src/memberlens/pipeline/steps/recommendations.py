"""Top-k products per member and the bought-together list per product."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.pipeline.step import MartPatch, RunContext, Step, StepResult
from memberlens.project import Project

if TYPE_CHECKING:
    from memberlens.recommend import Recommender

#: where the recommendations go batch by batch until the run's transaction swaps them in.
NEXT_RECOMMENDATIONS = "__next_mart_recommendations"
#: member_id and history_key (``memberlens.recommend._factors.history_keys``) of the members in
#: ``mart_recommendations``, written in the same transaction: what the next run compares with
KEYS_MART = "mart_recommendation_keys"
#: the ids of the members whose recommendations a run keeps, and the history keys of the others
#: (until the run ends)
KEPT_MEMBERS = "__kept_recommendation_members"
SCORED_KEYS = "__scored_recommendation_keys"
#: kept ALS item factors are refitted when fitted more than this many days before the as-of
#: day (``[recommend] retrain_days``) ...
RETRAIN_DAYS = 30
#: ... or when the items' buyer shares moved this far since (population stability index,
#: ``[recommend] max_psi``), as churn's and the clusters' checks
MAX_PSI = 0.2


def factors_folder(project: Project) -> Path:
    """Where ``memberlens run`` keeps the ALS item factors of ``project`` for the next runs."""
    return Path(project.state_dir) / "models" / "recommend-run"


@contextlib.contextmanager
def scratch_dropped(wh: WarehouseProtocol, *names: str) -> Iterator[None]:
    """Drop the scratch tables ``names`` when the run ends, whether it succeeded or not."""
    try:
        yield
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                wh.drop_temp(name)


def _recommendations(ctx: RunContext) -> StepResult:
    """Top-10 products per member (hybrid: ALS + item kNN + popularity, filters, reasons in
    English and Chinese) and the bought-together list per product.

    The recommendations (ten rows per member: 41 million for 4.1 million members) are appended
    batch by batch to a scratch table in the warehouse, never held whole in memory; the run's
    transaction copies them into ``mart_recommendations``. "Bought together" reuses the
    baskets step's product rules (no second pass over the order lines) when it mined products.

    The item side of the fit (ALS item factors, item-item similarity, popularity,
    replenishment items) is kept in the project (:func:`factors_folder`) and reused by the
    next runs (members' factors solved from them, no ALS iterations, no kNN fit) while the
    settings are the same, every item has one, they are at most ``retrain_days`` old and the
    items' buyer shares moved by a PSI of at most ``max_psi``. A fit solves its members'
    factors the same way, so a run that reuses the factors writes the marts the run that
    fitted them wrote on the same data.

    While the item side is reused, a member's recommendations depend only on their own
    interactions and purchases (and the catalogue and settings): a run that reuses it keeps
    the rows of the members whose history key (:data:`KEYS_MART`) is unchanged and scores only
    the others, the members who bought, viewed or joined since. The mart is then changed in
    place (:class:`~memberlens.pipeline.step.MartPatch`: the other members' rows deleted, the
    scored ones' inserted), so the kept rows (28 million at 10 million orders) are neither
    copied nor indexed again.
    """
    from memberlens.exceptions import DataError
    from memberlens.recommend import Recommender, recommendation_mart
    from memberlens.recommend._factors import (
        fit_settings,
        history_keys,
        save_item_factors,
        saved_item_factors,
        scoring_key,
    )
    from memberlens.recommend.mart import MART_RECOMMENDATION_COLUMNS

    wh = ctx.warehouse
    settings = ctx.settings("recommend")
    params = {"factors": settings["factors"]} if "factors" in settings else {}
    folder = factors_folder(ctx.project)
    saved, saved_note = saved_item_factors(
        folder,
        fit_settings(Recommender(**params)),
        as_of=ctx.as_of,
        retrain_days=int(settings.get("retrain_days", RETRAIN_DAYS)),
    )
    decision: list[str] = []

    def keep(model: Recommender) -> None:
        """Say whether ALS was fitted or its factors reused; keep newly fitted factors."""
        said = model.als_decision_
        if said is None:  # no ALS part (kind item_knn or popular)
            return
        if said.startswith("ALS fitted"):
            save_item_factors(folder, model, fitted_on=ctx.as_of)
            decision.append(said if saved is not None else f"ALS fitted ({saved_note})")
        else:
            decision.append(f"{said}, fitted {saved_note}")

    rules = ctx.frames.get("rules")
    product_rules = (
        rules
        if rules is not None and len(rules) and set(rules.get("level", [])) == {"product"}
        else None
    )
    wh.drop_temp(NEXT_RECOMMENDATIONS)
    written: list[int] = []
    scratch: list[ir.Table] = []
    k, kind = int(settings.get("k", 10)), settings.get("kind", "hybrid")
    keys: dict[str, Any] = {}

    def append(batch: pa.Table | ir.Table) -> None:
        scratch[:] = [wh.append_scratch(NEXT_RECOMMENDATIONS, batch)]
        if isinstance(batch, pa.Table):
            written.append(batch.num_rows)

    def select(model: Recommender) -> np.ndarray:
        """The members to score: those whose history key changed since the last run; the
        rows of the others stay in the current mart (counted here, changed in place when the
        run's transaction writes the marts)."""
        members: np.ndarray = np.asarray(model.members_).astype(str)
        current = history_keys(model, scoring_key(model, k=k, kind=kind))
        keys["table"] = pa.table({"member_id": members, "history_key": current})
        kept = _unchanged(wh, model, members, current)
        keys["kept"], keys["scored"] = int(kept.sum()), int((~kept).sum())
        if kept.any():
            # a kept member's key is the stored one: only the others' keys are written
            keys["table"] = MartPatch(
                wh.register_arrow(SCORED_KEYS, keys["table"].filter(pa.array(~kept))),
                key="member_id",
                keep=wh.register_arrow(KEPT_MEMBERS, pa.table({"member_id": members[kept]})),
                size=len(members),
            )
            ids = keys["table"].keep
            old = wh.table("mart_recommendations").semi_join(ids, "member_id")
            counted = old.aggregate(rows=old.count(), members=old.member_id.nunique())
            found = counted.to_pyarrow().to_pylist()[0]
            keys["keep"], keys["kept_rows"] = ids, int(found["rows"])
            keys["kept_members"] = int(found["members"])
        scored: np.ndarray = members[~kept]
        return scored

    try:
        _, together = recommendation_mart(
            ctx.orders,
            ctx.need("order_items"),
            ctx.table("products"),
            ctx.table("events"),
            as_of=ctx.as_of,
            k=k,
            kind=kind,
            params=params,
            sink=append,
            rules=product_rules,
            item_factors=saved,
            max_shift=float(settings.get("max_psi", MAX_PSI)),
            fitted=keep,
            select=select,
        )
    except DataError as exc:
        wh.drop_temp(NEXT_RECOMMENDATIONS)
        return StepResult(status="degraded", message=str(exc), rows_in=ctx.n_orders)
    if not scratch:  # nobody (else) to recommend to: an empty table with the mart's columns
        types = {"rank": pa.int64(), "score": pa.float64()}
        append(
            pa.table(
                {c: pa.array([], types.get(c, pa.string())) for c in MART_RECOMMENDATION_COLUMNS}
            )
        )
    recs = scratch[0]
    rows = sum(written) + keys.get("kept_rows", 0)
    members = int(recs.member_id.nunique().execute()) if sum(written) else 0
    members += keys.get("kept_members", 0)
    if keys.get("kept"):
        decision.append(
            f"{keys['kept']:,} members' recommendations kept (history unchanged), "
            f"{keys['scored']:,} scored"
        )
    marts: dict[str, Any] = {
        "mart_recommendations": (
            MartPatch(recs, key="member_id", keep=keys["keep"], size=rows)
            if "keep" in keys
            else recs
        ),
        "mart_bought_together": together,
    }
    if "table" in keys:
        marts[KEYS_MART] = keys["table"]
    return StepResult(
        message=(
            f"{members:,} members, "
            f"{together['product_id'].nunique():,} products with a bought-together list"
            + "".join(f"; {d}" for d in decision)
        ),
        rows_in=ctx.n_orders,
        rows_out=rows,
        marts=marts,
    )


def _unchanged(
    wh: WarehouseProtocol, model: Recommender, members: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Whether each member's recommendations in the current mart are still what scoring them
    now gives: the item side was reused (not refitted) and their history key is the one the
    mart's run stored."""
    kept = np.zeros(len(members), dtype=bool)
    from memberlens.recommend.mart import MART_RECOMMENDATION_COLUMNS

    reused = model.als_decision_ is not None and not model.als_decision_.startswith("ALS fitted")
    if not (reused and wh.has(KEYS_MART) and wh.has("mart_recommendations")):
        return kept
    if tuple(wh.table("mart_recommendations").columns) != MART_RECOMMENDATION_COLUMNS:
        return kept  # a mart of another layout (an older version's) is written again whole
    stored = wh.table(KEYS_MART).to_pyarrow()
    if stored.num_rows == 0:
        return kept
    at = pd.Index(stored.column("member_id").to_numpy(zero_copy_only=False).astype(str))
    position = at.get_indexer(members)
    before = stored.column("history_key").to_numpy()
    found = position >= 0
    kept[found] = before[position[found]] == current[found]
    return kept


RECOMMENDATIONS = Step(
    name="recommendations",
    title=(
        "top-10 products per member (hybrid of ALS, item kNN and popularity with the shop's "
        "filters and reasons in English and Chinese) and a bought-together list per product"
    ),
    run=_recommendations,
    tables=("orders", "order_items"),
    optional=("products", "events", "rules"),
    writes=("mart_recommendations", "mart_bought_together", KEYS_MART),
    section="recommend",
)
