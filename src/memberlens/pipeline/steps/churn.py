"""Churn risk, purchase propensity and reasons per member."""

from __future__ import annotations

from memberlens.pipeline.step import RunContext, Step, StepResult

#: Above this many members the churn step trains a missing model on a sample of about this
#: many members (one in ceil(members / this), by a hash of member_id) and scores everyone;
#: ``[churn] train_in_run = true`` trains on everyone, ``false`` only scores saved models,
#: ``[churn] train_sample = N`` changes the sample size.
CHURN_TRAIN_SAMPLE = 200_000


def _churn(ctx: RunContext) -> StepResult:
    """Churn risk, 30-day (and per-category, when saved) purchase propensity and reasons."""
    from memberlens.churn import churn_mart
    from memberlens.churn.mart import TrainingPolicy
    from memberlens.exceptions import ConfigError, DataError, MissingTableError

    settings = ctx.settings("churn")
    setting = settings.get("train_in_run", "auto")
    sample = settings.get("train_sample", CHURN_TRAIN_SAMPLE) if setting == "auto" else None
    try:
        frame, summary = churn_mart(
            ctx.warehouse,
            as_of=ctx.as_of,
            project=ctx.project,
            train=setting is not False,
            train_sample=sample,
            policy=TrainingPolicy.from_settings(settings),
        )
    except (DataError, MissingTableError, ConfigError) as exc:
        return StepResult(status="degraded", message=str(exc), rows_in=ctx.n_orders)
    auc = summary["auc"]
    message = (
        f"back-test AUC {auc:.3f}, horizon {summary['horizon_days']} days"
        if auc is not None
        else summary["churn"].get("backtest_error", "no back-test")
    )
    return StepResult(
        message=f"{summary['decision']}; {message}",
        rows_in=ctx.n_orders,
        rows_out=len(frame),
        marts={"mart_churn": frame},
        frames={"churn": frame},
        models={"churn": summary},
    )


CHURN = Step(
    name="churn",
    title=(
        "churn probability and risk decile, 30-day purchase propensity (and per-category "
        "propensities of a saved category model), top reasons in English and Chinese"
    ),
    run=_churn,
    makes=("churn",),
    writes=("mart_churn", "mart_models"),
    section="churn",
)
