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
