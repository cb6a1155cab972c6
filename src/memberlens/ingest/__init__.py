"""Ingest: map a user's export onto the data contract, check it, and store it atomically.

>>> from memberlens.ingest import load  # doctest: +SKIP
>>> report = load("orders", "orders.csv", project="shop")  # doctest: +SKIP
>>> report.rows_read == report.rows_stored + report.rows_quarantined + report.duplicates_dropped  # doctest: +SKIP
True
"""

from memberlens.ingest.loader import LoadReport, Preview, load, preview
from memberlens.ingest.mapping import Mapping, propose_mapping, read_mapping
from memberlens.ingest.rules import DUPLICATES, RULES
from memberlens.ingest.sources import Source, read_source

__all__ = [
    "DUPLICATES",
    "RULES",
    "LoadReport",
    "Mapping",
    "Preview",
    "Source",
    "load",
    "preview",
    "propose_mapping",
    "read_mapping",
    "read_source",
]
