"""Uplift modelling on a project's warehouse: fit and compare the learners on one campaign,
score every member for the next send and keep the scores in ``mart_uplift_scores``.

``fit_uplift_project`` reads the campaign (read-only snapshot), splits its members at random into
training and held-out parts (``test_share``), fits each learner on the training part and
evaluates it on the held-out part (Qini coefficient, AUUC, deciles). The learner with the
highest held-out Qini coefficient is refitted on all the campaign's members and scores every
member with the features as of the project's as-of date (or the last order day). Each score
becomes:

- ``expected_incremental_response`` = the predicted uplift τ(x) (extra probability of buying);
- ``expected_incremental_revenue`` = τ(x) × revenue per treated buyer of the campaign;
- ``expected_incremental_profit`` = τ(x) × revenue per treated buyer × margin − contact cost,
  blank when no margin is given (the reason is in the fit's messages).

The evaluation is saved as JSON under ``.memberlens/uplift/`` and the scores replace this
campaign's rows of ``mart_uplift_scores`` (other campaigns' rows are kept).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from memberlens import __version__
from memberlens.exceptions import ConfigError, DataError, MissingTableError
from memberlens.experiments.campaigns import no_nan
from memberlens.experiments.cost_settings import project_costs
from memberlens.experiments.uplift import UPLIFT_METHODS, UpliftMethod, uplift_model
from memberlens.experiments.uplift_curves import UpliftEvaluation, evaluate_uplift
from memberlens.experiments.uplift_data import member_features, uplift_frame

__all__ = [
    "MART_UPLIFT_SCORES",
    "UpliftFit",
    "fit_uplift_project",
    "model_dir",
    "rescore_project",
    "uplift_report_project",
    "uplift_targets_project",
]

MART_UPLIFT_SCORES = "mart_uplift_scores"
_OUTCOME = ("member_id", "treatment", "converted", "revenue")


@dataclass(frozen=True)
class UpliftFit:
    """The comparison of the learners on one campaign and the scoring that followed."""

    campaign_id: str
    name: str | None
    chosen_method: str
    n_members: int
    n_train: int
    n_test: int
    treatment_share: float
    revenue_per_buyer: float  # mean window revenue of the campaign's treated buyers
    margin: float | None
    contact_cost: float | None
    scored_as_of: str
    scored_members: int
    evaluations: tuple[UpliftEvaluation, ...]
    messages: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["evaluations"] = [e.to_dict() for e in self.evaluations]
        out["messages"] = list(self.messages)
        nan_free: dict[str, Any] = no_nan(out)
        return nan_free


def _report_path(project: Any, campaign_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", campaign_id)
    return Path(project.state_dir) / "uplift" / f"{safe}.json"


def _split(n: int, test_share: float, seed: int, treatment: np.ndarray) -> np.ndarray:
    """A held-out mask stratified by arm (each arm keeps its share in both parts)."""
    if not 0.0 < test_share < 1.0:
        raise ConfigError(f"test_share must be between 0 and 1, found {test_share}")
    rng = np.random.default_rng(seed)
    test = np.zeros(n, dtype=bool)
    for arm in (0, 1):
        idx = np.flatnonzero(treatment == arm)
        test[rng.permutation(idx)[: round(len(idx) * test_share)]] = True
    return test


def fit_uplift_project(
    project: Any,
    campaign_id: str,
    *,
    methods: tuple[UpliftMethod, ...] | None = None,
    test_share: float = 0.3,
    seed: int = 0,
    margin: float | None = None,
    contact_cost: float | None = None,
    min_child_samples: int = 100,
) -> UpliftFit:
    """Fit, compare, choose, score and store (see the module docstring). ``margin`` and
    ``contact_cost`` default to the project's ``[costs]`` (``margin``, and ``message`` for the
    campaign's channel)."""
    from memberlens.engine.warehouse import open_warehouse

    chosen_methods = tuple(methods or UPLIFT_METHODS)
    if margin is not None and not 0.0 <= margin <= 1.0:
        raise ConfigError(f"--margin is a share of revenue between 0 and 1, found {margin}")
    if contact_cost is not None and contact_cost < 0:
        raise ConfigError(f"--contact-cost must be >= 0, found {contact_cost}")
    wh = open_warehouse(project, read_only=True)
    try:
        for name in ("campaigns", "campaign_members", "orders"):
            if not wh.has(name):
                raise MissingTableError(
                    f"uplift models need the {name} table; load it with "
                    f"`memberlens ingest {name} FILE`"
                )
        members = wh.table("members") if wh.has("members") else None
        orders = wh.table("orders")
        frame, meta = uplift_frame(
            wh.table("campaigns"),
            wh.table("campaign_members"),
            orders,
            campaign_id,
            members=members,
        )
        as_of = project.as_of or pd.Timestamp(orders.ordered_at.max().execute()).date()
        everyone = member_features(orders, as_of=as_of, members=members)
    finally:
        wh.close()
    costs = project_costs(project)
    margin = costs.margin if margin is None else margin
    if contact_cost is None:
        contact_cost = costs.message.get(str(meta.get("channel")), 0.0)
    w = frame["treatment"].to_numpy()
    if w.min() == w.max():
        raise DataError(
            f"campaign {campaign_id!r} has no control group (or no treated members): an uplift "
            "model learns from the difference between the arms; hold out a random 10-20 % as "
            "group 'control' next time"
        )
    features = [c for c in frame.columns if c not in _OUTCOME]
    test = _split(len(frame), test_share, seed, w)
    train, held = frame[~test], frame[test]
    evaluations = []
    for method in chosen_methods:
        model = uplift_model(method, random_state=seed, min_child_samples=min_child_samples)
        model.fit(train[features], train["converted"], train["treatment"])
        predicted = model.predict_uplift(held[features])
        evaluations.append(
            evaluate_uplift(held["converted"], predicted, held["treatment"], method=method)
        )
    best = max(
        evaluations, key=lambda e: -np.inf if np.isnan(e.qini_coefficient) else e.qini_coefficient
    )
    final = uplift_model(
        best.method,  # type: ignore[arg-type]
        random_state=seed,
        min_child_samples=min_child_samples,
    )
    final.fit(frame[features], frame["converted"], frame["treatment"])
    treated_buyers = frame[(frame["treatment"] == 1) & (frame["converted"] == 1)]
    per_buyer = float(treated_buyers["revenue"].mean()) if len(treated_buyers) else 0.0
    uplift = final.predict_uplift(everyone[features])
    messages = []
    if best.qini_coefficient <= 0:
        messages.append(
            f"no learner beat random targeting on the held-out members (best Qini "
            f"{best.qini_coefficient:.3f}); the scores are not a reliable targeting list"
        )
    if margin is None:
        messages.append(
            "expected incremental profit is blank: no margin (pass --margin, the product margin "
            "as a share of revenue, or set margin in [costs] of memberlens.toml)"
        )
    scores = _scores(
        everyone, uplift, campaign_id, best.method, as_of, per_buyer, margin, contact_cost
    )
    _write_scores(project, campaign_id, scores)
    final.save(
        model_dir(project, campaign_id),
        metadata={
            "campaign_id": campaign_id,
            "method": best.method,
            "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "memberlens_version": __version__,
            "qini_coefficient": best.qini_coefficient,
            "revenue_per_buyer": per_buyer,
            "margin": margin,
            "contact_cost": contact_cost,
            "n_members": len(frame),
        },
    )
    result = UpliftFit(
        campaign_id=campaign_id,
        name=meta.get("name"),
        chosen_method=best.method,
        n_members=len(frame),
        n_train=len(train),
        n_test=len(held),
        treatment_share=float(w.mean()),
        revenue_per_buyer=per_buyer,
        margin=margin,
        contact_cost=contact_cost,
        scored_as_of=as_of.isoformat(),
        scored_members=len(uplift),
        evaluations=tuple(evaluations),
        messages=tuple(messages),
    )
    path = _report_path(project, campaign_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def model_dir(project: Any, campaign_id: str) -> Path:
    """Where ``uplift fit`` keeps the chosen learner of ``campaign_id`` (beside the churn
    models: ``.memberlens/models/uplift-<campaign>``)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", campaign_id)
    return Path(project.state_dir) / "models" / f"uplift-{safe}"


def _scores(
    everyone: pd.DataFrame,
    uplift: np.ndarray,
    campaign_id: str,
    method: str,
    as_of: Any,
    per_buyer: float,
    margin: float | None,
    contact_cost: float,
) -> pa.Table:
    """The rows of ``mart_uplift_scores``: uplift, incremental revenue and profit per member."""
    revenue = uplift * per_buyer
    profit = revenue * margin - contact_cost if margin is not None else np.full(len(uplift), np.nan)
    return pa.table(
        {
            "member_id": pa.array(everyone["member_id"].astype(str).tolist(), pa.string()),
            "campaign_id": pa.array([campaign_id] * len(uplift), pa.string()),
            "method": pa.array([method] * len(uplift), pa.string()),
            "uplift": pa.array(uplift, pa.float64()),
            "expected_incremental_response": pa.array(uplift, pa.float64()),
            "expected_incremental_revenue": pa.array(revenue, pa.float64()),
            "expected_incremental_profit": pa.array(profit, pa.float64(), from_pandas=True),
            "scored_as_of": pa.array([as_of] * len(uplift), pa.date32()),
        }
    )


def rescore_project(project: Any, campaign_id: str) -> pa.Table:
    """Every member scored now (features as of the project's as-of date, or the last order
    day) by the saved learner of ``campaign_id``, without refitting; the economics (revenue per
    buyer, margin, contact cost) are those saved with it."""
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.experiments.uplift import load_uplift_model

    folder = model_dir(project, campaign_id)
    if not (folder / "model.json").exists():
        raise MissingTableError(
            f"no saved uplift model for campaign {campaign_id!r} ({folder}); run "
            f"`memberlens uplift fit {campaign_id}` first"
        )
    model, meta = load_uplift_model(folder)
    wh = open_warehouse(project, read_only=True)
    try:
        orders = wh.table("orders")
        members = wh.table("members") if wh.has("members") else None
        as_of = project.as_of or pd.Timestamp(orders.ordered_at.max().execute()).date()
        everyone = member_features(orders, as_of=as_of, members=members)
    finally:
        wh.close()
    uplift = model.predict_uplift(everyone)
    return _scores(
        everyone,
        uplift,
        campaign_id,
        str(meta["method"]),
        as_of,
        float(meta.get("revenue_per_buyer") or 0.0),
        meta.get("margin"),
        float(meta.get("contact_cost") or 0.0),
    )


def _write_scores(project: Any, campaign_id: str, scores: pa.Table) -> None:
    from memberlens.engine.warehouse import open_warehouse

    wh = open_warehouse(project, what=f"uplift scores of {campaign_id}")
    try:
        if wh.has(MART_UPLIFT_SCORES):
            old = wh.table(MART_UPLIFT_SCORES)
            kept = old.filter(old.campaign_id != campaign_id).to_pyarrow()
            if kept.schema.names == scores.schema.names:
                scores = pa.concat_tables([kept.cast(scores.schema), scores])
        with wh.transaction():
            staged = wh.register_arrow(f"__new_{MART_UPLIFT_SCORES}", scores)
            wh.replace(MART_UPLIFT_SCORES, staged)
            wh.drop_temp(f"__new_{MART_UPLIFT_SCORES}")
    finally:
        wh.close()


def uplift_report_project(project: Any, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """The saved evaluations (of one campaign, or of every fitted campaign), newest last."""
    folder = Path(project.state_dir) / "uplift"
    if campaign_id is not None:
        path = _report_path(project, campaign_id)
        if not path.exists():
            raise MissingTableError(
                f"no uplift model for campaign {campaign_id!r} yet; run "
                f"`memberlens uplift fit {campaign_id}` first"
            )
        paths = [path]
    else:
        paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def uplift_targets_project(
    project: Any, campaign_id: str, *, top: int = 100, by: str = "uplift", rescore: bool = False
) -> pd.DataFrame:
    """The ``top`` members by expected uplift (or ``by="profit"``) from ``mart_uplift_scores``;
    ``rescore``: scored now by the campaign's saved learner (:func:`rescore_project`)."""
    from memberlens.engine.warehouse import open_warehouse

    if top < 1:
        raise ConfigError(f"--top must be at least 1, found {top}")
    column = {"uplift": "uplift", "profit": "expected_incremental_profit"}.get(by)
    if column is None:
        raise ConfigError(f"--by must be uplift or profit, found {by!r}")
    if rescore:
        fresh = rescore_project(project, campaign_id).to_pandas()
        _check_profit_known(fresh, by, campaign_id)
        ranked = fresh.sort_values([column, "member_id"], ascending=[False, True], kind="stable")
        return ranked.head(top).reset_index(drop=True)
    wh = open_warehouse(project, read_only=True)
    try:
        if not wh.has(MART_UPLIFT_SCORES):
            raise MissingTableError(
                f"no uplift scores yet; run `memberlens uplift fit {campaign_id}` first"
            )
        t = wh.table(MART_UPLIFT_SCORES)
        t = t.filter(t.campaign_id == campaign_id)
        # through Arrow, as the rescored frame: scored_as_of stays a date (not a Timestamp)
        frame = t.order_by([t[column].desc(), t.member_id]).limit(top).to_pyarrow().to_pandas()
    finally:
        wh.close()
    if frame.empty:
        raise MissingTableError(
            f"no uplift scores for campaign {campaign_id!r}; run "
            f"`memberlens uplift fit {campaign_id}` first"
        )
    _check_profit_known(frame, by, campaign_id)
    return frame


def _check_profit_known(frame: pd.DataFrame, by: str, campaign_id: str) -> None:
    """A ranking by profit needs the profit: blank for everyone when the model was fitted without
    a margin, and a ranking of blanks would be an arbitrary list."""
    if by == "profit" and frame["expected_incremental_profit"].isna().all():
        raise ConfigError(
            f"--by profit: campaign {campaign_id!r} was scored without a margin, so the expected "
            "incremental profit is blank; fit again with `memberlens uplift fit "
            f"{campaign_id} --margin 0.3` (the product margin as a share of revenue) or set "
            "margin in [costs] of memberlens.toml, or rank --by uplift"
        )
