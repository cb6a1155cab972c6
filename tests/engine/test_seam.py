"""The engine seam: outside ``memberlens.engine`` no code asks which engine it runs on."""

from __future__ import annotations

import re
from pathlib import Path

import memberlens

SRC = Path(memberlens.__file__).parent
#: an engine test on an Ibis backend or a warehouse's backend (``con.name == "duckdb"``, ...)
BRANCH = re.compile(r"""\.name\s*[!=]=\s*["'](duckdb|pyspark)["']""")
#: the DuckDB file reader of ingest is DuckDB's own by design (Spark loads go through Arrow)
ALLOWED = {"ingest/duckdb_reader.py"}


def test_no_engine_branches_outside_the_engine_package():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("engine/") or rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BRANCH.search(line):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "move these behind a WarehouseProtocol method:\n" + "\n".join(found)
