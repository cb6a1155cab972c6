"""Where a `memberlens run` spends its time outside the steps: each mart write, the indexes, the
checkpoint and the snapshot copy, in wall and CPU seconds.

    python benchmarks/run_outside_steps.py PROJECT

Runs the pipeline on PROJECT (it writes the project: run it on a copy) with the writer's methods
wrapped by timers: ``Warehouse.replace`` / ``replace_rows`` / ``index`` per table, the history
append, the run's transaction (``publish``), the member_id indexes, the writer's close
(checkpoint and publish) and the snapshot copy inside it. Prints the steps' seconds, the run's
total, what is left outside the steps, then every timed piece in order (docs/benchmarks/run.md).
"""

from __future__ import annotations

import functools
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    import memberlens.engine.snapshots as snapshots
    import memberlens.engine.warehouse as warehouse
    import memberlens.pipeline.publish as publish
    import memberlens.pipeline.run as run

    pieces: list[tuple[str, float, float]] = []

    def timed(owner: Any, attr: str, label: str, named: bool = False) -> None:
        inner: Callable[..., Any] = getattr(owner, attr)

        @functools.wraps(inner)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), _cpu_s()
            try:
                return inner(*args, **kwargs)
            finally:
                name = f"{label}({args[1]})" if named else label
                pieces.append((name, time.perf_counter() - wall, _cpu_s() - cpu))

        setattr(owner, attr, wrapper)

    for attr in ("replace", "replace_rows", "index"):
        timed(warehouse.Warehouse, attr, attr, named=True)
    timed(publish, "_append_history", "history")
    timed(run, "publish", "transaction (all marts)")
    timed(run, "index_member_ids", "member_id indexes")
    timed(warehouse.WriterBackend, "disconnect", "close (checkpoint, publish)")
    timed(snapshots.Snapshots, "publish", "snapshot copy")
    steps: dict[str, tuple[float, float]] = {}
    step_timer = run._timed

    def per_step(step: Any, ctx: Any) -> Any:
        wall, cpu = time.perf_counter(), _cpu_s()
        try:
            return step_timer(step, ctx)
        finally:
            steps[step.name] = (time.perf_counter() - wall, _cpu_s() - cpu)

    run._timed = per_step  # type: ignore[assignment]
    wall, cpu = time.perf_counter(), _cpu_s()
    run.run_pipeline(sys.argv[1])
    wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
    step_wall = sum(w for w, _ in steps.values())
    step_cpu = sum(c for _, c in steps.values())
    print("step: wall s, CPU s")
    for name, (w, c) in steps.items():
        print(f"  {name:28s} {w:8.1f} {c:8.1f}")
    print(
        f"run {wall:.1f} s wall, {cpu:.1f} CPU s; steps {step_wall:.1f} / {step_cpu:.1f}; "
        f"outside the steps {wall - step_wall:.1f} s wall, {cpu - step_cpu:.1f} CPU s"
    )
    print("outside the steps, in order: wall s, CPU s")
    for name, w, c in pieces:
        print(f"  {name:44s} {w:8.2f} {c:8.2f}")


if __name__ == "__main__":
    main()
