"""Streaming writers: one Parquet file per table (row groups appended chunk by chunk) and CSV
exports in a chosen encoding, so memory stays bounded by one chunk of members.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class ParquetSink:
    """Appends tables with one schema to a Parquet file, opened on the first write."""

    def __init__(self, path: Path, schema: pa.Schema | None = None):
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.schema = self.schema or table.schema
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._writer.write_table(table.cast(self.schema), row_group_size=1 << 20)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is None and self.schema is not None:  # an empty table still gets a file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class CsvSink:
    """Appends string tables to a CSV file in ``encoding`` (``gbk``, ``utf-8-sig``, ...)."""

    def __init__(self, path: Path, encoding: str):
        self.path = Path(path)
        self.encoding = encoding
        self.rows = 0
        self._file = None

    def write(self, table: pa.Table) -> None:
        first = self._file is None
        if first:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        buf = io.BytesIO()
        pacsv.write_csv(
            table, buf, pacsv.WriteOptions(include_header=first, quoting_style="needed")
        )
        text = buf.getvalue().decode("utf-8")
        self._file.write(text.encode(self.encoding if first else self.encoding.replace("-sig", "")))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
