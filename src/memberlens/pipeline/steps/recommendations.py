"""Top-k products per member and the bought-together list per product."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.pipeline.step import RunContext, Step, StepResult

if TYPE_CHECKING:
    from memberlens.recommend import Recommender

#: where the recommendations go batch by batch until the run's transaction swaps them in.
NEXT_RECOMMENDATIONS = "__next_mart_recommendations"
#: saved ALS item factors are refitted when older than this many days (or on drift, see
#: :mod:`memberlens.recommend._factors`)
RETRAIN_DAYS = 30
#: ... or when the items' buyer shares moved this far (population stability index)
MAX_SHIFT = 0.2


def factors_folder(ctx: RunContext) -> Path:
    """Where the run keeps its ALS item factors for the next runs."""
    return Path(ctx.project.state_dir) / "models" / "recommend-run"


def _saved_factors(ctx: RunContext, settings: dict[str, Any]) -> tuple[pd.DataFrame | None, str]:
    folder = factors_folder(ctx)
    if not (folder / "meta.json").exists():
        return None, "no saved factors"
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    fitted = dt.date.fromisoformat(meta["fitted_on"])
    age = (ctx.as_of - fitted).days
    if meta.get("settings") != settings:
        return None, "settings changed"
    if age < 0 or age > RETRAIN_DAYS:
        return None, f"factors fitted {fitted}, {age} days from the as-of day"
    frame = pd.read_parquet(folder / "item_factors.parquet")
    return frame.set_index("product_id"), f"fitted {fitted}"


def _save_factors(ctx: RunContext, model: Recommender, settings: dict[str, Any]) -> None:
    from memberlens.recommend._factors import item_factor_frame

    folder = factors_folder(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    frame = item_factor_frame(model)
    frame.index = frame.index.astype(str)
    frame.rename_axis("product_id").reset_index().to_parquet(folder / "item_factors.tmp")
    (folder / "item_factors.tmp").replace(folder / "item_factors.parquet")
    meta = {"fitted_on": ctx.as_of.isoformat(), "settings": settings}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


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
    """
    from memberlens.exceptions import DataError
    from memberlens.recommend import Recommender, recommendation_mart
    from memberlens.recommend._factors import ALS_SETTINGS
    from memberlens.recommend.mart import MART_RECOMMENDATION_COLUMNS

    wh = ctx.warehouse
    settings = ctx.settings("recommend")
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

    kind = settings.get("kind", "hybrid")
    als_settings = {"kind": kind} | {
        name: Recommender().get_params()[name] for name in ALS_SETTINGS
    }
    previous, age = _saved_factors(ctx, als_settings)
    decision: list[str] = []

    def keep(model: Recommender) -> None:
        if model.als_decision_ is None:
            return
        if model.als_decision_.startswith("ALS fitted"):
            _save_factors(ctx, model, als_settings)
            decision.append(model.als_decision_ if previous is not None else f"ALS fitted ({age})")
        else:
            decision.append(f"{model.als_decision_} ({age})")

    try:
        rows, together = recommendation_mart(
            ctx.orders,
            ctx.need("order_items"),
            ctx.table("products"),
            ctx.table("events"),
            as_of=ctx.as_of,
            k=int(settings.get("k", 10)),
            kind=kind,
            sink=append,
            rules=product_rules,
            item_factors=previous,
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
