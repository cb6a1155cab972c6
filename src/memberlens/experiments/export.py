"""A campaign report as tables (for Excel) and as one self-contained HTML file (no CDN, no
script: inline CSS only), so it can be mailed or archived as it is."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from memberlens.experiments.campaigns import CampaignReport

__all__ = ["report_html", "report_tables", "write_report"]


def report_tables(report: CampaignReport) -> dict[str, pa.Table]:
    """The report's sheets: ``arms``, ``comparisons``, ``economics``, ``messages`` and, with a
    breakdown, ``segment_arms`` and ``segment_comparisons``."""
    d = report.to_dict()
    sheets: dict[str, list[dict[str, Any]]] = {
        "arms": d["arms"],
        "comparisons": d["comparisons"],
        "economics": d["economics"],
        "messages": [{"message": m} for m in d["messages"]],
    }
    if d["segments"]:
        sheets["segment_arms"] = [
            {report.by or "segment": s["segment"], **a} for s in d["segments"] for a in s["arms"]
        ]
        sheets["segment_comparisons"] = [
            {report.by or "segment": s["segment"], **c}
            for s in d["segments"]
            for c in s["comparisons"]
        ]
    return {name: pa.Table.from_pylist(rows) for name, rows in sheets.items() if rows}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value))


def _table(title: str, table: pa.Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.column_names)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row.values()) + "</tr>"
        for row in table.to_pylist()
    )
    return (
        f"<h2>{html.escape(title)}</h2><div class=scroll><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem;color:#1f2933}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #d9e2ec;padding:.3rem .5rem;
text-align:right;white-space:nowrap}th{background:#f0f4f8}td:first-child,th:first-child{text-align:left}
.scroll{overflow-x:auto}.note{background:#fffbea;border-left:4px solid #f0b429;padding:.4rem .8rem;
margin:.3rem 0}.meta{color:#52606d}
"""


def report_html(report: CampaignReport) -> str:
    """The whole report as one HTML document (inline CSS, no external resource)."""
    tables = report_tables(report)
    title = f"Campaign {report.campaign_id} {report.name or ''}".strip()
    meta = (
        f"{report.starts_at} &rarr; {report.ends_at} &middot; channel "
        f"{html.escape(str(report.channel or '-'))} &middot; response = "
        f"{html.escape(report.response)} &middot; {1 - report.alpha:.0%} intervals &middot; "
        f"retention {report.retention_days} days"
    )
    notes = "".join(f"<p class=note>{html.escape(m)}</p>" for m in report.messages)
    body = "".join(
        _table(name.replace("_", " "), t) for name, t in tables.items() if name != "messages"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=meta>{meta}</p>{notes}{body}"
        "<p class=meta>Formulas: docs/experiments.md (memberlens).</p></body></html>"
    )


def write_report(report: CampaignReport, path: Path | str) -> Path:
    """``.xlsx`` (one sheet per table, through :mod:`memberlens.exports`) or ``.html``."""
    from memberlens.exceptions import ConfigError
    from memberlens.exports import private_file, write_workbook

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        write_workbook(report_tables(report), path)
    elif suffix in (".html", ".htm"):
        try:
            with private_file(path) as out:
                out.write(report_html(report).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"--export {path}: cannot write ({exc.strerror}); choose a writable path"
            ) from exc
    else:
        raise ConfigError(f"--export {path}: use a .xlsx or .html file name")
    return path
