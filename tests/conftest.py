"""Shared fixtures.

``backend`` is parametrised over the two engines (DuckDB in memory, and local PySpark started
once per test session) so that table logic written in Ibis is checked on both and compared.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)


@pytest.fixture(scope="session")
def spark_session():
    pyspark = pytest.importorskip("pyspark")  # noqa: F841
    from memberlens.engine import spark_session as make_session

    session = make_session()
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("pyspark", marks=pytest.mark.spark)])
def backend(request):
    """An empty Ibis backend of each engine kind."""
    import ibis

    if request.param == "duckdb":
        con = ibis.duckdb.connect()
        yield con
        con.disconnect()
    else:
        session = request.getfixturevalue("spark_session")
        yield ibis.pyspark.connect(session)


@pytest.fixture(scope="session")
def cdnow_orders():
    """CDNOW 1/10 sample as a canonical ``orders`` frame: one order per line, all paid."""
    import numpy as np
    import pandas as pd

    from memberlens.datasets import load_cdnow_sample

    raw = load_cdnow_sample()
    return pd.DataFrame(
        {
            "order_id": (np.arange(len(raw)) + 1).astype(str),
            "member_id": raw["member_id"],
            "ordered_at": raw["ordered_at"],
            "amount": raw["amount"],
            "status": "paid",
        }
    )


@pytest.fixture
def on_backend(backend):
    """``load(frame, name)`` puts a pandas frame on ``backend`` as table ``name`` (through
    Arrow: Ibis' pandas route turns a missing string into the text 'NaN' on Spark)."""
    import pyarrow as pa

    from memberlens.engine import register_arrow

    def load(frame, name: str):
        return register_arrow(backend, name, pa.Table.from_pandas(frame, preserve_index=False))

    return load


def pytest_sessionfinish(session, exitstatus):
    """Fail the run, loudly, when a thread of ours is still running once the tests are done.

    A DuckDB connection used or closed by a thread while the interpreter finalises aborts the
    process after every test passed ("terminate called without an active exception", exit 134;
    duckdb/duckdb#13904). The dashboard's pools are closed here (as the app does at shutdown);
    any non-daemon thread or ``memberlens-*`` thread still alive after a grace period is a leak.
    """
    import gc
    import sys
    import threading
    import time

    context = sys.modules.get("memberlens.web.context")
    if context is not None:
        context._close_all()
    gc.collect()

    def leaked() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t is not threading.main_thread()
            and t.is_alive()
            and (not t.daemon or t.name.startswith("memberlens-"))
        ]

    deadline = time.monotonic() + 30
    while leaked() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = leaked()
    if left:
        names = ", ".join(f"{t.name} (daemon={t.daemon})" for t in left)
        sys.stderr.write(f"\nthreads still running at the end of the test run: {names}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
