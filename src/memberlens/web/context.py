"""What every request can reach: the project, the state store and read-only warehouse connections.

Requests read the warehouse's latest published snapshot (:mod:`memberlens.engine.snapshots`),
never the file an ingest or ``memberlens run`` writes, so the dashboard neither waits for a
writer nor blocks one. Connections are pooled per snapshot: a request borrows an open read-only
DuckDB connection and gives it back, so the snapshot stays open (and its buffer cache warm) while
the dashboard is busy. Each request checks the snapshot pointer (one small file read): after a
publish, new requests open the new snapshot, connections to an older one are closed when they are
given back (a request that started before the publish finishes on the snapshot it started
with: old marts or new ones, never a mix), and a reaper thread closes connections idle for
:attr:`WebContext.idle_seconds`. At most :attr:`WebContext.max_connections` queries run at once
(more only queue on a 2-core machine).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from memberlens.engine.snapshots import Snapshots
from memberlens.engine.warehouse import Warehouse, publish_existing
from memberlens.exceptions import MemberlensError, MissingTableError
from memberlens.project import Project
from memberlens.web.store import Store


class PooledWarehouse(Warehouse):
    """A published snapshot (``version``: its name), read-only, that remembers its table list."""

    def __init__(self, project: Project, *, version: tuple):
        # the same configuration as every other connection of this process (DuckDB refuses a
        # second connection to one file with different settings)
        super().__init__(
            Snapshots(project.warehouse).path(version[0]),
            read_only=True,
            memory_limit=project.memory_limit,
            temp_directory=project.state_dir / "tmp",
        )
        self.version = version
        self._tables: set[str] | None = None
        self._columns: dict[str, tuple[str, ...]] = {}
        self.idle_since = time.monotonic()

    def has(self, name: str) -> bool:
        if self._tables is None:
            self._tables = set(self.con.list_tables())
        return name in self._tables

    def columns(self, name: str) -> tuple[str, ...]:
        """Column names of table ``name`` (cached for the life of the connection)."""
        if name not in self._columns:
            self._columns[name] = tuple(self.table(name).columns)
        return self._columns[name]


@dataclass
class WebContext:
    project: Project
    store: Store
    #: set the Secure flag on cookies (serve behind HTTPS)
    secure_cookies: bool = False
    cache_size: int = 256
    #: large cached values (a sort order of the member list: 8 bytes per member)
    heavy_cache_size: int = 12
    #: pages of the member list (encoded JSON, ~15 kB each)
    page_cache_size: int = 2048
    max_connections: int = 4
    #: aggregate queries (scans of all orders) allowed at once, so look-ups keep a core
    max_heavy: int = 1
    #: a pooled connection unused this long is closed (frees the memory of its cache, and the
    #: disk space of a superseded snapshot)
    idle_seconds: float = 30.0
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _heavy: OrderedDict = field(default_factory=OrderedDict)
    _pages: OrderedDict = field(default_factory=OrderedDict)
    _flights: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _idle: list = field(default_factory=list)
    _slots: threading.BoundedSemaphore = field(init=False)
    _heavy_slots: threading.BoundedSemaphore = field(init=False)
    _reaper: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._heavy_slots = threading.BoundedSemaphore(self.max_heavy)
        _LIVE.append(weakref.ref(self))

    # -- connections ---------------------------------------------------------------------------
    def _open(self, version: tuple) -> PooledWarehouse:
        for _attempt in range(20):
            try:
                return PooledWarehouse(self.project, version=version)
            except Exception:
                if Snapshots(self.project.warehouse).path(version[0]).exists():
                    raise
                version = self.version()  # superseded and removed since the request began
        raise MissingTableError(f"{self.project.warehouse}: no published snapshot to read")

    @contextlib.contextmanager
    def warehouse(self, *, heavy: bool = False) -> Iterator[PooledWarehouse]:
        """A read-only connection for the length of one block (borrowed from the pool).
        ``heavy``: an aggregate over whole tables (queued behind :attr:`max_heavy`)."""
        if not self.project.warehouse.exists():
            raise MissingTableError(
                f"{self.project.warehouse}: no warehouse yet; load data with "
                "`memberlens ingest orders FILE`"
            )
        version = self.version()
        if not version:
            raise MissingTableError(
                f"{self.project.warehouse}: no warehouse yet; load data with "
                "`memberlens ingest orders FILE`"
            )
        with contextlib.ExitStack() as stack:
            if heavy:
                stack.enter_context(self._heavy_slots)
            stack.enter_context(self._slots)
            yield from self._borrow(version)

    def _borrow(self, version: tuple) -> Iterator[PooledWarehouse]:
        wh = None
        with self._lock:
            while self._idle:
                candidate = self._idle.pop()
                if candidate.version == version:
                    wh = candidate
                    break
                candidate.close()
        if wh is None:
            wh = self._open(version)
        try:
            yield wh
        except BaseException as exc:
            if not isinstance(exc, MemberlensError):  # the connection may be in a bad state
                wh.close()
                raise
            self._give_back(wh)
            raise
        else:
            self._give_back(wh)

    def _give_back(self, wh: PooledWarehouse) -> None:
        """Back to the pool, or closed if a newer snapshot was published meanwhile."""
        if wh.version != self.version():
            wh.close()
            return
        wh.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(wh)
        self._start_reaper()

    def _start_reaper(self) -> None:
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._reaper = threading.Thread(
            target=self._reap, name="memberlens-warehouse-reaper", daemon=True
        )
        self._reaper.start()

    def _reap(self) -> None:
        while not self._stopping.wait(self.idle_seconds / 2):
            now = time.monotonic()
            with self._lock:
                stale = [w for w in self._idle if now - w.idle_since >= self.idle_seconds]
                self._idle = [w for w in self._idle if w not in stale]
                empty = not self._idle
            for w in stale:
                w.close()
            if empty:
                with self._lock:
                    if not self._idle:
                        self._reaper = None
                        return

    def has_table(self, name: str) -> bool:
        """Whether the warehouse holds table ``name`` (cached per warehouse version)."""

        def tables() -> frozenset:
            with self.warehouse() as wh:
                return frozenset(wh.con.list_tables())

        return self.project.warehouse.exists() and name in self.cached(("tables",), tables)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`close` was called (background work should stop)."""
        return self._stopping.is_set()

    def close(self) -> None:
        """Close the pooled connections and stop the reaper thread (and wait for it).

        Called when the app shuts down and, as a safety net, at interpreter exit: a DuckDB
        connection closed by a daemon thread while the interpreter finalises aborts the whole
        process ("terminate called without an active exception", duckdb/duckdb#13904), so no
        thread of ours may still hold or close one by then.
        """
        self._stopping.set()
        reaper = self._reaper
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout=30)
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()

    # -- cache ---------------------------------------------------------------------------------
    def version(self) -> tuple:
        """The published snapshot (its name, in a 1-tuple; empty before the first load): changes
        with every publish. A project written before snapshots existed is published here once."""
        if self.project.engine != "duckdb":  # Spark: a load is visible once its commit record
            # is written (engine/spark_store.py), which changes the records folder's mtime
            try:
                return ("commits", (self.project.warehouse / "_commits").stat().st_mtime_ns)
            except FileNotFoundError:
                return ()
        snapshots = Snapshots(self.project.warehouse)
        name = snapshots.version()
        if name is None and self.project.warehouse.exists():
            publish_existing(self.project)
            name = snapshots.version()
        return (name,) if name else ()

    def run_key(self) -> tuple:
        """The last ``memberlens run`` (its run id), else the warehouse version: results keyed
        by it are computed once per run (and survive ingests until the next run)."""

        def last_run() -> tuple:
            if not self.has_table("_runs"):
                return ("version",) + self.version()
            with self.warehouse() as wh:
                found = wh.fetch("SELECT max(run_id) AS r FROM _runs", [])
            run = found[0]["r"] if found else None
            return ("run", run) if run else ("version",) + self.version()

        return self.cached(("run_key",), last_run)

    def _lru(self, heavy: bool, pages: bool) -> tuple[OrderedDict, int]:
        if pages:
            return self._pages, self.page_cache_size
        return (self._heavy, self.heavy_cache_size) if heavy else (self._cache, self.cache_size)

    def peek(
        self, key: tuple, *, heavy: bool = False, pages: bool = False, version: tuple | None = None
    ) -> Any:
        """The cached value of ``key`` for the current warehouse version, or None (no
        computation, no connection: cheap enough for the event loop)."""
        full = (key, self.version() if version is None else version)
        cache, _ = self._lru(heavy, pages)
        with self._lock:
            if full in cache:
                cache.move_to_end(full)
                return cache[full]
        return None

    def cached(
        self,
        key: tuple,
        compute: Callable[[], Any],
        *,
        heavy: bool = False,
        pages: bool = False,
        version: tuple | None = None,
    ) -> Any:
        """``compute()`` once per key and warehouse version (an LRU; ``heavy`` values go to a
        smaller one, member-list ``pages`` to their own). Concurrent callers of the same key
        wait for the one computation instead of repeating it. ``version``: key the value on
        this instead (e.g. :meth:`run_key`)."""
        full = (key, self.version() if version is None else version)
        cache, size = self._lru(heavy, pages)
        with self._lock:
            if full in cache:
                cache.move_to_end(full)
                return cache[full]
            flight = self._flights.get(full)
            if flight is None:
                flight = self._flights[full] = threading.Lock()
        with flight:
            with self._lock:
                if full in cache:
                    return cache[full]
            try:
                value = compute()
                with self._lock:
                    cache[full] = value
                    while len(cache) > size:
                        cache.popitem(last=False)
            finally:
                with self._lock:
                    self._flights.pop(full, None)
        return value


def encode_json(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (what cached API results are kept as: a cache hit is sent
    as it is, with no re-encoding)."""
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
    ).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return float(value)  # Decimal


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx


#: every context not yet garbage-collected, closed at interpreter exit (see WebContext.close)
_LIVE: list[weakref.ref[WebContext]] = []


@atexit.register
def _close_all() -> None:
    for ref in list(_LIVE):
        ctx = ref()
        if ctx is not None:
            ctx.close()
    _LIVE[:] = [ref for ref in _LIVE if ref() is not None]
