"""Saved audiences on a real warehouse (DuckDB) and a real app-state store (SQLite through the
Alembic migrations): sizes and breakdowns against the same count in DuckDB SQL (the reference),
overlaps against Python sets, frozen lists, opt-outs and history dates."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import pytest

from memberlens.activation import audiences as aud
from memberlens.exceptions import ConfigError, DataError, ExpressionError, NotFoundError

from .conftest import AS_OF, EARLIER


def _sql_ids(mart, where: str) -> set[str]:
    """The reference: DuckDB SQL over the same Arrow rows, the condition written in SQL."""
    con = duckdb.connect()
    con.register("m", mart)
    rows = con.execute(f"SELECT member_id FROM m WHERE {where}").fetchall()
    con.close()
    return {r[0] for r in rows}


def test_create_get_list_replace_delete(audience_project, store):
    a = aud.create_audience(
        audience_project, "vip", "clv > 500", owner="ana", description="big", store=store
    )
    assert (a.name, a.expression, a.owner) == ("vip", "clv > 500", "ana")
    with pytest.raises(ConfigError, match="exists"):
        aud.create_audience(audience_project, "vip", "clv > 600", store=store)
    b = aud.create_audience(audience_project, "vip", "clv > 600", replace=True, store=store)
    assert b.expression == "clv > 600" and b.created_at == a.created_at and b.description == "big"
    aud.create_audience(audience_project, "gd", "province == '广东省'", store=store)
    assert [x.name for x in aud.list_audiences(audience_project, store=store)] == ["gd", "vip"]
    assert (
        aud.get_audience(audience_project, "gd", store=store).expression == "province == '广东省'"
    )
    aud.delete_audience(audience_project, "gd", store=store)
    with pytest.raises(NotFoundError, match="no audience named 'gd'.*vip"):
        aud.get_audience(audience_project, "gd", store=store)


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "-dash", "a/b"])
def test_bad_names_are_refused(audience_project, store, name):
    with pytest.raises(ConfigError, match="audience name"):
        aud.create_audience(audience_project, name, "clv > 1", store=store)


def test_a_bad_expression_is_refused_before_anything_is_stored(audience_project, store):
    with pytest.raises(ExpressionError, match="did you mean province"):
        aud.create_audience(audience_project, "x", "provnce == 'a'", store=store)
    assert aud.list_audiences(audience_project, store=store) == []


def test_size_and_breakdown_match_duckdb_sql(audience_project, store, mart):
    where = "segment_cn8 == 'important_value' and clv > 300 and province in ['广东省', '浙江省']"
    aud.create_audience(audience_project, "target", where, store=store)
    got = aud.audience_size(audience_project, "target", store=store)
    want = _sql_ids(
        mart,
        "segment_cn8 = 'important_value' AND clv > 300 AND province IN ('广东省', '浙江省')",
    )
    assert got.name == "target" and got.size == len(want) > 0
    assert got.total == mart.num_rows and got.as_of == AS_OF
    by = {b.column: dict(b.rows) for b in got.breakdowns}
    assert set(by) == {"segment_cn8", "value_tier", "province"}
    assert by["segment_cn8"] == {"important_value": len(want)}
    assert sum(by["value_tier"].values()) == len(want)
    prov = {
        p: len(_sql_ids(mart, f"member_id IN {tuple(want)} AND province = '{p}'"))
        for p in ("广东省", "浙江省")
    }
    assert by["province"] == {k: v for k, v in prov.items() if v}
    d = got.to_dict()
    assert d["size"] == len(want) and d["name"] == "target"


def test_an_expression_sizes_without_being_saved(audience_project, store, mart):
    got = aud.audience_size(audience_project, "days_since_last_order <= 30", store=store)
    assert got.name is None
    assert got.size == len(_sql_ids(mart, "days_since_last <= 30"))
    # a bare boolean column is an expression; a bare unknown word is a lost audience name
    assert aud.audience_size(audience_project, "refunder", store=store).size == len(
        _sql_ids(mart, "refunder")
    )
    aud.create_audience(audience_project, "loyal_south", "province == '广东省'", store=store)
    with pytest.raises(NotFoundError, match="did you mean loyal_south"):
        aud.audience_size(audience_project, "loyal_sout", store=store)


def test_opt_outs_leave_the_audience(audience_project, store, mart):
    where = "value_tier == 'high_value' and not opted_out('sms')"
    before = aud.audience_members(audience_project, where, store=store)["member_id"].to_pylist()
    assert before == sorted(_sql_ids(mart, "value_tier = 'high_value'"))
    out = before[:5]
    assert aud.add_opt_outs(audience_project, out, "SMS", source="test", store=store) == 5
    assert aud.add_opt_outs(audience_project, out[:2], "sms", store=store) == 0  # idempotent
    assert aud.opted_out(audience_project, "sms", store=store) == frozenset(out)
    assert aud.opted_out(audience_project, "email", store=store) == frozenset()
    after = aud.audience_members(audience_project, where, store=store)["member_id"].to_pylist()
    assert after == before[5:]
    assert aud.remove_opt_outs(audience_project, out[:1], "sms", store=store) == 1
    again = aud.audience_members(audience_project, where, store=store)["member_id"].to_pylist()
    assert again == sorted(before[:1] + before[5:])


def test_overlap_counts_every_intersection_like_python_sets(audience_project, store, mart):
    defs = {
        "a": ("clv > 400", "clv > 400"),
        "b": ("province == '广东省'", "province = '广东省'"),
        "c": ("days_since_last < 100", "days_since_last < 100"),
    }
    for name, (expr, _) in defs.items():
        aud.create_audience(audience_project, name, expr, store=store)
    sets = {n: _sql_ids(mart, sql) for n, (_, sql) in defs.items()}
    got = aud.audience_overlap(audience_project, ["a", "b", "c"], store=store)
    union = set().union(*sets.values())
    assert got.union == len(union)
    assert dict(got.sizes) == {n: len(s) for n, s in sets.items()}
    for combo in itertools.chain(*(itertools.combinations("abc", r) for r in (2, 3))):
        inter = set.intersection(*(sets[n] for n in combo))
        row = next(i for i in got.intersections if i.audiences == combo)
        assert row.members == len(inter)
        assert row.share_of_union == pytest.approx(len(inter) / len(union))
        assert row.share_of_smallest == pytest.approx(len(inter) / min(len(sets[n]) for n in combo))
    assert sum(n for _, n in got.regions) == len(union)
    with pytest.raises(ConfigError, match="2 to 6"):
        aud.audience_overlap(audience_project, ["a"], store=store)


def test_freeze_keeps_exactly_who_was_counted(audience_project, store, mart):
    aud.create_audience(audience_project, "warm", "days_since_last < 60", store=store)
    snap = aud.freeze_audience(audience_project, "warm", owner="ana", store=store)
    want = sorted(_sql_ids(mart, "days_since_last < 60"))
    assert list(snap.member_ids) == want and snap.size == len(want) and snap.as_of == AS_OF
    # changing the audience later does not change what was frozen
    aud.create_audience(audience_project, "warm", "days_since_last < 10", replace=True, store=store)
    back = aud.frozen_members(audience_project, "warm", store=store)
    assert back.member_ids == snap.member_ids and back.expression == "days_since_last < 60"
    assert aud.frozen_members(audience_project, "warm", as_of=AS_OF, store=store).id == snap.id
    with pytest.raises(NotFoundError, match="no frozen member list as of"):
        aud.frozen_members(audience_project, "warm", as_of=EARLIER, store=store)


def test_a_campaign_on_a_frozen_audience_targets_the_frozen_list(audience_project, store, mart):
    """docs/activation.md: freezing exists so that a campaign targets exactly the members that
    were counted; the send's plan reads its members through ``campaign_member_ids``."""
    from memberlens.activation.recipients import audience_member_ids, campaign_member_ids

    aud.create_audience(audience_project, "warm", "days_since_last < 60", store=store)
    aud.create_audience(audience_project, "cold", "days_since_last >= 60", store=store)
    counted = sorted(_sql_ids(mart, "days_since_last < 60"))
    aud.freeze_audience(audience_project, "warm", store=store)
    aud.create_audience(audience_project, "warm", "days_since_last < 10", replace=True, store=store)
    now = sorted(_sql_ids(mart, "days_since_last < 10"))
    assert now != counted
    ids, snap = aud.target_member_ids(audience_project, "warm", store=store)
    assert ids == counted and snap is not None and snap.expression == "days_since_last < 60"
    assert campaign_member_ids(audience_project, "warm", store) == counted
    # a trigger's audience filter (and anything else asking who matches now) sees the live rule
    assert audience_member_ids(audience_project, "warm", store) == now
    # never frozen, or an expression: who matches now
    cold, none = aud.target_member_ids(audience_project, "cold", store=store)
    assert cold == sorted(_sql_ids(mart, "days_since_last >= 60")) and none is None
    expr, none = aud.target_member_ids(audience_project, "days_since_last < 10", store=store)
    assert expr == now and none is None


def test_a_frozen_list_altered_outside_memberlens_is_refused(audience_project, store):
    from sqlalchemy import text

    aud.create_audience(audience_project, "warm", "days_since_last < 60", store=store)
    aud.freeze_audience(audience_project, "warm", store=store)
    import zlib

    with store.engine.begin() as con:
        con.execute(
            text("UPDATE audience_snapshots SET members = :b"), {"b": zlib.compress(b"M1\nM2")}
        )
    with pytest.raises(DataError, match="does not match its digest"):
        aud.frozen_members(audience_project, "warm", store=store)


def test_as_of_an_earlier_date_reads_the_member_history(audience_project, store, history):
    expr = "value_tier == 'high_value'"
    got = aud.audience_members(audience_project, expr, dt.date(2025, 3, 31), store=store)
    rows = [r for r in history.to_pylist() if r["as_of"] == EARLIER]
    assert got["member_id"].to_pylist() == sorted(
        r["member_id"] for r in rows if r["value_tier"] == "high_value"
    )
    with pytest.raises(ExpressionError, match="keeps only"):
        aud.audience_size(audience_project, "clv > 1", as_of=EARLIER, store=store)
    with pytest.raises(ConfigError, match="use one of 2025-03-31"):
        aud.audience_size(audience_project, expr, as_of=dt.date(2024, 1, 1), store=store)


def test_member_attributes_join_in_when_named(audience_project, store, mart):
    got = aud.audience_members(audience_project, "age_band == '25-34' and clv > 500", store=store)
    ids = {f"M{i:05d}" for i in range(mart.num_rows) if i % 3 == 1}
    assert set(got["member_id"].to_pylist()) == ids & _sql_ids(mart, "clv > 500")
    cols = aud.audience_columns(audience_project)
    assert cols["age_band"] == "string" and cols["clv_12m"] == "number"
    assert "phone" not in cols and "_load_id" not in cols  # raw personal data is not offered


def test_export_masks_contacts_and_follows_the_allowed_columns(audience_project, store):
    aud.create_audience(audience_project, "warm", "days_since_last < 60", store=store)
    full = aud.audience_export(audience_project, "warm", store=store)
    assert "phone_masked" in full.column_names and "phone" not in full.column_names
    assert all("****" in p for p in full["phone_masked"].to_pylist())
    narrow = aud.audience_export(
        audience_project, "warm", allowed=("member_id", "clv"), store=store
    )
    assert narrow.column_names == ["member_id", "clv"]
    aud.freeze_audience(audience_project, "warm", store=store)
    frozen = aud.audience_export(audience_project, "warm", frozen=True, store=store)
    assert frozen["member_id"].to_pylist() == full["member_id"].to_pylist()


def test_an_empty_audience_says_which_text_value_nobody_holds(audience_project, store):
    got = aud.audience_size(
        audience_project,
        "province in ['广东', '浙江省'] and value_tier == 'high_valu'",
        store=store,
    )
    assert got.size == 0
    assert got.notes == (
        "no member has province '广东'; did you mean '广东省'?",
        "no member has value_tier 'high_valu'; did you mean 'high_value', 'medium_value', "
        "'low_value'?",
    )
    assert aud.audience_size(audience_project, "province == '广东省'", store=store).notes == ()


def test_uplift_scores_and_member_marts_join_the_language(tmp_path, store, mart):
    """Columns of marts keyed by member_id (the latest uplift scoring per member, churn
    reasons, a count of recommendations) filter audiences; the reference is DuckDB SQL over
    the same rows, the latest scoring picked by a window in SQL."""
    import ibis
    import numpy as np
    import pyarrow as pa

    from memberlens.engine.warehouse import open_warehouse
    from memberlens.project import init_project

    project = init_project(tmp_path / "shop", currency="CNY", locale="zh-CN")
    rng = np.random.default_rng(17)
    ids = mart["member_id"].to_pylist()
    n = len(ids)

    def scoring(campaign: str, day: dt.date, share: float) -> pa.Table:
        keep = rng.random(n) < share
        scored = [m for m, k in zip(ids, keep, strict=True) if k]
        return pa.table(
            {
                "member_id": scored,
                "campaign_id": [campaign] * len(scored),
                "method": ["t_learner"] * len(scored),
                "uplift": rng.normal(0.02, 0.05, len(scored)),
                "expected_incremental_response": rng.normal(0.02, 0.05, len(scored)),
                "expected_incremental_revenue": rng.normal(5.0, 10.0, len(scored)),
                "expected_incremental_profit": rng.normal(1.0, 3.0, len(scored)),
                "scored_as_of": pa.array([day] * len(scored), pa.date32()),
            }
        )

    uplift = pa.concat_tables(
        [scoring("OLD", dt.date(2025, 3, 1), 0.9), scoring("NEW", dt.date(2025, 6, 1), 0.6)]
    )
    recs = pa.table(
        {
            "member_id": [m for i, m in enumerate(ids) for _ in range(i % 4)],
            "product_id": [f"P{r}" for i, _ in enumerate(ids) for r in range(i % 4)],
            "rank": [r + 1 for i, _ in enumerate(ids) for r in range(i % 4)],
        }
    )
    with open_warehouse(project) as wh, wh.transaction():
        wh.replace("mart_members", ibis.memtable(mart))
        wh.replace("mart_uplift_scores", ibis.memtable(uplift))
        wh.replace("mart_recommendations", ibis.memtable(recs))

    con = duckdb.connect()
    con.register("m", mart)
    con.register("u", uplift)
    con.register("r", recs)
    latest = (
        "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY member_id ORDER BY "
        "scored_as_of DESC, campaign_id DESC) AS k FROM u) WHERE k = 1)"
    )

    def sql(where: str) -> set[str]:
        rows = con.execute(
            f"SELECT m.member_id FROM m LEFT JOIN {latest} l USING (member_id) LEFT JOIN "
            "(SELECT member_id, count(*) AS n FROM r GROUP BY member_id) c USING (member_id) "
            f"WHERE {where}"
        ).fetchall()
        return {r[0] for r in rows}

    cases = {
        "uplift > 0.05 and clv > 200": "l.uplift > 0.05 AND m.clv > 200",
        'uplift_campaign_id == "OLD"': "l.campaign_id = 'OLD'",
        "expected_incremental_profit >= 2 or recommendations_count == 0": (
            "l.expected_incremental_profit >= 2 OR coalesce(c.n, 0) = 0"
        ),
        "recommendations_count >= 2 and segment_cn8 == 'important_value'": (
            "coalesce(c.n, 0) >= 2 AND m.segment_cn8 = 'important_value'"
        ),
    }
    for expression, where in cases.items():
        want = sql(where)
        got = aud.audience_members(project, expression, store=store)
        assert set(got["member_id"].to_pylist()) == want and want, expression
        assert aud.audience_size(project, expression, store=store).size == len(want)
    con.close()
    cols = aud.audience_columns(project)
    assert cols["uplift"] == "number" and cols["recommendations_count"] == "number"
    assert cols["uplift_campaign_id"] == "string"
    with pytest.raises(ExpressionError, match="did you mean uplift"):
        aud.audience_size(project, "uplfit > 0.1", store=store)
