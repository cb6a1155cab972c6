"""A pipeline step as data: what it needs, what it writes, its settings, and its typed result.

Every step of ``memberlens run`` is one :class:`Step` in :mod:`memberlens.pipeline.registry`.
The runner (:func:`memberlens.pipeline.run.run_pipeline`) walks the registry in order, gives each
step the same :class:`RunContext` and times it; the step returns a :class:`StepResult` with the
marts it built, the per-member frames later steps read, its model summary and a status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from memberlens.exceptions import MissingTableError
from memberlens.project import Project

if TYPE_CHECKING:
    from memberlens.engine.protocol import WarehouseProtocol

#: ``ok``: the step did all its work; ``skipped``: it did not run (asked to skip it, or a table it
#: needs is not loaded); ``degraded``: it ran but could not do all of its work on this data (the
#: message says what is missing); ``failed``: it raised an error and the run published nothing.
Status = Literal["ok", "skipped", "degraded", "failed"]
STATUSES: tuple[Status, ...] = ("ok", "skipped", "degraded", "failed")


@dataclass(frozen=True)
class MartPatch:
    """A change to a stored mart rather than all its rows: the mart's rows whose ``key`` is
    among ``keep``'s stay, the others go and ``rows`` (staged in the warehouse) come in; the
    mart then has ``size`` rows. A step that changes a small part of a large mart hands this
    over so that the writer does not copy and index the unchanged rows again."""

    rows: ir.Table
    key: str
    keep: ir.Table
    size: int


#: A mart as a step hands it to the writer: a pandas or Arrow frame, an Ibis table already
#: staged in the warehouse, or a change to the stored mart.
MartData: TypeAlias = pd.DataFrame | pa.Table | ir.Table | MartPatch


@dataclass(frozen=True)
class StepResult:
    """What one step did.

    ``marts`` (the data to write) and ``frames`` (what later steps read) are handed over by the
    runner and emptied in the record it keeps; ``writes`` keeps the names of the marts.
    """

    #: the step's name (filled in by the runner)
    step: str = ""
    status: Status = "ok"
    message: str = ""
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    #: the process's resident-memory high-water mark during the step, in bytes (see
    #: :func:`memberlens.pipeline.memory.peak_rss`).
    peak_memory: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    writes: tuple[str, ...] = ()
    #: the step's model summary (parameters, fit statistics), stored in ``mart_models``.
    models: Mapping[str, Any] = field(default_factory=dict)
    marts: Mapping[str, MartData] = field(default_factory=dict, repr=False)
    frames: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The record without the data (JSON-ready apart from dates)."""
        return {
            "step": self.step,
            "status": self.status,
            "message": self.message,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "seconds": self.seconds,
            "peak_memory": self.peak_memory,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "writes": list(self.writes),
        }


@dataclass
class RunContext:
    """What every step of one run shares: the project, the open warehouse, the as-of date, the
    loaded canonical tables and the frames earlier steps produced."""

    project: Project
    warehouse: WarehouseProtocol
    run_id: str
    as_of: dt.date
    #: every order, guests included (the forecast counts them)
    orders: ir.Table
    #: orders of known members (every per-member step reads these)
    member_orders: ir.Table
    n_orders: int
    #: the optional canonical tables that are loaded and not empty
    tables: dict[str, ir.Table] = field(default_factory=dict)
    #: frames produced by earlier steps, by name (``members``, ``lifecycle``, ``rules``, ...)
    frames: dict[str, Any] = field(default_factory=dict)
    #: the steps that did not run in this run because they were not asked for or skipped
    not_run: set[str] = field(default_factory=set)
    #: temporary tables computed once for several steps, by name (see :meth:`purchase_days`)
    shared: dict[str, ir.Table] = field(default_factory=dict)

    def table(self, name: str) -> ir.Table | None:
        """A loaded canonical table (``orders`` or an optional one), or None."""
        if name == "orders":
            return self.orders
        return self.tables.get(name)

    def need(self, name: str) -> ir.Table:
        """A canonical table the step declared in :attr:`Step.tables` (the runner skips the
        step when it is not loaded, so this only raises when the declaration is wrong)."""
        table = self.table(name)
        if table is None:
            raise MissingTableError(
                f"table {name!r} is not loaded: `memberlens ingest {name} FILE` first"
            )
        return table

    def frame(self, name: str) -> Any:
        """A frame an earlier step produced (a step declares it in :attr:`Step.uses`)."""
        return self.frames[name]

    def purchase_days(self) -> ir.Table:
        """Every member's purchase days up to the as-of day, with the day's orders, money and
        the gap to the member's previous purchase day
        (:func:`memberlens.features.purchase_days.purchase_days`): computed once, by the first
        step that asks, into a temporary table that later steps read instead of scanning the
        orders again (the runner drops it after the last step that declares it in
        :attr:`Step.shared`)."""
        if "purchase_days" not in self.shared:
            from memberlens.features.purchase_days import purchase_days

            self.shared["purchase_days"] = self.warehouse.materialize(
                "__purchase_days", purchase_days(self.member_orders, end=self.as_of)
            )
        return self.shared["purchase_days"]

    def drop_shared(self, keep: Collection[str] = ()) -> None:
        """Drop the temporary tables of :attr:`shared` except those named in ``keep``."""
        for name in [n for n in self.shared if n not in keep]:
            self.warehouse.drop_temp(f"__{name}")
            del self.shared[name]

    def settings(self, section: str) -> dict[str, Any]:
        """The ``[section]`` table of the project file (validated when the project loaded)."""
        return dict(self.project.settings.get(section, {}))


@dataclass(frozen=True)
class Step:
    """One step of ``memberlens run``, declared once in :mod:`memberlens.pipeline.registry`."""

    name: str
    #: one line: what the step builds (``docs/pipeline.md`` is checked against it)
    title: str
    run: Callable[[RunContext], StepResult] = field(repr=False)
    #: canonical tables it needs; without one of them loaded the step is skipped and says so
    tables: tuple[str, ...] = ("orders",)
    #: frames of earlier steps it reads (``RunContext.frame``)
    uses: tuple[str, ...] = ()
    #: tables and frames it reads when they are there (and does without when not)
    optional: tuple[str, ...] = ()
    #: frames it produces for later steps
    makes: tuple[str, ...] = ()
    #: marts it writes
    writes: tuple[str, ...] = ()
    #: temporary tables of the run it reads (``"purchase_days"``: :meth:`RunContext.purchase_days`);
    #: the runner drops each after the last step that reads it
    shared: tuple[str, ...] = ()
    #: the section of ``memberlens.toml`` it reads (declared in :mod:`memberlens.settings`)
    section: str | None = None


def json_default(value: object) -> object:
    """JSON for numpy numbers, arrays, pandas series (fitted parameters: name -> value) and dates
    in model summaries and profiles."""
    if isinstance(value, pd.Series):
        return {
            str(k): json_default(v) if isinstance(v, np.generic) else v for k, v in value.items()
        }
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
