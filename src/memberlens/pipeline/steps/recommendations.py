"""Top-k products per member and the bought-together list per product."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pyarrow as pa

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.pipeline.step import RunContext, Step, StepResult
from memberlens.project import Project

if TYPE_CHECKING:
    from memberlens.recommend import Recommender

#: where the recommendations go batch by batch until the run's transaction swaps them in.
NEXT_RECOMMENDATIONS = "__next_mart_recommendations"
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
def scratch_dropped(wh: WarehouseProtocol, name: str) -> Iterator[None]:
    """Drop the scratch table ``name`` when the run ends, whether it succeeded or not."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            wh.drop_temp(name)


def _recommendations(ctx: RunContext) -> StepResult:
    """Top-10 products per member (hybrid: ALS + item kNN + popularity, filters, reasons in
    English and Chinese) and the bought-together list per product.

    The recommendations (ten rows per member: 41 million for 4.1 million members) are appended
    batch by batch to a scratch table in the warehouse, never held whole in memory; the run's
    transaction copies them into ``mart_recommendations``. "Bought together" reuses the
    baskets step's product rules (no second pass over the order lines) when it mined products.

    The ALS item factors are kept in the project (:func:`factors_folder`) and reused by the
    next runs (members' factors solved from them, no ALS iterations) while the settings are the
    same, every item has one, they are at most ``retrain_days`` old and the items' buyer shares
    moved by a PSI of at most ``max_psi``. A fit solves its members' factors the same way, so a
    run that reuses the factors writes the marts the run that fitted them wrote on the same data.
    """
    from memberlens.exceptions import DataError
    from memberlens.recommend import Recommender, recommendation_mart
    from memberlens.recommend._factors import fit_settings, save_item_factors, saved_item_factors
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

    def append(batch: pa.Table) -> None:
        scratch[:] = [wh.append_scratch(NEXT_RECOMMENDATIONS, batch)]
        written.append(batch.num_rows)

    try:
        rows, together = recommendation_mart(
            ctx.orders,
            ctx.need("order_items"),
            ctx.table("products"),
            ctx.table("events"),
            as_of=ctx.as_of,
            k=int(settings.get("k", 10)),
            kind=settings.get("kind", "hybrid"),
            params=params,
            sink=append,
            rules=product_rules,
            item_factors=saved,
            max_shift=float(settings.get("max_psi", MAX_PSI)),
            fitted=keep,
        )
    except DataError as exc:
        wh.drop_temp(NEXT_RECOMMENDATIONS)
        return StepResult(status="degraded", message=str(exc), rows_in=ctx.n_orders)
    if not written:  # nobody to recommend to: an empty mart with the mart's columns
        types = {"rank": pa.int64(), "score": pa.float64()}
        append(
            pa.table(
                {c: pa.array([], types.get(c, pa.string())) for c in MART_RECOMMENDATION_COLUMNS}
            )
        )
    recs = scratch[0]
    members = int(recs.member_id.nunique().execute()) if rows else 0
    return StepResult(
        message=(
            f"{members:,} members, "
            f"{together['product_id'].nunique():,} products with a bought-together list"
            + "".join(f"; {d}" for d in decision)
        ),
        rows_in=ctx.n_orders,
        rows_out=rows,
        marts={"mart_recommendations": recs, "mart_bought_together": together},
    )


RECOMMENDATIONS = Step(
    name="recommendations",
    title=(
        "top-10 products per member (hybrid of ALS, item kNN and popularity with the shop's "
        "filters and reasons in English and Chinese) and a bought-together list per product"
    ),
    run=_recommendations,
    tables=("orders", "order_items"),
    optional=("products", "events", "rules"),
    writes=("mart_recommendations", "mart_bought_together"),
    section="recommend",
)
