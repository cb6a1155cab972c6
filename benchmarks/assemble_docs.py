"""Assemble docs/benchmarks.md from the per-area pages in docs/benchmarks/.

Each benchmark script writes its own page (docs/benchmarks/<area>.md); this puts the summary
table (docs/benchmarks/_summary.md, kept by hand) and the pages together in a fixed order:

    .venv/bin/python benchmarks/assemble_docs.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "docs"
ORDER = (
    "ingest",
    "run",
    "simulate",
    "rfm",
    "clv",
    "baskets",
    "mine",
    "churn",
    "recommend",
    "forecast",
    "experiments",
    "uplift",
    "activation",
    "web",
    "concurrency",
)


def assemble() -> str:
    pages = [(ROOT / "benchmarks" / "_summary.md").read_text(encoding="utf-8").rstrip()]
    for area in ORDER:
        page = ROOT / "benchmarks" / f"{area}.md"
        if page.exists():
            pages.append(page.read_text(encoding="utf-8").rstrip())
    return "\n\n\n".join(pages) + "\n"


if __name__ == "__main__":
    (ROOT / "benchmarks.md").write_text(assemble(), encoding="utf-8")
