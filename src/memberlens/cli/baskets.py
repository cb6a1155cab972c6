"""Market-basket command: ``memberlens rules`` (association rules with R arules' semantics)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from memberlens.cli._app import app, state
from memberlens.cli._output import emit_json, progress_steps


def _rule_records(rules) -> list[dict]:
    records = []
    for row in rules.itertuples(index=False):
        record = row._asdict()
        record["antecedent"] = list(record["antecedent"])
        if math.isinf(record["conviction"]):
            record["conviction"] = None  # JSON has no infinity: confidence 1 means "never wrong"
        records.append(record)
    return records


@app.command()
def rules(
    source: Path = typer.Argument(
        ...,
        help="Basket file: one basket per line, items separated "
        "by --sep, no header (the layout of groceries.csv).",
    ),
    min_support: float = typer.Option(
        0.01,
        "--min-support",
        help="Share of baskets an itemset must be in (count >= ceil(share x baskets)).",
    ),
    min_confidence: float = typer.Option(
        0.5,
        "--min-confidence",
        help="Least share of the antecedent's baskets that also hold the consequent.",
    ),
    min_len: int = typer.Option(
        1,
        "--min-len",
        help="Fewest items in a rule, both sides "
        "(1 also gives '{} => item' rules, as arules does).",
    ),
    max_len: int = typer.Option(10, "--max-len", help="Most items in a rule, both sides."),
    sep: str = typer.Option(",", "--sep", help="Item separator in the basket file."),
    top: int | None = typer.Option(
        None,
        "--top",
        help="Show only the N rules of highest lift (default: 20 in the table, all with --json).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rules as JSON."),
) -> None:
    """Association rules (one item on the right) from a basket file, sorted by lift."""
    from memberlens.baskets import association_rules, read_basket_file

    with progress_steps("rules", quiet=state.quiet or as_json) as step:
        step("reading baskets")
        baskets = read_basket_file(source, sep=sep)
        step("mining")
        found = association_rules(
            baskets,
            min_support=min_support,
            min_confidence=min_confidence,
            min_len=min_len,
            max_len=max_len,
        )
    shown = found if top is None and as_json else found.head(20 if top is None else top)
    if as_json:
        emit_json(
            {
                "source": str(source),
                "n_transactions": found.attrs["n_transactions"],
                "min_count": found.attrs["min_count"],
                "min_support": min_support,
                "min_confidence": min_confidence,
                "min_len": min_len,
                "max_len": max_len,
                "n_rules": len(found),
                "rules": _rule_records(shown),
            }
        )
        return
    from rich.table import Table

    from memberlens.cli._output import console

    table = Table(
        title=f"{len(found):,} rules from {found.attrs['n_transactions']:,} baskets "
        f"(support >= {min_support}, confidence >= {min_confidence})"
    )
    for column in ("antecedent", "consequent", "support", "confidence", "lift", "count"):
        table.add_column(
            column, justify="left" if column in ("antecedent", "consequent") else "right"
        )
    for row in shown.itertuples(index=False):
        table.add_row(
            "{" + ", ".join(map(str, row.antecedent)) + "}",
            str(row.consequent),
            f"{row.support:.6f}",
            f"{row.confidence:.4f}",
            f"{row.lift:.3f}",
            f"{row.count:,}",
        )
    console.print(table)
    if len(shown) < len(found) and not state.quiet:
        console.print(f"showing {len(shown)} of {len(found):,}; --top N or --json for more")
