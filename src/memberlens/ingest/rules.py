"""Validation and cleaning of one source, as Ibis expressions (the same on DuckDB and Spark).

:func:`prepare` renames the mapped source columns to canonical names and normalises text in
Arrow (trim, date spellings such as ``2024年1月5日`` or ``19970101``, currency symbols and thousands
separators). :func:`stage` types every field in the engine with ``try_cast`` (the loader stores
the result once); :func:`failures` lists each rule's condition over the typed stage, and a row
gets the first rule it breaks, in :data:`RULES` order, with the field and a reason (:func:`check`
is all of it as one lazy expression). Exact duplicate lines and repeated keys are marked, not
quarantined: they are dropped and counted (:func:`duplicate_marks`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from memberlens.ingest.days import DEFAULT_DAY_ONE, day_text
from memberlens.ingest.mapping import Mapping
from memberlens.ingest.sources import LINE
from memberlens.schema import IBIS_TYPES, FieldSpec, TableSpec

#: quarantine rules, in the order they are checked; a row gets the first one it breaks.
RULES: dict[str, str] = {
    "missing_required": "a required field is empty",
    "value_too_long": "longer than the limit for the field",
    "bad_number": "not a number",
    "bad_date": "not a date or time",
    "bad_value": "not one of the accepted values",
    "date_too_old": "dated before 1990 (birthdays: before 1900)",
    "date_in_future": "dated after the load",
    "negative_amount": "a negative amount on a row that is not a refund or return",
    "out_of_range": "outside the plausible range of amounts",
}
#: reasons for dropping a row without quarantining it.
DUPLICATES: dict[str, str] = {
    "duplicate_line": "the same line appears earlier in the file",
    "duplicate_key": "the key appears earlier in the file",
    "already_stored": "the key is stored already from an earlier load",
}
FIXES: dict[str, str] = {
    "missing_required": "fill the field in the source, or drop the row",
    "value_too_long": "check the column mapping and the quoting of the source, or raise "
    "max_id_length / max_text_length under [ingest] in memberlens.toml",
    "bad_number": "write plain numbers such as 1234.50",
    "bad_date": "write dates as YYYY-MM-DD [HH:MM[:SS]]",
    "bad_value": "use one of the accepted values or add the spelling under [values] in the mapping",
    "date_too_old": "check the date (or its format)",
    "date_in_future": "check the date, the time zone, or the load date",
    "negative_amount": "mark the row as a refund (status) or correct the sign",
    "out_of_range": "check the value (and its unit); raise max_amount under [ingest] in "
    "memberlens.toml if such amounts are real",
}

RAW = "_raw_"
#: values of optional fields when the source leaves them empty (the data contract's defaults).
DEFAULTS: dict[tuple[str, str], str] = {("orders", "status"): "paid"}
MIN_TIMESTAMP = dt.datetime(1990, 1, 1)
#: how much of a value a quarantine reason quotes, and a quarantined field keeps.
REASON_CHARS = 60
QUARANTINE_CHARS = 1000
MIN_DATE = dt.date(1900, 1, 1)

_YMD = r"^(\d{4})[./年-](\d{1,2})[./月-](\d{1,2})日?"
_COMPACT = r"^(\d{4})(\d{2})(\d{2})($|[ T])"
_XY_YEAR = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})"


@dataclass(frozen=True)
class Limits:
    """Plausible values (``[ingest]`` in ``memberlens.toml``): larger ones are quarantined."""

    #: the largest absolute amount, price or quantity (``out_of_range``).
    max_amount: float = 10_000_000
    #: the longest identifier (``*_id`` fields, ``refund_of``; ``value_too_long``).
    max_id_length: int = 128
    #: the longest other text (names, pages, comments; ``value_too_long``).
    max_text_length: int = 10_000


@dataclass(frozen=True)
class Context:
    """What the checks need to know besides the rows."""

    load_time: dt.datetime
    #: Ibis table of the stored rows of the same table (for ``already_stored``), or None.
    stored: ir.Table | None = None
    limits: Limits = Limits()
    #: drop lines equal in every field to an earlier line (tables with a key always drop a
    #: repeated key; without a key, ``False`` keeps repeated lines such as two scans of an item).
    drop_duplicate_lines: bool = True


def is_identifier(f: FieldSpec) -> bool:
    """An identifier field (bounded by ``max_id_length``)."""
    return f.name.endswith("_id") or f.name == "refund_of"


def cut(value: ir.StringValue, n: int) -> ir.StringValue:
    """``value`` cut to ``n`` characters, with a mark saying how long it was."""
    length = value.length()
    return ibis.ifelse(
        length > n,
        value.substr(0, n) + ibis.literal("…(") + length.cast("string") + " characters)",
        value,
    )


def prepare(
    raw: pa.Table,
    mapping: Mapping,
    spec: TableSpec,
    timezone: str | None = None,
    day_one: dt.date = DEFAULT_DAY_ONE,
) -> pa.Table:
    """Canonical column names, text normalised; one ``_raw_<field>`` text column per field.
    Times written with a zone are converted to ``timezone`` (the project's); day numbers (and
    their clock times) become dates counted from ``day_one`` (:mod:`memberlens.ingest.days`)."""
    cols: dict[str, pa.Array] = {}
    n = raw.num_rows
    for f in spec.fields:
        source = mapping.columns.get(f.name)
        if source is None:
            continue
        col = raw.column(source).combine_chunks()
        text = _as_text(col)
        if f.name in mapping.days or f.name in mapping.times:
            clock = mapping.times.get(f.name)
            time = _as_text(raw.column(clock).combine_chunks()) if clock else None
            if f.name in mapping.days:
                text = day_text(text, time, day_one)
            elif time is not None:
                text = pc.if_else(
                    pc.is_null(time), text, pc.binary_join_element_wise(text, time, " ")
                )
            col = text
        cols[RAW + f.name] = text
        if f.type in ("timestamp", "date") and pa.types.is_string(col.type):
            cols[f.name] = normalise_dates(text, timezone if f.type == "timestamp" else None)
        elif f.type in ("decimal", "float", "integer") and pa.types.is_string(col.type):
            cols[f.name] = normalise_numbers(text)
        elif f.values and f.name in mapping.values:
            cols[f.name] = text  # recoded in the engine with the user's spellings
        elif pa.types.is_string(col.type) or f.type == "string":
            cols[f.name] = text
        else:
            cols[f.name] = col
    cols[LINE] = raw.column(LINE).combine_chunks()
    return pa.table(cols) if cols else pa.table({LINE: pa.array(range(n), pa.int64())})


def _as_text(col: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        text = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_floating(col.type) or (
        not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type)
    ):
        text = col.cast(pa.string())
    else:
        text = col.cast(pa.string())
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def normalise_numbers(text: pa.Array) -> pa.Array:
    """Drop currency signs, thousands separators and spaces (one pass only when needed)."""
    if not pc.any(pc.match_substring_regex(text, r"[^0-9.eE+-]")).as_py():
        return text
    return pc.replace_substring_regex(text, r"[¥￥$€£,，\s元]|^RMB|^CNY", "")


_ISO = r"^\d{4}-\d{2}-\d{2}(?:$|[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$)"


#: a time with a zone: ``Z``, ``+08:00``, ``+0800`` or ``-05`` after the clock time.
ZONED = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"
_ZONE_PARTS = r"^(?P<base>.*?\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?)$"


def normalise_dates(text: pa.Array, timezone: str | None = None) -> pa.Array:
    """Rewrite common date spellings as ISO ``YYYY-MM-DD[ HH:MM:SS]`` for the engine's cast.

    A time with a zone (``2024-01-05T02:00:00Z``, ``...+08:00``) is converted to ``timezone``
    (the project's) and written without it; without a ``timezone`` it is left for the engine to
    refuse (``bad_date``), never cut silently.
    """
    if timezone is not None:
        text = to_local_time(text, timezone)
    if pc.all(pc.match_substring_regex(text, _ISO)).as_py():
        return text  # already ISO everywhere (nulls are skipped): nothing to rewrite
    out = pc.replace_substring_regex(text, _YMD, r"\1-\2-\3")
    out = pc.replace_substring_regex(out, _COMPACT, r"\1-\2-\3\4")
    matches = pc.match_substring_regex(pc.fill_null(text, ""), _XY_YEAR)
    if pc.any(matches).as_py():
        day_first = _day_first(text.filter(matches))
        target = r"\3-\2-\1" if day_first else r"\3-\1-\2"
        out = pc.replace_substring_regex(out, _XY_YEAR, target)
    out = pc.replace_substring_regex(out, r"(\d)T(\d)", r"\1 \2")
    return pc.replace_substring_regex(out, r"\s+", " ")


def to_local_time(text: pa.Array, timezone: str) -> pa.Array:
    """Times with a zone as wall-clock times in ``timezone`` (ISO text); others unchanged."""
    zoned = pc.fill_null(pc.match_substring_regex(text, ZONED), False)
    if not pc.any(zoned).as_py():
        return text
    parts = pc.extract_regex(text.filter(zoned), _ZONE_PARTS)
    base = pc.replace_substring_regex(parts.field("base"), r"(\d)T(\d)", r"\1 \2")
    base = pc.replace_substring_regex(base, r"^(\S+ \d{1,2}:\d{2})$", r"\1:00")
    naive = pc.strptime(
        pc.replace_substring_regex(base, r"\.\d+$", ""),
        format="%Y-%m-%d %H:%M:%S",
        unit="s",
        error_is_null=True,
    )
    sign = pc.if_else(pc.equal(parts.field("sign"), "-"), -1, 1)
    minutes = pc.add(
        pc.multiply(
            pc.cast(
                pc.fill_null(
                    pc.if_else(pc.equal(parts.field("hh"), ""), "0", parts.field("hh")), "0"
                ),
                pa.int64(),
            ),
            60,
        ),
        pc.cast(
            pc.fill_null(pc.if_else(pc.equal(parts.field("mm"), ""), "0", parts.field("mm")), "0"),
            pa.int64(),
        ),
    )
    offset = pc.multiply(pc.multiply(pc.fill_null(sign, 1), minutes), 60)
    utc = pc.subtract(pc.cast(naive, pa.int64()), offset)
    local = pc.local_timestamp(
        pc.cast(utc, pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s", tz=timezone))
    )
    shown = pc.strftime(local, format="%Y-%m-%d %H:%M:%S")
    shown = pc.if_else(pc.is_null(naive), text.filter(zoned), shown)  # unreadable: left as is
    return pc.replace_with_mask(text, zoned, shown)


def _day_first(values: pa.Array) -> bool:
    """Whether ``a/b/YYYY`` dates are day-first: any first part above 12 says so (default: month first)."""
    parts = [re.match(_XY_YEAR, v) for v in values[:20000].to_pylist()]
    firsts = [int(m.group(1)) for m in parts if m]
    seconds = [int(m.group(2)) for m in parts if m]
    return any(x > 12 for x in firsts) and not any(x > 12 for x in seconds)


#: an id written as a number with a zero fraction (``17850.0``): how spreadsheet tools and
#: pandas write integer ids of a column that has gaps (the UCI Online Retail export's CustomerID).
FLOAT_ID = r"^-?\d+\.0+$"
#: rows whose ids decide whether a column holds float-written ids (the first ones of the file).
FLOAT_ID_SAMPLE = 10_000


def float_written_ids(table: ir.Table, spec: TableSpec) -> tuple[str, ...]:
    """The id fields whose first :data:`FLOAT_ID_SAMPLE` non-empty values are all written as
    numbers with a zero fraction (``17850.0``): :func:`stage` reads them as ``17850``, so that
    they match the same ids written plainly in another export (the members file)."""
    names = [
        f.name
        for f in spec.fields
        if is_identifier(f) and f.type == "string" and not f.pii and RAW + f.name in table.columns
    ]
    out = []
    for n in names:
        raw = table[RAW + n]
        head = table.filter(raw.notnull()).select(v=raw).limit(FLOAT_ID_SAMPLE).to_pyarrow()
        values = head.column("v")
        if len(values) and pc.all(pc.match_substring_regex(values, FLOAT_ID)).as_py():
            out.append(n)
    return tuple(out)


def float_ids_note(fields: tuple[str, ...], mapping: Mapping) -> str:
    """The load report's note on ids read without their ``.0``."""
    cols = ", ".join(mapping.columns.get(f, f) for f in fields)
    return (
        f"{cols}: ids written as numbers with a zero fraction (17850.0) are stored without it "
        "(17850), so that they match the same ids in other exports"
    )


def stage(
    table: ir.Table,
    spec: TableSpec,
    *,
    recode: dict | None = None,
    float_ids: tuple[str, ...] = (),
) -> ir.Table:
    """The typed stage: the part of the checks worth computing once and storing.

    ``_line`` (when ``table`` has it), ``_raw_<field>`` for every field the source provides,
    ``__<field>`` for every such field whose typed value is not its text (dates, numbers, coded
    values), and the ``<field>_masked`` columns of personal data. The loader materialises it, so
    each ``try_cast`` runs once; the rules then read the stored typed columns.
    """
    recode = recode or {}
    present = _present(table)
    cols: dict[str, ir.Value] = {}
    if LINE in table.columns:
        cols[LINE] = table[LINE]
    for f in spec.fields:
        if f.name in present:
            raw = table[RAW + f.name]
            if f.name in float_ids:
                raw = ibis.ifelse(raw.re_search(FLOAT_ID), raw.re_replace(r"\.0+$", ""), raw)
            cols[RAW + f.name] = raw
    for f in spec.fields:
        if f.name not in present or _is_text(f):
            continue
        source = table[f.name] if f.name in table.columns else table[RAW + f.name]
        value = typed_value(source, f, recode.get(f.name, {}))
        default = DEFAULTS.get((spec.name, f.name))
        if default is not None:
            value = ibis.ifelse(table[RAW + f.name].isnull(), ibis.literal(default), value)
        cols[f"__{f.name}"] = value
    for f in spec.pii_fields:
        if f"{f.name}_masked" in table.columns:
            cols[f"{f.name}_masked"] = table[f"{f.name}_masked"]
    return table.select(**cols)


def typed_values(staged: ir.Table, spec: TableSpec) -> dict[str, ir.Value]:
    """Every field's typed value over a stage: stored typed column, the text, or the default."""
    out: dict[str, ir.Value] = {}
    for f in spec.fields:
        if f"__{f.name}" in staged.columns:
            out[f.name] = staged[f"__{f.name}"]
        elif RAW + f.name in staged.columns:
            out[f.name] = staged[RAW + f.name].cast(IBIS_TYPES[f.type])
        else:
            default = DEFAULTS.get((spec.name, f.name))
            out[f.name] = (
                ibis.literal(default) if default is not None else ibis.null(IBIS_TYPES[f.type])
            )
    return out


def failures(staged: ir.Table, spec: TableSpec, ctx: Context) -> list[tuple[str, str, ir.Value]]:
    """(rule, field, condition) for every check that applies, in :data:`RULES` order."""
    present = _present(staged)
    typed = typed_values(staged, spec)
    found: list[tuple[str, str, ir.BooleanValue]] = []
    for f in spec.fields:
        if f.name not in present:
            continue
        raw = staged[RAW + f.name]
        value = typed[f.name]
        if f.required:
            found.append(("missing_required", f.name, raw.isnull()))
        if f.type == "string" and not f.pii:
            longest = ctx.limits.max_id_length if is_identifier(f) else ctx.limits.max_text_length
            found.append(("value_too_long", f.name, raw.length() > longest))
        if f.type in ("decimal", "float", "integer"):
            found.append(("bad_number", f.name, raw.notnull() & value.isnull()))
        elif f.type in ("timestamp", "date"):
            found.append(("bad_date", f.name, raw.notnull() & value.isnull()))
        elif f.values and _strict(f):
            found.append(("bad_value", f.name, raw.notnull() & value.isnull()))
    for f in spec.fields:
        if f.name in present and f.type in ("timestamp", "date"):
            v = typed[f.name]
            low = MIN_DATE if f.type == "date" else MIN_TIMESTAMP
            found.append(("date_too_old", f.name, v < ibis.literal(low)))
            if not _future_ok(spec, f):
                limit = ctx.load_time.date() if f.type == "date" else ctx.load_time
                found.append(("date_in_future", f.name, v > ibis.literal(limit)))
    found += _negative_rules(spec, typed, present)
    for f in spec.fields:
        if f.name in present and f.type == "decimal":
            bound = ibis.literal(ctx.limits.max_amount).cast(IBIS_TYPES[f.type])
            found.append(("out_of_range", f.name, typed[f.name].abs() > bound))
    return sorted(found, key=lambda x: list(RULES).index(x[0]))


def rule_of(found) -> ir.StringValue:
    """The first rule a row breaks (null when it breaks none)."""
    if not found:
        return ibis.null("string")
    return ibis.cases(
        *[(cond.fill_null(False), name) for name, _, cond in found], else_=ibis.null("string")
    )


def field_of(found) -> ir.StringValue:
    """The field of the first rule a row breaks."""
    if not found:
        return ibis.null("string")
    return ibis.cases(
        *[(cond.fill_null(False), fname) for _, fname, cond in found], else_=ibis.null("string")
    )


def check(
    table: ir.Table, spec: TableSpec, ctx: Context, *, recode: dict | None = None
) -> ir.Table:
    """Typed columns plus ``_rule``, ``_field``, ``_reason`` (null when the row is valid) and ``_dup``.

    One lazy expression (the stage is not stored): right for previews and small tables; the
    loader stores :func:`stage` first and applies the same rules to it.
    """
    staged = stage(table, spec, recode=recode)
    found = failures(staged, spec, ctx)
    typed = typed_values(staged, spec)
    out = staged.mutate(
        **{f"__{k}": v for k, v in typed.items()},
        _rule=rule_of(found),
        _field=field_of(found),
        _reason=reason(staged, found),
    )
    dups = _duplicates(staged, spec, _present(staged), ctx.drop_duplicate_lines)
    if dups is None:
        return out.mutate(_dup=ibis.null("string"))
    joined = out.left_join(dups, out[LINE] == dups["__dup_line"])
    return joined.drop("__dup_line")


def duplicate_marks(staged: ir.Table, spec: TableSpec, ctx: Context) -> ir.Table | None:
    """(``__dup_line``, ``_dup``) for every line that is dropped as a duplicate: repeated in the
    file (:func:`_duplicates`) or, for a valid first line, stored already by an earlier load."""
    present = _present(staged)
    dups = _duplicates(staged, spec, present, ctx.drop_duplicate_lines)
    if not spec.key or ctx.stored is None or not all(k in present for k in spec.key):
        return dups
    typed = typed_values(staged, spec)
    valid = staged.mutate(
        _rule=rule_of(failures(staged, spec, ctx)), **{f"__k_{k}": typed[k] for k in spec.key}
    )
    valid = valid.filter(valid._rule.isnull())
    if dups is not None:
        valid = valid.anti_join(dups, valid[LINE] == dups["__dup_line"])
    stored_keys = ctx.stored.select(*[ctx.stored[k].name(f"__s_{k}") for k in spec.key]).distinct()
    hits = valid.semi_join(
        stored_keys, [valid[f"__k_{k}"] == stored_keys[f"__s_{k}"] for k in spec.key]
    )
    already = hits.select(__dup_line=hits[LINE], _dup=ibis.literal("already_stored"))
    return already if dups is None else dups.union(already)


def _present(table: ir.Table) -> set[str]:
    return {c[len(RAW) :] for c in table.columns if c.startswith(RAW)}


def _is_text(f: FieldSpec) -> bool:
    """Free-text fields: the typed value is the cleaned text itself (nothing to store twice)."""
    return f.type == "string" and not f.values


def _duplicates(
    table: ir.Table, spec: TableSpec, present: set[str], drop_lines: bool = True
) -> ir.Table | None:
    """(``__dup_line``, ``_dup``) for every line but the first of its key.

    Lines are grouped by the key's source text (all fields for tables without a key): a later
    line equal to the first in every field is a ``duplicate_line``, otherwise a
    ``duplicate_key``. The first line of a key wins even when it is quarantined (fix it in the
    source and load again); lines without a key are left to ``missing_required``; in a table
    without a key, lines equal in every field (empty ones too) are duplicates. A hash
    aggregate finds the repeated keys first, so the exact, ordered window only runs over those
    lines (usually few), not over the whole file. A key of several fields is grouped by one
    64-bit hash of them (cheaper than grouping several texts); a collision only adds a candidate
    that the window tells apart. With ``drop_lines=False`` a table without a key keeps every line.
    """
    if not spec.key and not drop_lines:
        return None
    raw_names = [RAW + n for n in spec.names if n in present]
    key_names = [RAW + k for k in spec.key if k in present] if spec.key else raw_names
    if not key_names:
        return None

    # (each side reads ``table`` by its own path: a shared filtered table would become a CTE,
    # which DuckDB materialises in full)
    def has_key(t):
        return ibis.and_(*[t[k].notnull() for k in key_names])

    agg = table.filter(has_key(table)) if spec.key else table
    if len(key_names) > 1 or not spec.key:  # several fields (or NULLs, which do not join): hash

        def key_hash(t):
            return ibis.struct({n: t[n] for n in key_names}).hash()

        repeated = agg.group_by(__h=key_hash(agg)).aggregate(__n=ibis._.count())
        repeated = repeated.filter(repeated.__n > 1).select("__h")
        lines = table.mutate(__h=key_hash(table)).semi_join(repeated, "__h")
        if spec.key:
            lines = lines.filter(has_key(lines))
    else:
        repeated = agg.group_by(key_names).aggregate(__n=ibis._.count())
        repeated = repeated.filter(repeated.__n > 1).select(key_names)
        lines = table.semi_join(repeated, key_names)  # a NULL key joins nothing
    lines = lines.select(LINE, *raw_names)
    window = ibis.window(group_by=[lines[k] for k in key_names], order_by=lines[LINE])
    rank = ibis.row_number().over(window)
    same = ibis.and_(*[lines[r].first().over(window).identical_to(lines[r]) for r in raw_names])
    marked = lines.select(
        __dup_line=lines[LINE],
        _dup=ibis.cases(
            ((rank > 0) & same, "duplicate_line"),
            (rank > 0, "duplicate_key"),
            else_=ibis.null("string"),
        ),
    )
    return marked.filter(marked._dup.notnull())


def _strict(f: FieldSpec) -> bool:
    return f.name == "status"


def _future_ok(spec: TableSpec, f: FieldSpec) -> bool:
    return spec.name == "campaigns"


def typed_value(col: ir.Value, f: FieldSpec, user_values: dict[str, str]) -> ir.Value:
    """``col`` (text, or the source's own type) as field ``f``'s type: ``try_cast`` of text,
    coded values through their spellings (``user_values``, from the mapping, take precedence)."""
    target = IBIS_TYPES[f.type]
    if f.values:
        spellings = {s.lower(): canon for canon, options in f.values.items() for s in options}
        spellings.update({canon.lower(): canon for canon in f.values})
        spellings.update({k.lower(): v for k, v in user_values.items()})
        # the same mapping with the canonical spellings tested first (the usual case)
        first = [c.lower() for c in f.values if c.lower() in spellings]
        spellings = {**{k: spellings[k] for k in first}, **spellings}
        key = col.cast("string").lower()  # the text is trimmed already
        mapped = key.substitute(spellings, else_=ibis.null("string"))
        return mapped
    if f.type == "string":
        return col.cast("string")
    if col.type().is_string() and f.type == "timestamp":
        # a time with a zone is converted (normalise_dates), never cast with its zone cut off
        zoned = col.re_search(ZONED).fill_null(False)
        return ibis.ifelse(zoned, ibis.null(target), col.try_cast(target))
    if col.type().is_string():
        return col.try_cast(target)
    return col.cast(target)


def _negative_rules(spec: TableSpec, typed: dict[str, ir.Value], present: set[str]):
    rules = []
    if spec.name == "orders" and "amount" in present:
        status = typed["status"] if "status" in present else ibis.literal("paid")
        rules.append(
            (
                "negative_amount",
                "amount",
                (typed["amount"] < 0) & (status.fill_null("paid") != "refunded"),
            )
        )
    elif spec.name == "order_items":
        qty = typed["quantity"] if "quantity" in present else ibis.literal(1)
        is_return = (qty < 0) | typed["order_id"].cast("string").upper().startswith("C")
        if "unit_price" in present:
            rules.append(("negative_amount", "unit_price", typed["unit_price"] < 0))
        if "amount" in present:
            rules.append(("negative_amount", "amount", (typed["amount"] < 0) & ~is_return))
    for f in spec.fields:
        if f.name in present and not f.allow_negative and f.type in ("decimal", "float", "integer"):
            rules.append(("negative_amount", f.name, typed[f.name] < 0))
    return rules


def reason(table: ir.Table, found) -> ir.StringValue:
    """The value, the rule and the fix, for the first rule a row breaks."""
    if not found:
        return ibis.null("string")
    branches = []
    for name, fname, cond in found:
        # personal fields show their masked form; every value is cut to a bounded length
        shown = f"{fname}_masked" if f"{fname}_masked" in table.columns else RAW + fname
        value = cut(table[shown].cast("string").fill_null(""), REASON_CHARS)
        text = (
            ibis.literal(f"{fname}=") + value + ibis.literal(f": {RULES[name]}; fix: {FIXES[name]}")
        )
        branches.append((cond.fill_null(False), text))
    return ibis.cases(*branches, else_=ibis.null("string"))


def mark_key_duplicates(checked: ir.Table, spec: TableSpec, ctx: Context) -> ir.Table:
    """Mark valid first lines whose key is stored already from an earlier load (``already_stored``)."""
    if not spec.key or ctx.stored is None:
        return checked
    stored_keys = ctx.stored.select(*[ctx.stored[k].name(f"__k_{k}") for k in spec.key]).distinct()
    stored_keys = stored_keys.mutate(__stored=ibis.literal(True))
    pred = [checked[f"__{k}"] == stored_keys[f"__k_{k}"] for k in spec.key]
    joined = checked.left_join(stored_keys, pred)
    hit = joined["__stored"].fill_null(False)
    joined = joined.mutate(
        _dup=ibis.cases(
            (joined._dup.notnull(), joined._dup),
            (hit & joined._rule.isnull(), "already_stored"),
            else_=ibis.null("string"),
        )
    )
    return joined.drop("__stored", *[f"__k_{k}" for k in spec.key])
