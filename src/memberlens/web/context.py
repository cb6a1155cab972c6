"""What every request can reach: the project, the state store and read-only warehouses.

Requests read the warehouse's latest published state (:mod:`memberlens.engine.readers`: the
published snapshot of a DuckDB warehouse, the commit marker of a Spark one), never what an ingest
or ``memberlens run`` is writing, so the dashboard neither waits for a writer nor blocks one.
Warehouses are pooled per state: a request borrows an open read-only warehouse and gives it
back, so it stays open (and its caches warm) while the dashboard is busy. Each request checks the
state (one small file read): after a publish, new requests open the new state, warehouses of an
older one are closed when they are given back (a request that started before the publish
finishes on the state it started with: old marts or new ones, never a mix), and a reaper thread
closes warehouses idle for :attr:`WebContext.idle_seconds`. At most
:attr:`WebContext.max_connections` queries run at once on DuckDB (more only queue on a 2-core
machine); on Spark one at a time (the process's one Spark session holds the warehouse's views),
and the session the dashboard started is stopped at shutdown (:meth:`WebContext.close`).
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from fastapi import Request

from memberlens.engine.protocol import WarehouseProtocol
from memberlens.engine.readers import ReadSide
from memberlens.exceptions import MemberlensError, MissingTableError
from memberlens.project import Project
from memberlens.web.store import Store


class PooledWarehouse:
    """A read-only warehouse of one published state (``version``) that remembers its table list,
    columns and table handles (the rest of the warehouse protocol is passed through)."""

    def __init__(self, wh: WarehouseProtocol, *, version: tuple):
        self.wh = wh
        self.con = wh.con
        self.version = version
        self._tables: frozenset[str] | None = None
        self._columns: dict[str, tuple[str, ...]] = {}
        self._handles: dict[str, ir.Table] = {}
        self.idle_since = time.monotonic()

    def tables(self) -> frozenset[str]:
        """The tables written to the warehouse (cached for the life of the warehouse)."""
        if self._tables is None:
            self._tables = self.wh.stored_tables()
        return self._tables

    def has(self, name: str) -> bool:
        return name in self.tables()

    def table(self, name: str) -> ir.Table:
        if name not in self._handles:
            self._handles[name] = self.wh.table(name)
        return self._handles[name]

    def columns(self, name: str) -> tuple[str, ...]:
        """Column names of table ``name`` (cached for the life of the warehouse)."""
        if name not in self._columns:
            self._columns[name] = tuple(self.table(name).columns)
        return self._columns[name]

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.wh.fetch(sql, params)

    def fetch_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        return self.wh.fetch_arrow(sql, params)

    def close(self) -> None:
        self.wh.close()

    def __getattr__(self, name: str) -> Any:  # the rest of the protocol
        return getattr(self.wh, name)


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
        self._read = ReadSide(self.project)
        slots = self.max_connections if self._read.concurrent else 1
        self._slots = threading.BoundedSemaphore(slots)
        self._heavy_slots = threading.BoundedSemaphore(min(self.max_heavy, slots))
        _LIVE.append(weakref.ref(self))

    # -- connections ---------------------------------------------------------------------------
    def _open(self, version: tuple) -> PooledWarehouse:
        for _attempt in range(20):
            try:
                return PooledWarehouse(self._read.open(version), version=version)
            except Exception:
                if self._read.exists(version):
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
                return wh.tables()

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
        self._read.close()

    # -- cache ---------------------------------------------------------------------------------
    def version(self) -> tuple:
        """The published state (empty before the first load): changes with every publish (see
        :meth:`memberlens.engine.readers.ReadSide.version`)."""
        return self._read.version()

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
