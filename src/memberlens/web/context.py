"""What every request can reach: the project, the state store and a read-only warehouse."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from memberlens.engine.warehouse import Warehouse
from memberlens.exceptions import MissingTableError
from memberlens.project import Project
from memberlens.web.errors import WarehouseBusy
from memberlens.web.store import Store


@dataclass
class WebContext:
    project: Project
    store: Store
    #: set the Secure flag on cookies (serve behind HTTPS)
    secure_cookies: bool = False
    #: results of aggregate queries, keyed by (query, parameters, warehouse version)
    cache_size: int = 256
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """A read-only connection for the length of one request.

        Connections are opened per request and closed after it, so a dashboard that is left
        running never holds the file lock that an ingest or a ``memberlens run`` needs.
        """
        if not self.project.warehouse.exists():
            raise MissingTableError(f"{self.project.warehouse}: no warehouse yet; load data with "
                                    "`memberlens ingest orders FILE`")
        try:
            wh = Warehouse(self.project.warehouse, read_only=True)
        except Exception as exc:  # duckdb.IOException: the file is locked by a writer
            if "lock" in str(exc).lower():
                raise WarehouseBusy("the warehouse is being written (an ingest or `memberlens "
                                    "run` is in progress); retry in a moment") from None
            raise
        try:
            yield wh
        finally:
            wh.close()

    def version(self) -> tuple[int, int]:
        """Changes whenever the warehouse file is rewritten (invalidates the cache)."""
        try:
            st = self.project.warehouse.stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per key and warehouse version (a small LRU)."""
        full = (key, self.version())
        with self._lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self._lock:
            self._cache[full] = value
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return value


def ctx(request: Request) -> WebContext:
    return request.app.state.ctx
