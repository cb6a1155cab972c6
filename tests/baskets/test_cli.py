"""``memberlens rules`` on the Groceries basket file (arules: 5,668 rules at 0.001 / 0.5)."""

from __future__ import annotations

import json

import pytest

import memberlens.cli.baskets  # noqa: F401  (registers the command on the app)
from memberlens.cli import main
from memberlens.datasets import data_path


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        main(list(map(str, args)))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rules_json_reproduces_arules_on_groceries(capsys):
    code, out, _ = run(
        capsys,
        "rules",
        data_path("groceries.csv"),
        "--min-support",
        0.001,
        "--min-confidence",
        0.5,
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["n_transactions"] == 9835 and payload["min_count"] == 10
    assert payload["n_rules"] == len(payload["rules"]) == 5668
    top = payload["rules"][0]
    assert top["antecedent"] == ["Instant food products", "soda"]
    assert top["consequent"] == "hamburger meat"
    assert round(top["lift"], 6) == 18.995654


def test_rules_table_and_top(capsys):
    code, out, _ = run(
        capsys,
        "--quiet",
        "rules",
        data_path("groceries.csv"),
        "--min-support",
        0.006,
        "--min-confidence",
        0.25,
        "--min-len",
        2,
        "--top",
        3,
    )
    assert code == 0
    assert "463 rules from 9,835 baskets" in out and "herbs" in out


def test_full_confidence_rules_have_null_conviction(capsys, tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("a,b\na,b\nc\n", encoding="utf-8")
    code, out, _ = run(capsys, "rules", path, "--min-support", 0.5, "--min-len", 2, "--json")
    rules = json.loads(out)["rules"]
    assert code == 0 and {r["conviction"] for r in rules} == {None}


@pytest.mark.parametrize(
    "args, exit_code, message",
    [
        (["--min-support", 0], 2, "min_support"),
        (["--max-len", 0], 2, "max_len"),
    ],
)
def test_bad_options_exit_with_the_config_code(capsys, args, exit_code, message):
    code, _, err = run(capsys, "rules", data_path("groceries.csv"), *args)
    assert code == exit_code and message in err


def test_missing_file_exits_with_the_source_code(capsys, tmp_path):
    code, _, err = run(capsys, "rules", tmp_path / "nope.csv")
    assert code == 3 and "does not exist" in err
