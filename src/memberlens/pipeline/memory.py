"""The resident-memory high-water mark of one pipeline step.

On Linux the kernel keeps the process's peak resident set (``VmHWM`` in ``/proc/self/status``)
and resets it when ``5`` is written to ``/proc/self/clear_refs`` (Linux 4.0+, see proc(5)): the
runner resets it before each step and reads it after, so each step gets its own peak, exactly and
without a sampling thread. Where that file cannot be written, the peak falls back to
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the high-water mark since the process started
(then a step's figure is the largest of its own peak and every earlier step's).
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new high-water mark; False when the platform cannot (the peak is then cumulative)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """The resident-memory high-water mark in bytes (since :func:`reset_peak`, if it worked)."""
    try:
        found = re.search(r"^VmHWM:\s+(\d+)\s+kB", _STATUS.read_text(), re.M)
    except OSError:
        found = None
    if found:
        return int(found.group(1)) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS: bytes
