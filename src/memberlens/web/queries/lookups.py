"""The hot paths of the member pages as prepared statements: constant SQL text, values bound as
DuckDB ``?`` parameters (never pasted into the text), identifiers only from allow-lists.

Used when ``mart_members`` exists (the list and member 360 then touch one row or one page); the
Ibis versions in :mod:`memberlens.web.queries.members` serve the fallback before ``memberlens
run``. Building and compiling an Ibis expression costs ~10 ms of Python per query, which under
50 concurrent users is what the machine spends its time on; these statements skip it.
"""

from __future__ import annotations

from memberlens.web.i18n import segment_aliases
from memberlens.web.queries.members import (
    LIST_COLUMNS,
    PROFILE_COLUMNS,
    SORTABLE,
    MemberFilter,
    jsonable,
    mart_source,
)

_ORDER_COLUMNS = (
    "order_id",
    "ordered_at",
    "amount",
    "status",
    "channel",
    "store_id",
    "coupon_id",
    "discount",
)


def _ident(name: str, allowed: tuple[str, ...]) -> str:
    if name not in allowed:
        raise ValueError(f"column {name!r} is not in the allow-list")
    return '"' + name + '"'


def _select(wh, table: str, allowed: tuple[str, ...]) -> str:
    present = set(wh.columns(table))
    if table != "mart_members":
        return ", ".join(_ident(c, allowed) for c in allowed if c in present)
    out = []
    for name in allowed:
        source = mart_source(present, name)
        if source is not None:
            out.append(
                f'"{source}" AS {_ident(name, allowed)}'
                if source != name
                else _ident(name, allowed)
            )
    return ", ".join(out)


def _where(wh, flt: MemberFilter) -> tuple[str, list]:
    present = set(wh.columns("mart_members"))
    parts, params = [], []
    if flt.segment:
        names = segment_aliases(flt.segment)
        segs = [mart_source(present, c) for c in ("segment_cn", "segment_en")]
        segs = [c for c in segs if c is not None]
        parts.append(
            "(" + " OR ".join(f'"{c}" = ANY(?::VARCHAR[])' for c in segs) + ")" if segs else "FALSE"
        )
        params += [names] * len(segs)
    for name in ("value_tier", "lifecycle_stage", "province"):
        value = getattr(flt, name)
        if value:
            parts.append(f'"{name}" = ANY(?::VARCHAR[])' if name in present else "FALSE")
            if name in present:
                params.append([value] if name == "province" else segment_aliases(value))
    if flt.q:
        parts.append("starts_with(CAST(member_id AS VARCHAR), ?)")
        params.append(flt.q)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def mart_order(wh, flt: MemberFilter, *, sort: str, direction: str):
    """The member ids of ``mart_members`` matching ``flt`` in list order (an Arrow string
    array, ~14 bytes a member): computed once per filter and sort, then every page is a slice
    of it."""
    present = set(wh.columns("mart_members"))
    key = sort if sort in present and sort in SORTABLE else "member_id"
    way = "DESC" if direction == "desc" else "ASC"
    where, params = _where(wh, flt)
    sql = (
        f"SELECT CAST(member_id AS VARCHAR) AS m FROM mart_members{where} "
        f"ORDER BY {_ident(key, SORTABLE)} {way} NULLS LAST, member_id"
    )
    return wh.con.con.execute(sql, params).to_arrow_table()["m"].combine_chunks()


def mart_rows(wh, member_ids) -> list[dict]:
    """The list columns of the given members of ``mart_members``, in the order given."""
    ids = member_ids.to_pylist() if hasattr(member_ids, "to_pylist") else list(member_ids)
    if not ids:
        return []
    # by member id (a hash probe during the scan): cheaper than by rowid
    rows = wh.fetch(
        f"SELECT CAST(member_id AS VARCHAR) AS _m, "
        f"{_select(wh, 'mart_members', LIST_COLUMNS)} "
        "FROM mart_members WHERE member_id = ANY(?::VARCHAR[])",
        [ids],
    )
    position = {m: i for i, m in enumerate(ids)}
    rows.sort(key=lambda row: position[row["_m"]])
    for row in rows:
        del row["_m"]
    return jsonable(rows)


def mart_member_360(wh, member_id: str, *, order_limit: int = 200) -> dict | None:
    """Profile, scores and orders of one member, or None when the id is unknown."""
    profile = None
    if wh.has("members"):
        found = wh.fetch(
            f"SELECT {_select(wh, 'members', PROFILE_COLUMNS)} FROM members "
            "WHERE member_id = ? LIMIT 1",
            [member_id],
        )
        profile = jsonable(found)[0] if found else None
    scores = wh.fetch(
        f"SELECT {_select(wh, 'mart_members', LIST_COLUMNS)} FROM mart_members "
        "WHERE member_id = ? LIMIT 1",
        [member_id],
    )
    orders = wh.fetch(
        f"SELECT {_select(wh, 'orders', _ORDER_COLUMNS)}, "
        "count(*) OVER () AS _total FROM orders WHERE member_id = ? "
        "ORDER BY ordered_at DESC LIMIT ?",
        [member_id, int(order_limit)],
    )
    if profile is None and not scores and not orders:
        return None
    total = int(orders[0]["_total"]) if orders else 0
    for o in orders:
        o.pop("_total")
    score = jsonable(scores)[0] if scores else None
    if score:
        score = {k: v for k, v in score.items() if not k.endswith("_masked")}
    return {
        "member_id": member_id,
        "profile": profile or {"member_id": member_id},
        "scores": score,
        "scores_source": "mart_members",
        "orders": jsonable(orders),
        "orders_total": total,
    }
