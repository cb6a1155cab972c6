"""Day numbers and clock times, as CRM exports write them, read as dates at the edge.

dunnhumby's "The Complete Journey" (and many loyalty-program extracts) give no calendar date:
``DAY`` counts days (1, 2, ..., 711), ``START_DAY``/``END_DAY`` bound campaigns, and
``TRANS_TIME`` is the clock time as ``HHMM`` (``1631`` = 16:31, ``40`` = 00:40). A column mapped
to a date or time field is read as day numbers when its header says so (:data:`DAY_HEADERS`),
or when the mapping file lists the field under ``[day_numbers]``. Day 1 is
``[ingest] day_one`` in ``memberlens.toml`` (default :data:`DEFAULT_DAY_ONE`: a placeholder
the load report names, since such exports do not say which date day 1 was). A clock-time column
(``[time_of_day]`` in the mapping, found automatically by :data:`TIME_HEADERS` next to a
day-number column) is added to the date.

Both readers produce the same text: ISO ``YYYY-MM-DD[ HH:MM:SS]``, or, for a value that is not a
day number (or a clock time that is not one), the value as written, which the ``bad_date`` rule
then quarantines with its line. :func:`day_text` works on Arrow arrays (files read into Arrow);
:func:`day_sql` writes the same as DuckDB SQL (files DuckDB reads itself).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

#: day 1 when ``[ingest] day_one`` is not set: a placeholder, named in the load report's note.
DEFAULT_DAY_ONE = dt.date(2000, 1, 1)

#: normalised headers (see :func:`memberlens.schema.normalise_header`) of day-number columns.
DAY_HEADERS = frozenset(
    {"day", "daynumber", "dayno", "daynum", "dayindex", "startday", "endday", "dayid"}
)
#: normalised headers of clock-time columns that go with a day-number column.
TIME_HEADERS = frozenset(
    {"transtime", "transactiontime", "time", "timeofday", "clocktime", "hhmm", "ordertime"}
)

_DAY = r"^\d{1,5}$"
_HHMM = r"^\d{1,4}$"
_CLOCK = r"^\d{1,2}:\d{2}(?::\d{2})?$"
_EPOCH = dt.date(1970, 1, 1)


def note(columns: dict[str, str], day_one: dt.date, times: dict[str, str]) -> str:
    """The load report's note on the columns read as day numbers (``{field: column}``)."""
    read = ", ".join(
        f"{col}" + (f" (+ {times[name]} as HHMM)" if name in times else "")
        for name, col in columns.items()
    )
    placeholder = (
        " (a placeholder: set the real date of day 1 there if you know it; results "
        "that depend on the calendar, such as festivals and weekdays, follow it)"
        if day_one == DEFAULT_DAY_ONE
        else ""
    )
    verb = "holds" if len(columns) == 1 else "hold"
    return (
        f"{read} {verb} day numbers: day 1 is read as {day_one.isoformat()} "
        f"([ingest] day_one in memberlens.toml){placeholder}"
    )


def day_text(day: pa.Array, time: pa.Array | None, day_one: dt.date) -> pa.Array:
    """ISO dates (with the clock time, if given) of day-number text; other values unchanged."""
    is_day = pc.fill_null(pc.match_substring_regex(day, _DAY), False)
    number = pc.cast(pc.if_else(is_day, day, "1"), pa.int64())
    epoch_days = pc.add(number, (day_one - _EPOCH).days - 1)
    dates = pc.strftime(
        pc.cast(pc.cast(pc.cast(epoch_days, pa.int32()), pa.date32()), pa.timestamp("s")),
        format="%Y-%m-%d",
    )
    if time is None:
        return pc.if_else(is_day, dates, day)
    clock = clock_text(time)
    with_time = pc.if_else(
        pc.is_null(time),
        dates,
        pc.if_else(
            pc.is_null(clock),
            pc.binary_join_element_wise(day, time, " "),
            pc.binary_join_element_wise(dates, clock, " "),
        ),
    )
    return pc.if_else(is_day, with_time, day)


def clock_text(time: pa.Array) -> pa.Array:
    """``HH:MM:SS`` of ``HHMM`` text (``1631``, ``40``), ``HH:MM[:SS]`` kept; else null."""
    hhmm = pc.fill_null(pc.match_substring_regex(time, _HHMM), False)
    value = pc.cast(pc.if_else(hhmm, time, "0"), pa.int64())
    hours, minutes = (
        pc.divide(value, 100),
        pc.subtract(value, pc.multiply(pc.divide(value, 100), 100)),
    )
    valid = pc.and_(hhmm, pc.and_(pc.less(hours, 24), pc.less(minutes, 60)))

    def two(v: pa.Array) -> pa.Array:
        return pc.utf8_lpad(pc.cast(v, pa.string()), width=2, padding="0")

    shown = pc.binary_join_element_wise(two(hours), two(minutes), "00", ":")
    clock = pc.fill_null(pc.match_substring_regex(time, _CLOCK), False)
    return pc.if_else(valid, shown, pc.if_else(clock, time, pa.scalar(None, pa.string())))


def day_sql(day: str, time: str | None, day_one: dt.date) -> str:
    """:func:`day_text` as a DuckDB SQL expression over text expressions ``day`` and ``time``."""
    date = (
        f"strftime(DATE '{day_one.isoformat()}' + (TRY_CAST({day} AS BIGINT) - 1)::INTEGER, "
        "'%Y-%m-%d')"
    )
    if time is None:
        return f"CASE WHEN regexp_full_match({day}, '\\d{{1,5}}') THEN {date} ELSE {day} END"
    v = f"TRY_CAST({time} AS BIGINT)"
    clock = (
        f"CASE WHEN regexp_full_match({time}, '\\d{{1,4}}') AND {v} // 100 < 24 "
        f"AND {v} % 100 < 60 THEN lpad(CAST({v} // 100 AS VARCHAR), 2, '0') || ':' || "
        f"lpad(CAST({v} % 100 AS VARCHAR), 2, '0') || ':00' "
        f"WHEN regexp_full_match({time}, '\\d{{1,2}}:\\d{{2}}(:\\d{{2}})?') THEN {time} END"
    )
    with_time = (
        f"CASE WHEN {time} IS NULL THEN {date} WHEN ({clock}) IS NULL THEN {day} || ' ' || {time} "
        f"ELSE {date} || ' ' || ({clock}) END"
    )
    return f"CASE WHEN regexp_full_match({day}, '\\d{{1,5}}') THEN {with_time} ELSE {day} END"
