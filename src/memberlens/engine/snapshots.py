"""Published snapshots: the read-only copies of the warehouse that every reader opens.

Only writers open the warehouse file itself (one at a time, see :mod:`memberlens.engine.locking`).
When a writer finishes (a load, a run, a notebook's writer connection closed) it checkpoints the
file and publishes it: a copy under a new name in ``<warehouse>.published/`` (written to a
temporary name, fsynced, renamed), then the pointer file ``CURRENT`` is replaced atomically by the
same write-fsync-rename. Readers (the dashboard, ``status``, ``members``, exports, a notebook's
``connect(project)``) read ``CURRENT`` and open the snapshot it names read-only, so they never
wait for a writer and never see a half-written state: old marts or new ones. Superseded
snapshots are deleted at once; a reader that still has one open keeps reading it (an unlinked
file stays readable on Linux until its last descriptor closes), and its next connection opens the
new one. Names are never reused (a sequence number plus a random suffix), so DuckDB's in-process
cache of open databases, which is keyed by path, can never hand out an old file under a new name.

Cost: one file copy per publish (``os.sendfile`` and fsync: 0.26 s for 44 MiB here, seconds for
a warehouse of GBs) and twice the warehouse's disk space (docs/benchmarks/concurrency.md). A
writer that wrote nothing publishes nothing: :meth:`Snapshots.publish_if_changed` compares the
warehouse file's signature (size, inode, modification and change times in nanoseconds, and its
write-ahead log's) with the one recorded when the current snapshot was published (the file
``SOURCE`` beside ``CURRENT``) and keeps the current snapshot when they agree: DuckDB rewrites
the file (so its times change) on every committed change and leaves it untouched when a
connection only read, rolled back or ran a ``CREATE ... IF NOT EXISTS`` of a table that exists.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["POINTER", "SOURCE", "Snapshots"]

POINTER = "CURRENT"
#: The signature of the warehouse file the current snapshot was copied from.
SOURCE = "SOURCE"


class Snapshots:
    """The published snapshots of the warehouse file ``source``."""

    def __init__(self, source: str | os.PathLike[str]) -> None:
        self.source = Path(source)
        self.folder = self.source.with_name(self.source.name + ".published")
        self.pointer = self.folder / POINTER

    def version(self) -> str | None:
        """The name of the current snapshot (changes with every publish), or None."""
        try:
            return self.pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> Path | None:
        """The current snapshot's path, or None before the first publish."""
        name = self.version()
        return self.folder / name if name else None

    def path(self, version: str) -> Path:
        return self.folder / version

    def signature(self) -> str:
        """The warehouse file's state as the file system reports it (no byte of it is read):
        size, inode, modification and change times in nanoseconds, of the file and of its
        write-ahead log. Any write to either changes it."""
        parts = []
        for path in (self.source, self._wal()):
            try:
                st = path.stat()
            except FileNotFoundError:
                parts.append("-")
                continue
            parts.append(f"{st.st_size}:{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns}")
        return " ".join(parts)

    def publish_if_changed(self) -> Path | None:
        """:meth:`publish` unless the current snapshot was copied from the warehouse file as it
        is now (same :meth:`signature`, snapshot still there): then nothing is copied and None
        is returned. Readers keep the snapshot they have, which holds every committed write."""
        current = self.current()
        if current is not None and current.exists():
            try:
                recorded = (self.folder / SOURCE).read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                recorded = ""
            if recorded == f"{current.name} {self.signature()}":
                return None
        return self.publish()

    def publish(self) -> Path:
        """Copy the warehouse file (checkpointed; the caller holds the writer lock and has closed
        or checkpointed its connection) to a new snapshot and point readers at it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        signature = self.signature()  # before the copy: the writer lock keeps the file still
        previous = self.version()
        sequence = int(previous.split("-", 1)[0]) + 1 if previous else 1
        name = f"{sequence:08d}-{secrets.token_hex(4)}.duckdb"
        target = self.folder / name
        _copy_durably(self.source, target)
        wal = self._wal()
        if wal.exists():  # not folded in by a checkpoint: read-only opens replay it
            _copy_durably(wal, target.with_name(name + ".wal"))
        _write_durably(self.pointer, name)
        # after the pointer: a crash in between leaves an old signature, so the next writer
        # publishes again (never the reverse: skipping with a pointer to an older snapshot)
        _write_durably(self.folder / SOURCE, f"{name} {signature}")
        self._remove_all_but(name)
        return target

    def _wal(self) -> Path:
        return self.source.with_name(self.source.name + ".wal")

    def _remove_all_but(self, name: str) -> None:
        keep = {name, name + ".wal", POINTER, SOURCE}
        for entry in self.folder.iterdir():
            if entry.name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()


def _copy_durably(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` all at once (the copy stays in the kernel: os.sendfile)."""
    _replace_durably(target, lambda tmp: shutil.copyfile(source, tmp))


def _write_durably(target: Path, text: str) -> None:
    _replace_durably(target, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _replace_durably(target: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temporary name beside ``target``, fsync it, rename it over ``target``, fsync
    the folder: ``target`` is the old file or the new one, also after a crash."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
