"""Reading and rewriting the ``[costs]`` section of ``memberlens.toml`` (message cost per
channel, coupon cost, product margin), which campaign reports and uplift profit read.

The rest of the file, comments included, is kept as it is: only the lines of ``[costs]`` (and
any ``[costs.*]`` sub-table) are replaced, the new file is checked the way
:meth:`memberlens.project.Project.load` checks it, then swapped in atomically.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from memberlens.exceptions import ConfigError
from memberlens.experiments.campaigns import Costs

__all__ = ["costs_section", "project_costs", "write_costs"]

_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def project_costs(project: Any) -> Costs:
    """The project's ``[costs]`` (an empty :class:`Costs` when the section is absent)."""
    values = getattr(project, "settings", {}).get("costs")
    return Costs.from_settings(values) if values else Costs()


def _number(name: str, value: Any, *, share: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"[costs] {name}: must be a number, found {value!r}")
    if value < 0 or math.isinf(value) or (share and value > 1):
        rule = "between 0 and 1 (a share of revenue)" if share else "a number of at least 0"
        raise ConfigError(f"[costs] {name} = {value!r}: must be {rule}")
    return float(value)


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def costs_section(costs: Costs) -> str:
    """The ``[costs]`` section of ``costs`` as TOML text."""
    lines = ["[costs]"]
    if costs.message:
        pairs = ", ".join(f"{_key(k)} = {v!r}" for k, v in sorted(costs.message.items()))
        lines.append(f"message = {{ {pairs} }}")
    if costs.coupon is not None:
        lines.append(f"coupon = {costs.coupon!r}")
    if costs.margin is not None:
        lines.append(f"margin = {costs.margin!r}")
    return "\n".join(lines) + "\n"


def _without_costs(text: str) -> str:
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        header = _HEADER.match(line)
        if header:
            name = header.group(1).strip()
            skipping = name == "costs" or name.startswith("costs.")
        if not skipping:
            out.append(line)
    return "".join(out).rstrip("\n") + "\n"


def write_costs(
    project_file: Path,
    *,
    message: dict[str, Any] | None,
    coupon: Any = None,
    margin: Any = None,
) -> Costs:
    """Replace ``[costs]`` in ``project_file`` with these values (None leaves a key out)."""
    channels = {}
    for channel, value in (message or {}).items():
        if not str(channel).strip() or len(str(channel)) > 64:
            raise ConfigError(
                f"[costs] message: channel names are 1-64 characters, found {channel!r}"
            )
        channels[str(channel)] = _number(f"message.{channel}", value)
    costs = Costs(
        message=channels,
        coupon=None if coupon is None else _number("coupon", coupon),
        margin=None if margin is None else _number("margin", margin, share=True),
    )
    text = _without_costs(project_file.read_text(encoding="utf-8"))
    if costs.message or costs.coupon is not None or costs.margin is not None:
        text += "\n" + costs_section(costs)
    from memberlens.settings import check_settings

    check_settings(tomllib.loads(text), project_file)  # as Project.load will
    fd, tmp = tempfile.mkstemp(dir=project_file.parent, prefix=".memberlens-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, project_file.stat().st_mode & 0o777)
        os.replace(tmp, project_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return costs
