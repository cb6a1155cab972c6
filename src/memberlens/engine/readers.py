"""The read side of a long-lived process (the dashboard): which published state of the warehouse
is current, read-only warehouses of that state, and the engine's resources held meanwhile.

* DuckDB: the state is the published snapshot (:mod:`memberlens.engine.snapshots`; its name
  changes with every publish); a reader opens that snapshot file read-only, and any number of
  readers may run at once.
* Spark: the state is the commit marker of the Parquet warehouse (the ``_commits`` folder: every
  commit and every ``memberlens run`` adds a record there); a reader is a
  :class:`~memberlens.engine.spark_store.SparkWarehouse` whose views are registered for that
  state. The views are temporary views of the process's one Spark session, shared by every
  reader of the process, so one reader runs at a time (:attr:`ReadSide.concurrent` is False).
  A session this read side started is stopped by :meth:`ReadSide.close` (the app's shutdown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.snapshots import Snapshots
from memberlens.exceptions import ConfigError

if TYPE_CHECKING:
    from memberlens.project import Project

__all__ = ["ReadSide"]

Version = tuple[Any, ...]


class ReadSide:
    """Read-only warehouses of one project, for a process that serves many reads."""

    def __init__(self, project: Project) -> None:
        if project.engine not in ("duckdb", "pyspark"):
            raise ConfigError(f"{project.file}: unknown engine {project.engine!r}")
        self.project = project
        self._spark = project.engine == "pyspark"
        self._session: Any = None  # a Spark session this read side started (stopped on close)

    @property
    def concurrent(self) -> bool:
        """Whether several readers may run at once (DuckDB: yes; Spark: one at a time)."""
        return not self._spark

    def version(self) -> Version:
        """The current published state: changes with every publish (DuckDB) or commit (Spark);
        empty before the first load. A DuckDB project written before snapshots existed is
        published here once."""
        if self._spark:
            commits = self.project.warehouse / "_commits"
            try:
                marker = commits.stat().st_mtime_ns
                n = sum(1 for p in commits.iterdir() if p.suffix == ".json")
            except FileNotFoundError:
                return ()
            return ("commits", marker, n) if n else ()
        from memberlens.engine.warehouse import publish_existing

        snapshots = Snapshots(self.project.warehouse)
        name = snapshots.version()
        if name is None and self.project.warehouse.exists():
            publish_existing(self.project)
            name = snapshots.version()
        return (name,) if name else ()

    def exists(self, version: Version) -> bool:
        """Whether state ``version`` can still be opened (a superseded DuckDB snapshot is
        deleted; Spark keeps what a reader may still read, see ``SparkWarehouse._sweep``)."""
        if self._spark:
            return True
        return Snapshots(self.project.warehouse).path(version[0]).exists()

    def open(self, version: Version) -> WarehouseProtocol:
        """A read-only warehouse of state ``version`` (from :meth:`version`)."""
        if self._spark:
            from memberlens.engine.spark_store import SparkWarehouse

            if self._session is None:
                self._session = _started_session()
            return SparkWarehouse(self.project.warehouse, read_only=True)
        from memberlens.engine.warehouse import Warehouse

        # the same configuration as every other connection of this process (DuckDB refuses a
        # second connection to one file with different settings)
        return Warehouse(
            Snapshots(self.project.warehouse).path(version[0]),
            read_only=True,
            memory_limit=self.project.memory_limit,
            temp_directory=self.project.state_dir / "tmp",
        )

    def close(self) -> None:
        """Stop the Spark session if this read side started it (another one, e.g. a test run's
        or a notebook's, is left running)."""
        session, self._session = self._session, None
        if session:
            session.stop()


def _started_session() -> Any:
    """The process's Spark session: False when one was running already (not ours to stop),
    else the session started here."""
    from pyspark import SparkContext

    from memberlens.engine import spark_session

    running = SparkContext._active_spark_context is not None
    session = spark_session()
    return False if running else session
