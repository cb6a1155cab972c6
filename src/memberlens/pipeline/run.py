"""``memberlens run``: build the marts for an as-of date, atomically, with a run record.

The steps and their order are :data:`memberlens.pipeline.registry.STEPS` (documented in
``docs/pipeline.md``, which a test checks against the registry). :func:`run_pipeline` walks them:
each step reads the loaded tables and the frames of earlier steps from one
:class:`~memberlens.pipeline.step.RunContext` and returns a
:class:`~memberlens.pipeline.step.StepResult`. A step without a table it needs is skipped with a
message; a step that cannot do its work on the data ends ``degraded`` and later steps run on what
exists. All marts are then written in one transaction (readers see the old set or the new one),
with one row per step in ``_runs``. A step that raises fails the run: nothing is published, the
old marts stay, and the failed run is still recorded in ``_runs`` with the step and the reason.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.warehouse import open_warehouse
from memberlens.exceptions import ConfigError, MissingTableError
from memberlens.pipeline import memory
from memberlens.pipeline.publish import index_member_ids, mart_rows, publish
from memberlens.pipeline.registry import STEPS
from memberlens.pipeline.runs import record_run
from memberlens.pipeline.step import MartData, RunContext, Step, StepResult, json_default
from memberlens.pipeline.steps.members import stored_members
from memberlens.pipeline.steps.recommendations import (
    KEPT_MEMBERS,
    NEXT_RECOMMENDATIONS,
    SCORED_KEYS,
    scratch_dropped,
)
from memberlens.project import Project

Progress = Callable[[str], None]
#: frames that can be read from the stored marts of an earlier run of the same as-of date when
#: the step that makes them does not run
STORED_FRAMES: dict[str, Callable[[RunContext], Any]] = {"members": stored_members}
#: optional canonical tables the steps may read (each when loaded and not empty)
OPTIONAL_TABLES = (
    "order_items",
    "products",
    "members",
    "events",
    "interactions",
    "campaigns",
    "campaign_members",
)


@dataclass(frozen=True)
class RunResult:
    """A finished run: its id and date, one result per step, rows per mart, model summaries."""

    run_id: str
    as_of: dt.date
    steps: list[StepResult]
    marts: dict[str, int]
    models: dict[str, Any] = field(default_factory=dict)

    @property
    def degraded(self) -> list[StepResult]:
        """The steps that could not do all their work on this data."""
        return [s for s in self.steps if s.status == "degraded"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            "steps": [s.to_dict() for s in self.steps],
            "marts": dict(self.marts),
            "models": self.models,
        }


def resolve_as_of(project: Project, orders: ir.Table) -> dt.date:
    """The project's as-of date, or the last day with an order."""
    if project.as_of:
        return project.as_of
    last = orders.ordered_at.max().execute()
    if last is None or last is pd.NaT:
        raise MissingTableError(
            "orders is empty: load orders first with `memberlens ingest orders FILE`"
        )
    day: dt.date = pd.Timestamp(last).date()
    return day


def run_pipeline(
    project: Project | str | Path | None = None,
    *,
    as_of: dt.date | None = None,
    progress: Progress | None = None,
    steps: Iterable[str] | None = None,
    skip: Iterable[str] = (),
) -> RunResult:
    """Build the marts for ``as_of`` (default: the project's, else the last order day).

    ``steps`` runs only those steps, ``skip`` leaves some out (as ``[run] skip`` in the project
    file does); both take names of :data:`~memberlens.pipeline.registry.STEPS`.
    """
    say = progress or (lambda _m: None)
    proj = project if isinstance(project, Project) else Project.load(project)
    run_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    config_hash = hashlib.sha256(proj.file.read_bytes()).hexdigest()[:12]
    chosen = set(_step_names(steps, "--steps")) if steps is not None else None
    skipped = set(_step_names(skip, "--skip")) | set(proj.settings.get("run", {}).get("skip", []))
    records: list[StepResult] = []
    marts: dict[str, MartData] = {}
    models: dict[str, Any] = {}
    with (
        open_warehouse(proj) as wh,
        scratch_dropped(wh, NEXT_RECOMMENDATIONS, KEPT_MEMBERS, SCORED_KEYS),
    ):
        started = dt.datetime.now()
        try:
            orders = wh.table("orders")
            member_orders = orders.filter(orders.member_id.notnull())
            ctx = RunContext(
                project=proj,
                warehouse=wh,
                run_id=run_id,
                as_of=as_of or resolve_as_of(proj, orders),
                orders=orders,
                member_orders=member_orders,
                n_orders=int(member_orders.count().execute()),
                tables={t: wh.table(t) for t in OPTIONAL_TABLES if wh.count(t)},
            )
        except BaseException as exc:  # a run that cannot start (no orders) is logged too
            day = as_of or proj.as_of or started.date()
            _record_failed_run(wh, run_id, day, config_hash, [_failure("start", started, exc)])
            raise
        for position, step in enumerate(STEPS):
            reason = _reason_to_skip(step, ctx, chosen, skipped)
            if reason:
                ctx.not_run.add(step.name)
                now = dt.datetime.now()
                records.append(
                    StepResult(step.name, "skipped", reason, started_at=now, finished_at=now)
                )
                continue
            say(step.name)
            started = dt.datetime.now()
            try:
                result = _timed(step, ctx)
            except BaseException as exc:
                ctx.drop_shared()
                records.append(_failure(step.name, started, exc))
                _record_failed_run(wh, run_id, ctx.as_of, config_hash, records)
                raise
            ctx.frames.update(result.frames)
            marts.update(result.marts)
            models.update(result.models)
            records.append(replace(result, marts={}, frames={}, writes=tuple(result.marts)))
            ctx.drop_shared(keep={name for later in STEPS[position + 1 :] for name in later.shared})
        ctx.frames.clear()
        ctx.drop_shared()
        if ctx.not_run:  # a partial run keeps the models of the steps it left out
            models = {**_stored_models(wh, ctx.as_of), **models}
        if models or not ctx.not_run:
            marts["mart_models"] = pd.DataFrame(
                [
                    {
                        "run_id": run_id,
                        "as_of": pd.Timestamp(ctx.as_of),
                        "models": json.dumps(models, default=json_default),
                    }
                ]
            )
        say("writing marts")
        sizes = mart_rows(marts)
        started, t0 = dt.datetime.now(), time.perf_counter()
        memory.reset_peak()

        published: list[StepResult] = []

        def with_publish() -> list[StepResult]:
            published[:] = [
                *records,
                StepResult(
                    "publish",
                    message=f"{len(sizes)} marts in one transaction",
                    rows_in=sum(sizes.values()),
                    rows_out=sum(sizes.values()),
                    seconds=time.perf_counter() - t0,
                    peak_memory=memory.peak_rss(),
                    started_at=started,
                    finished_at=dt.datetime.now(),
                    writes=tuple(sizes),
                ),
            ]
            return published

        try:
            publish(
                wh,
                marts,
                run_id=run_id,
                as_of=ctx.as_of,
                config_hash=config_hash,
                records=with_publish,
            )
        except BaseException as exc:
            failed = [*records, _failure("publish", started, exc)]
            _record_failed_run(wh, run_id, ctx.as_of, config_hash, failed)
            raise
        say("indexing")
        index_member_ids(wh)
    return RunResult(run_id, ctx.as_of, published, sizes, models)


def _stored_models(wh: WarehouseProtocol, as_of: dt.date) -> dict[str, Any]:
    """The model summaries stored by an earlier run of the same as-of date (else none)."""
    if not wh.has("mart_models"):
        return {}
    rows = wh.table("mart_models").to_pyarrow().to_pylist()
    if not rows or pd.Timestamp(rows[0]["as_of"]).date() != as_of:
        return {}
    stored: dict[str, Any] = json.loads(rows[0]["models"])
    return stored


def _step_names(names: Iterable[str], option: str) -> list[str]:
    """``names`` checked against the registry (a ConfigError names the nearest step)."""
    known = [s.name for s in STEPS]
    out = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{option}: {name!r} is not a step of `memberlens run`; {hint}"
                f"steps: {', '.join(known)}"
            )
        out.append(name)
    return out


def _reason_to_skip(step: Step, ctx: RunContext, chosen: set[str] | None, skipped: set[str]) -> str:
    """Why ``step`` does not run in this run ("" when it runs)."""
    if chosen is not None and step.name not in chosen:
        return "not among the steps asked for"
    if step.name in skipped:
        return "skipped as asked ([run] skip or --skip)"
    missing = [t for t in step.tables if ctx.table(t) is None]
    if missing:
        return f"needs {', '.join(missing)}: load it with `memberlens ingest {missing[0]} FILE`"
    for name in step.uses:
        if name in ctx.frames:
            continue
        stored = STORED_FRAMES.get(name)
        frame = stored(ctx) if stored is not None and ctx.not_run else None
        if frame is None:
            return (
                f"needs {name} from an earlier step that did not run, and no stored mart of "
                f"{ctx.as_of} holds it; run those steps too"
            )
        ctx.frames[name] = frame
    return ""


def _timed(step: Step, ctx: RunContext) -> StepResult:
    """Run ``step`` and fill in its name, real start and finish, seconds and peak memory."""
    started, t0 = dt.datetime.now(), time.perf_counter()
    memory.reset_peak()
    result = step.run(ctx)
    return replace(
        result,
        step=step.name,
        seconds=time.perf_counter() - t0,
        peak_memory=memory.peak_rss(),
        started_at=started,
        finished_at=dt.datetime.now(),
    )


def _failure(name: str, started: dt.datetime, exc: BaseException) -> StepResult:
    """The record of a step (or of the writing) that raised ``exc``."""
    finished = dt.datetime.now()
    return StepResult(
        name,
        "failed",
        f"{type(exc).__name__}: {exc}"[:2000],
        seconds=(finished - started).total_seconds(),
        started_at=started,
        finished_at=finished,
    )


def _record_failed_run(
    wh: WarehouseProtocol, run_id: str, as_of: dt.date, config_hash: str, records: list[StepResult]
) -> None:
    """Log the failed run on its own (the marts are untouched); a failure to log is not allowed
    to hide the failure itself."""
    try:
        with wh.transaction():
            record_run(wh, run_id, as_of, config_hash, records)
    except Exception:  # the step's own error is the one to raise
        return
