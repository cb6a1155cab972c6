"""The audience filter language: parsed (never evaluated), type-checked, compiled to Ibis.

An expression reads like a condition in Python or SQL::

    segment_cn8 == "important_value" and clv > 500 and province in ["广东省", "浙江省"]
    and days_since_last <= 30 and not opted_out("sms")

* comparisons ``==  !=  <  <=  >  >=`` between a column and a literal (or two columns of one
  kind); chains such as ``100 <= clv < 500``;
* ``in [...]`` and ``not in [...]`` with a list of literals;
* ``is null`` / ``is not null`` (``None`` also reads as null);
* ``and``, ``or``, ``not`` and parentheses; a boolean column on its own (``refunder``);
* literals: strings in single or double quotes, numbers, ``true`` / ``false``, dates as
  ``date("2025-06-30")`` (or an ISO date string compared with a date column);
* ``opted_out("sms")``: the member opted out of that channel (the app-state ``opt_outs`` table).

The text goes through Python's own parser (:func:`ast.parse`, ``mode="eval"``) and a walker
that accepts only the node kinds above: a name that is not a column, a call to anything other
than ``date`` / ``opted_out``, arithmetic, attributes or subscripts are errors that name what
was found, where, and the fix. Nothing is ever passed to ``eval``.

:func:`parse` gives an :class:`Expression` (a tree of frozen nodes); :func:`check` types it
against a :class:`Columns` vocabulary (from an Ibis schema); :func:`compile_filter` turns it into
an Ibis boolean expression on a table, so it runs on DuckDB and on Spark alike.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.types as ir

from memberlens.exceptions import ExpressionError

__all__ = [
    "ALIASES",
    "And",
    "Column",
    "Columns",
    "Compare",
    "Expression",
    "IsNull",
    "Kind",
    "Membership",
    "Not",
    "OptedOut",
    "Or",
    "Value",
    "channels_of",
    "check",
    "columns_of",
    "compile_filter",
    "flag",
    "parse",
]

Kind = Literal["number", "string", "date", "timestamp", "boolean"]
Op = Literal["==", "!=", "<", "<=", ">", ">="]

#: names in the issue's example (and in marketers' habits) for columns the mart names otherwise
ALIASES: dict[str, str] = {
    "clv_12m": "clv",
    "days_since_last_order": "days_since_last",
}

_OPS: dict[type, Op] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_FLIP: dict[Op, Op] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NULL_NAMES = ("null", "None", "NULL")
_TRUE_NAMES = ("true", "True", "TRUE")
_FALSE_NAMES = ("false", "False", "FALSE")
MAX_LENGTH = 4000
MAX_LIST = 10_000


# -- the tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    at: int = field(default=0, compare=False)  # where the name starts in the text (0-based)


@dataclass(frozen=True)
class Value:
    """A literal: text, a number, a date, a boolean or null."""

    value: str | int | float | bool | dt.date | None
    kind: Kind | Literal["null"]
    at: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Compare:
    op: Op
    left: Column
    right: Value | Column


@dataclass(frozen=True)
class Membership:
    column: Column
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    column: Column
    negated: bool = False


@dataclass(frozen=True)
class OptedOut:
    channel: str


@dataclass(frozen=True)
class Truthy:
    """A boolean column on its own."""

    column: Column


@dataclass(frozen=True)
class Not:
    item: Expression


@dataclass(frozen=True)
class And:
    items: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expression, ...]


Expression = Compare | Membership | IsNull | OptedOut | Truthy | Not | And | Or


# -- parsing ----------------------------------------------------------------------------------
def _fail(text: str, at: int, message: str) -> ExpressionError:
    return ExpressionError(f"{message} (at character {at + 1} of the expression: {text!r})")


def parse(text: str) -> Expression:
    """The tree of ``text``; :class:`ExpressionError` naming the first thing not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(
            "the audience expression is empty; write a condition such as "
            "'segment_cn8 == \"important_value\" and clv > 500'"
        )
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the audience expression is {len(text):,} characters long; at most {MAX_LENGTH:,}"
        )
    source = " ".join(text.split())  # newlines inside a condition are fine
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        hint = ""
        if "=" in source and "==" not in source.replace("!=", "").replace("<=", "").replace(
            ">=", ""
        ):
            hint = "; compare with == (a single = is not a comparison)"
        elif "&&" in source or "||" in source:
            hint = "; write and / or instead of && / ||"
        at = max((exc.offset or 1) - 1, 0)
        raise _fail(source, at, f"not a valid condition: {exc.msg}{hint}") from None
    return _Walker(source).node(tree.body)


class _Walker:
    def __init__(self, text: str):
        self.text = text

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return _fail(self.text, getattr(node, "col_offset", 0), message)

    def node(self, node: ast.expr) -> Expression:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.node(v) for v in node.values)
            return And(items) if isinstance(node.op, ast.And) else Or(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Not(self.node(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return OptedOut(self.opted_out(node))
        if isinstance(node, ast.Name) and not self.is_literal_name(node.id):
            return Truthy(self.column(node))
        raise self.fail(node, f"{self.describe(node)} is not a condition; {_EXAMPLE}")

    def compare(self, node: ast.Compare) -> Expression:
        parts: list[Expression] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(self.pair(left, op, right))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def pair(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> Expression:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                raise self.fail(
                    right, "in needs a list of values in brackets, e.g. province in ['A', 'B']"
                )
            if len(right.elts) > MAX_LIST:
                raise self.fail(right, f"a list may hold at most {MAX_LIST:,} values")
            values = tuple(self.value(v) for v in right.elts)
            return Membership(self.column(left), values, isinstance(op, ast.NotIn))
        if isinstance(op, (ast.Is, ast.IsNot)):
            if not (isinstance(right, ast.Constant) and right.value is None) and not (
                isinstance(right, ast.Name) and right.id in _NULL_NAMES
            ):
                raise self.fail(right, "is / is not only test for null: write `x is null`")
            return IsNull(self.column(left), isinstance(op, ast.IsNot))
        symbol = _OPS[type(op)]
        if self.is_column(left):
            column, other = self.column(left), right
        elif self.is_column(right):
            column, other, symbol = self.column(right), left, _FLIP[symbol]
        else:
            for side in (left, right):
                if not isinstance(side, (ast.Constant, ast.UnaryOp, ast.Call, ast.Name)):
                    raise self.fail(side, f"expected a column name, found {self.describe(side)}")
            raise self.fail(left, "a comparison needs a column on one side, e.g. clv > 500")
        if self.is_column(other):
            return Compare(symbol, column, self.column(other))
        value = self.value(other)
        if value.kind == "null":
            if symbol not in ("==", "!="):
                raise self.fail(other, f"{symbol} null is always unknown; test `is null`")
            return IsNull(column, symbol == "!=")
        return Compare(symbol, column, value)

    def is_literal_name(self, name: str) -> bool:
        return name in _NULL_NAMES + _TRUE_NAMES + _FALSE_NAMES

    def is_column(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and not self.is_literal_name(node.id)

    def column(self, node: ast.expr) -> Column:
        if not self.is_column(node):
            raise self.fail(node, f"expected a column name, found {self.describe(node)}")
        assert isinstance(node, ast.Name)
        return Column(node.id, node.col_offset)

    def value(self, node: ast.expr) -> Value:
        at = node.col_offset
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand)
            if inner.kind != "number":
                raise self.fail(node, "only a number can be negative")
            assert isinstance(inner.value, (int, float))
            return Value(-inner.value, "number", at)
        if isinstance(node, ast.Constant):
            v = node.value
            if v is None:
                return Value(None, "null", at)
            if isinstance(v, bool):
                return Value(v, "boolean", at)
            if isinstance(v, (int, float)):
                return Value(v, "number", at)
            if isinstance(v, str):
                return Value(v, "string", at)
        if isinstance(node, ast.Name) and self.is_literal_name(node.id):
            if node.id in _NULL_NAMES:
                return Value(None, "null", at)
            return Value(node.id in _TRUE_NAMES, "boolean", at)
        if isinstance(node, ast.Call) and self.call_name(node) == "date":
            return Value(self.date(node), "date", at)
        raise self.fail(
            node,
            f"expected a value (text in quotes, a number, true/false, null or "
            f"date('YYYY-MM-DD')), found {self.describe(node)}",
        )

    def call_name(self, node: ast.Call) -> str | None:
        return node.func.id if isinstance(node.func, ast.Name) else None

    def text_argument(self, node: ast.Call, what: str) -> str:
        name = self.call_name(node)
        if (
            len(node.args) != 1
            or node.keywords
            or not isinstance(node.args[0], ast.Constant)
            or not isinstance(node.args[0].value, str)
        ):
            raise self.fail(node, f"{name}() takes one text in quotes: {what}")
        return node.args[0].value

    def date(self, node: ast.Call) -> dt.date:
        text = self.text_argument(node, "date('2025-06-30')")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise self.fail(
                node, f"date({text!r}) is not a date; write date('YYYY-MM-DD')"
            ) from None

    def opted_out(self, node: ast.Call) -> str:
        name = self.call_name(node)
        if name != "opted_out":
            raise self.fail(
                node,
                f"{self.describe(node.func)}() is not a function of the language; the "
                "functions are opted_out('sms') and date('YYYY-MM-DD')",
            )
        channel = self.text_argument(node, "opted_out('sms')").strip()
        if not channel:
            raise self.fail(node, "opted_out() needs a channel name, e.g. opted_out('sms')")
        return channel

    def describe(self, node: ast.AST) -> str:
        try:
            return f"`{ast.unparse(node)}`"
        except Exception:  # pragma: no cover - unparse handles every parsed node
            return type(node).__name__


_EXAMPLE = "write e.g. clv > 500, province in ['广东省'], not opted_out('sms')"


# -- types ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Columns:
    """What an expression may name: column -> kind, and aliases -> column."""

    kinds: Mapping[str, Kind]
    aliases: Mapping[str, str]

    def resolve(self, column: Column, text: str = "") -> tuple[str, Kind]:
        name = self.aliases.get(column.name, column.name)
        if name in self.kinds:
            return name, self.kinds[name]
        near = difflib.get_close_matches(column.name, [*self.kinds, *self.aliases], n=3, cutoff=0.6)
        fix = f"did you mean {' or '.join(near)}?" if near else "see `memberlens audience columns`"
        where = f" (at character {column.at + 1})" if text or column.at else ""
        raise ExpressionError(f"unknown column {column.name!r}{where}; {fix}")


def _kind(dtype) -> Kind | None:
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_numeric():
        return "number"
    if dtype.is_string():
        return "string"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_date():
        return "date"
    return None


def columns_of(schema: Mapping[str, object] | ibis.Schema) -> Columns:
    """The vocabulary of a table schema (columns of other types cannot be filtered on), with
    :data:`ALIASES` whose target is present and whose own name is not a column."""
    kinds: dict[str, Kind] = {}
    for name, dtype in schema.items():
        kind = _kind(dtype)
        if kind is not None:
            kinds[name] = kind
    aliases = {a: c for a, c in ALIASES.items() if c in kinds and a not in kinds}
    return Columns(kinds, aliases)


_COMPATIBLE: dict[str, tuple[str, ...]] = {
    "number": ("number",),
    "string": ("string",),
    "boolean": ("boolean",),
    "date": ("date", "timestamp"),
    "timestamp": ("date", "timestamp"),
}


def _literal(value: Value, name: str, kind: Kind) -> Value:
    """``value`` as a literal for a ``kind`` column, or an error naming both."""
    if value.kind in _COMPATIBLE[kind]:
        return value
    if kind in ("date", "timestamp") and value.kind == "string":
        assert isinstance(value.value, str)
        try:
            return Value(dt.date.fromisoformat(value.value), "date", value.at)
        except ValueError:
            pass
    shown = f"{value.value!r}" if value.kind != "null" else "null"
    fix = {
        "number": f"compare it with a number, e.g. {name} > 100",
        "string": f'put the value in quotes, e.g. {name} == "{value.value}"',
        "boolean": f"compare it with true or false, or write {name} on its own",
        "date": f"compare it with date('YYYY-MM-DD'), e.g. {name} >= date('2025-01-01')",
        "timestamp": f"compare it with date('YYYY-MM-DD'), e.g. {name} >= date('2025-01-01')",
    }[kind]
    raise ExpressionError(
        f"column {name!r} holds {kind} values, but is compared with {value.kind} {shown}; {fix}"
    )


def check(expr: Expression, columns: Columns) -> Expression:
    """``expr`` with every column resolved (aliases to columns) and every literal of the type
    its column holds; :class:`ExpressionError` for an unknown column or a wrong type."""
    if isinstance(expr, (And, Or)):
        return type(expr)(tuple(check(i, columns) for i in expr.items))
    if isinstance(expr, Not):
        return Not(check(expr.item, columns))
    if isinstance(expr, OptedOut):
        return expr
    if isinstance(expr, IsNull):
        name, _ = columns.resolve(expr.column)
        return IsNull(Column(name, expr.column.at), expr.negated)
    if isinstance(expr, Truthy):
        name, kind = columns.resolve(expr.column)
        if kind != "boolean":
            raise ExpressionError(
                f"column {name!r} holds {kind} values, not true/false; compare it, e.g. "
                f"{name} == ... or {name} is not null"
            )
        return Truthy(Column(name, expr.column.at))
    if isinstance(expr, Membership):
        name, kind = columns.resolve(expr.column)
        values = tuple(_literal(v, name, kind) for v in expr.values if v.kind != "null")
        if len(values) != len(expr.values):
            raise ExpressionError(
                f"{name} in [...] holds null; test nulls with `{name} is null` instead"
            )
        if kind == "boolean":
            raise ExpressionError(f"column {name!r} is true/false: compare it with == instead")
        return Membership(Column(name, expr.column.at), values, expr.negated)
    assert isinstance(expr, Compare)
    name, kind = columns.resolve(expr.left)
    if isinstance(expr.right, Column):
        other, other_kind = columns.resolve(expr.right)
        if other_kind not in _COMPATIBLE[kind]:
            raise ExpressionError(
                f"columns {name!r} ({kind}) and {other!r} ({other_kind}) cannot be compared"
            )
        return Compare(expr.op, Column(name, expr.left.at), Column(other, expr.right.at))
    value = _literal(expr.right, name, kind)
    if kind == "boolean" and expr.op not in ("==", "!="):
        raise ExpressionError(f"column {name!r} is true/false: compare it with == or !=")
    return Compare(expr.op, Column(name, expr.left.at), value)


def column_names(expr: Expression) -> set[str]:
    """The columns ``expr`` names (as written, before aliases)."""
    if isinstance(expr, (And, Or)):
        return set().union(*(column_names(i) for i in expr.items))
    if isinstance(expr, Not):
        return column_names(expr.item)
    if isinstance(expr, (IsNull, Truthy, Membership)):
        return {expr.column.name}
    if isinstance(expr, Compare):
        right = {expr.right.name} if isinstance(expr.right, Column) else set()
        return {expr.left.name} | right
    return set()


def channels_of(expr: Expression) -> set[str]:
    """The channels of every ``opted_out(...)`` in ``expr``."""
    if isinstance(expr, (And, Or)):
        return set().union(*(channels_of(i) for i in expr.items))
    if isinstance(expr, Not):
        return channels_of(expr.item)
    return {expr.channel} if isinstance(expr, OptedOut) else set()


# -- compiling --------------------------------------------------------------------------------
def _ibis_value(value: Value, kind: Kind) -> object:
    if kind == "timestamp" and isinstance(value.value, dt.date):
        return ibis.timestamp(dt.datetime.combine(value.value, dt.time()))
    if kind == "date" and isinstance(value.value, dt.date):
        return ibis.date(value.value)
    return value.value


def compile_filter(
    expr: Expression,
    table: ir.Table,
    *,
    columns: Columns | None = None,
    opted_out: Callable[[str], ir.Column] | None = None,
) -> ir.BooleanValue:
    """The Ibis condition of a checked ``expr`` on ``table``. ``opted_out(channel)`` gives the
    column of member ids that opted out of ``channel`` (e.g. from an Ibis memtable).

    SQL's three-valued logic is kept readable: a comparison with a missing value is false, so
    ``not (clv > 500)`` holds members whose clv is missing too. The result may be unknown (null)
    where it is false: a filter drops both; use :func:`flag` for a true/false column. Plain
    comparisons stay plain so the engine can push them into its scan (zone maps)."""
    vocabulary = columns or columns_of(table.schema())
    expr = check(expr, vocabulary)

    def walk(node: Expression) -> ir.BooleanValue:
        if isinstance(node, And):
            out = walk(node.items[0])
            for item in node.items[1:]:
                out = out & walk(item)
            return out
        if isinstance(node, Or):
            out = walk(node.items[0])
            for item in node.items[1:]:
                out = out | walk(item)
            return out
        if isinstance(node, Not):
            # unknown (a comparison with a missing value) counts as false before negating
            return ~walk(node.item).fill_null(False)
        if isinstance(node, OptedOut):
            if opted_out is None:
                raise ExpressionError(
                    "opted_out() needs the app-state store; evaluate the audience through "
                    "memberlens.activation.audiences"
                )
            return table.member_id.isin(opted_out(node.channel))
        if isinstance(node, IsNull):
            col = table[node.column.name]
            return col.notnull() if node.negated else col.isnull()
        if isinstance(node, Truthy):
            return table[node.column.name]
        kind = vocabulary.kinds[
            node.column.name if isinstance(node, Membership) else node.left.name
        ]
        if isinstance(node, Membership):
            col = table[node.column.name]
            values = [_ibis_value(v, kind) for v in node.values]
            if not values:  # nothing is in an empty list; a missing value is not "not in" it
                return col.notnull() if node.negated else ibis.literal(False)
            hit = col.isin(values)
            return col.notnull() & ~hit if node.negated else hit
        col = table[node.left.name]
        right = (
            table[node.right.name]
            if isinstance(node.right, Column)
            else _ibis_value(node.right, kind)
        )
        result = {
            "==": lambda: col == right,
            "!=": lambda: col != right,
            "<": lambda: col < right,
            "<=": lambda: col <= right,
            ">": lambda: col > right,
            ">=": lambda: col >= right,
        }[node.op]()
        return result

    return walk(expr)


def flag(condition: ir.BooleanValue) -> ir.BooleanValue:
    """``condition`` as a true/false value (unknown is false), e.g. to select or group by."""
    return condition.fill_null(False)
