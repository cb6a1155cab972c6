"""The filter language: what parses, what is refused (and how the message reads), and what the
compiled Ibis condition selects on DuckDB and on Spark, against the same condition written by
hand over the Arrow rows in Python (the reference)."""

from __future__ import annotations

import datetime as dt

import pytest

from memberlens.activation.audience_language import (
    And,
    Compare,
    IsNull,
    Membership,
    Not,
    OptedOut,
    check,
    columns_of,
    compile_filter,
    parse,
)
from memberlens.exceptions import ExpressionError

EXAMPLE = (
    'segment_cn8 == "important_value" and clv_12m > 500 and province in ["广东省", "浙江省"] '
    'and days_since_last_order <= 30 and not opted_out("sms")'
)


def test_the_issue_example_parses_into_five_clauses():
    tree = parse(EXAMPLE)
    assert isinstance(tree, And) and len(tree.items) == 5
    seg, clv, prov, days, opt = tree.items
    assert isinstance(seg, Compare) and seg.left.name == "segment_cn8"
    assert seg.right.value == "important_value"
    assert isinstance(clv, Compare) and (clv.op, clv.right.value) == (">", 500)
    assert isinstance(prov, Membership) and [v.value for v in prov.values] == ["广东省", "浙江省"]
    assert isinstance(days, Compare) and days.op == "<="
    assert opt == Not(OptedOut("sms"))


def test_literal_on_the_left_flips_and_chains_split():
    assert parse("500 < clv") == parse("clv > 500")
    chain = parse("100 <= clv < 500")
    assert isinstance(chain, And) and [c.op for c in chain.items] == [">=", "<"]


def test_null_checks_in_three_spellings():
    assert parse("clv is null") == IsNull(parse("clv is null").column)
    assert parse("clv is not None").negated is True
    assert isinstance(parse("clv == null"), IsNull)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("clv = 5", "single = is not a comparison"),
        ("clv > 5 && F > 1", "and / or"),
        ('__import__("os").system("ls")', "not a function of the language"),
        ("clv.real > 1", "expected a column name"),
        ("clv + 1 > 2", "expected a column name"),
        ("province in 'abc'", "list of values in brackets"),
        ("clv is 5", "only test for null"),
        ("1 < 2", "needs a column on one side"),
        ("clv > date('2025-13-01')", "is not a date"),
        ("clv > null", "test `is null`"),
        ("lambda: 1", "is not a condition"),
        ("opted_out()", "one text in quotes"),
    ],
)
def test_refused_input_names_the_problem(text, words):
    with pytest.raises(ExpressionError, match=None) as err:
        parse(text)
    assert words in str(err.value)


def test_parse_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ExpressionError):
        parse(f"open({str(marker)!r}, 'w')")
    assert not marker.exists()


def test_unknown_column_suggests_the_nearest(mart):
    cols = columns_of(_schema(mart))
    with pytest.raises(ExpressionError, match="did you mean segment_cn8"):
        check(parse('segmnt_cn8 == "x"'), cols)
    with pytest.raises(ExpressionError, match="did you mean days_since_last"):
        check(parse("days_since_lst < 3"), cols)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('clv > "500"', "'clv' holds number values, but is compared with string"),
        ("province == 3", "put the value in quotes"),
        ("refunder > 1", "true or false"),
        ("last_purchase_at > 'soon'", "date('YYYY-MM-DD')"),
        ("clv", "not true/false"),
        ("province in ['a', null]", "is null"),
        ("clv == province", "cannot be compared"),
    ],
)
def test_wrong_types_name_column_and_fix(mart, text, words):
    with pytest.raises(ExpressionError) as err:
        check(parse(text), columns_of(_schema(mart)))
    assert words in str(err.value)


def test_aliases_resolve_only_when_obvious(mart):
    cols = columns_of(_schema(mart))
    assert cols.aliases == {"clv_12m": "clv", "days_since_last_order": "days_since_last"}
    checked = check(parse("clv_12m > 1"), cols)
    assert checked.left.name == "clv"


def _schema(table):
    import ibis

    return ibis.memtable(table).schema()


def _reference(rows: list[dict], opted: set[str]) -> dict[str, set[str]]:
    """Each case's members, written by hand in Python over the rows (the reference)."""
    gt = lambda v, x: v is not None and v > x  # noqa: E731
    cut = dt.datetime(2025, 6, 1)
    return {
        "example": {
            r["member_id"]
            for r in rows
            if r["segment_cn8"] == "important_value"
            and gt(r["clv"], 500)
            and r["province"] in ("广东省", "浙江省")
            and r["days_since_last"] <= 200
            and r["member_id"] not in opted
        },
        "not_in": {
            r["member_id"]
            for r in rows
            if r["province"] is not None and r["province"] not in ("广东省", "上海市")
        },
        "or_not": {
            r["member_id"] for r in rows if r["value_tier"] == "churn_risk" or not gt(r["clv"], 800)
        },
        "nulls": {r["member_id"] for r in rows if r["clv"] is None or r["province"] is None},
        "bool_date": {
            r["member_id"] for r in rows if r["refunder"] and r["last_purchase_at"] >= cut
        },
        "chain": {r["member_id"] for r in rows if 2 <= r["frequency"] < 5},
    }


CASES = {
    "example": EXAMPLE.replace("<= 30", "<= 200"),
    "not_in": "province not in ['广东省', '上海市']",
    "or_not": "value_tier == 'churn_risk' or not (clv > 800)",
    "nulls": "clv is null or province is null",
    "bool_date": "refunder and last_purchase_at >= date('2025-06-01')",
    "chain": "2 <= frequency < 5",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_filter_selects_what_the_hand_written_condition_selects(
    backend, on_backend, mart, case
):
    import ibis
    import pyarrow as pa

    opted = {f"M{i:05d}" for i in range(0, 400, 3)}
    table = on_backend(mart.to_pandas(), "members_under_test")
    opt = ibis.memtable(pa.table({"member_id": sorted(opted)}))
    cond = compile_filter(
        check(parse(CASES[case]), columns_of(table.schema())),
        table,
        opted_out=lambda channel: opt.member_id,
    )
    got = set(backend.execute(table.filter(cond).select("member_id"))["member_id"])
    want = _reference(mart.to_pylist(), opted)[case]
    assert got == want
    assert want, "a case that selects nobody would not test anything"


# -- random expressions against the documented semantics (Hypothesis) -------------------------
def _leaf():
    from hypothesis import strategies as st

    number = st.sampled_from(["clv", "days_since_last", "frequency"])
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    comparison = st.tuples(number, ops, st.integers(-10, 900)).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    values = st.lists(st.sampled_from(["广东省", "浙江省", "上海市", "x"]), min_size=0, max_size=3)
    membership = st.tuples(st.booleans(), values).map(
        lambda t: f"province {'not in' if t[0] else 'in'} {t[1]!r}"
    )
    nulls = st.sampled_from(["clv is null", "province is not null", "refunder"])
    return st.one_of(comparison, membership, nulls)


def _tree():
    from hypothesis import strategies as st

    return st.recursive(
        _leaf(),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"not ({e})"),
        ),
        max_leaves=6,
    )


def _truth(text: str, row: dict) -> bool:
    """The documented semantics by hand: a comparison with a missing value is false, `not`
    negates that, `in` on a missing value is false, `not in` too."""
    import ast

    def ev(node) -> bool:
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.UnaryOp):
            return not ev(node.operand)
        if isinstance(node, ast.Name):
            return bool(row[node.id])
        left = row[node.left.id]
        op, right = node.ops[0], node.comparators[0]
        if isinstance(op, (ast.Is, ast.IsNot)):
            return (left is None) == isinstance(op, ast.Is)
        if left is None:
            return False
        if isinstance(op, (ast.In, ast.NotIn)):
            found = left in [e.value for e in right.elts]
            return found if isinstance(op, ast.In) else not found
        v = right.value if isinstance(right, ast.Constant) else -right.operand.value
        return {
            ast.Eq: left == v,
            ast.NotEq: left != v,
            ast.Lt: left < v,
            ast.LtE: left <= v,
            ast.Gt: left > v,
            ast.GtE: left >= v,
        }[type(op)]

    return ev(ast.parse(text, mode="eval").body)


def test_random_expressions_select_what_the_documented_semantics_say(mart):
    import ibis
    from hypothesis import HealthCheck, given, settings

    con = ibis.duckdb.connect()
    table = con.create_table("m", ibis.memtable(mart))
    rows = mart.to_pylist()
    cols = columns_of(table.schema())

    @settings(
        max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(_tree())
    def check_one(text):
        cond = compile_filter(check(parse(text), cols), table)
        got = set(con.execute(table.filter(cond).select("member_id"))["member_id"])
        assert got == {r["member_id"] for r in rows if _truth(text, r)}, text

    check_one()
    con.disconnect()
