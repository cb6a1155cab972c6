"""The writer lock: one process writes a project's warehouse at a time, the others wait their turn.

DuckDB lets one process write a database file, or many read it, never both. Writers (an ingest,
``memberlens run``, a notebook's ``connect(project, read_only=False)``) therefore take an
exclusive ``flock`` on ``.memberlens/writer.lock`` before they open the warehouse file. A second
writer waits, says once on stderr who it waits for (``waiting for another writer: memberlens run
(pid 4242, since 02:31:05)``), and gives up after :func:`write_timeout` seconds with
:class:`~memberlens.exceptions.WarehouseBusy`, never with DuckDB's lock error. The kernel drops
the lock when its holder exits, however it exits, so a crashed writer never blocks the next one.

The lock is re-entrant within a thread (a writer that opens the warehouse again gets it at once)
and exclusive between threads and processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from memberlens.exceptions import ConfigError, WarehouseBusy

__all__ = ["DEFAULT_WRITE_TIMEOUT", "WriterLock", "holder", "write_timeout"]

#: seconds a writer waits for another one before it gives up (``MEMBERLENS_WRITE_TIMEOUT``)
DEFAULT_WRITE_TIMEOUT = 3600.0
_POLL = 0.1
_registry: dict[Path, _Held] = {}
_registry_lock = threading.Lock()


class _Held:
    """The lock of one file as this process holds it (one per lock file)."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


def write_timeout() -> float:
    """Seconds to wait for another writer: ``$MEMBERLENS_WRITE_TIMEOUT``, else one hour."""
    raw = os.environ.get("MEMBERLENS_WRITE_TIMEOUT", "")
    if not raw:
        return DEFAULT_WRITE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(
            f"MEMBERLENS_WRITE_TIMEOUT={raw!r} is not a number of seconds; set it to e.g. 600 "
            "(0: fail at once when another writer is running)"
        )
    return value


def _describe_self() -> str:
    """What this process is, for a waiting writer's message (its command line, shortened)."""
    args = list(sys.argv)
    if args and Path(args[0]).name in ("__main__.py", "memberlens"):
        args[0] = "memberlens"
    text = " ".join(args) or "python"
    return text if len(text) <= 80 else text[:77] + "..."


def holder(lock_path: Path) -> str:
    """Who holds the lock, as recorded by its holder: ``what (pid N, since HH:MM:SS)``."""
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    since = str(info.get("since", ""))[11:19]
    return f"{info.get('what', 'another process')} (pid {info.get('pid', '?')}, since {since})"


class WriterLock:
    """The writer lock of one warehouse (a context manager; see the module docstring).

    ``timeout``: seconds to wait (default :func:`write_timeout`); ``what``: how waiting writers
    name this one (default: this process's command line); ``notify``: where the one "waiting"
    message goes (default: stderr).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        what: str | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path).resolve()
        self.timeout = write_timeout() if timeout is None else timeout
        self.what = what or _describe_self()
        self.notify = notify or _to_stderr
        with _registry_lock:
            self._held = _registry.setdefault(self.path, _Held())

    @property
    def depth(self) -> int:
        """How many times this process holds the lock (0: not held)."""
        return self._held.depth

    def acquire(self) -> None:
        held = self._held
        deadline = time.monotonic() + self.timeout
        if self.timeout > 0:
            ok = held.thread_lock.acquire(timeout=self.timeout)
        else:
            ok = held.thread_lock.acquire(blocking=False)
        if not ok:  # another thread of this process writes
            raise self._busy()
        try:
            if held.depth == 0:
                held.fd = self._flock(deadline)
            held.depth += 1
        except BaseException:
            held.thread_lock.release()
            raise

    def release(self) -> None:
        held = self._held
        held.depth -= 1
        if held.depth == 0 and held.fd is not None:
            fd, held.fd = held.fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock
        held.thread_lock.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _flock(self, deadline: float) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        told = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._busy() from None
                    if not told:
                        self.notify(
                            f"waiting for another writer: {holder(self.path)}; "
                            f"giving up after {self.timeout:g} s "
                            "(MEMBERLENS_WRITE_TIMEOUT)"
                        )
                        told = True
                    time.sleep(_POLL)
            info = {
                "what": self.what,
                "pid": os.getpid(),
                "since": dt.datetime.now().isoformat(timespec="seconds"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _busy(self) -> WarehouseBusy:
        return WarehouseBusy(
            f"another writer holds the warehouse: {holder(self.path)}; gave up after "
            f"{self.timeout:g} s. Wait for it to finish and retry, or wait longer with "
            "MEMBERLENS_WRITE_TIMEOUT=SECONDS"
        )


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
