"""Member 360: segment / tier / stage history over the runs and recommendations, with empty states
when their tables are absent."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def moved_member(shop) -> str:
    """A member present at both as-of dates whose value tier changed between them."""
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        return con.execute("""
            SELECT a.member_id FROM mart_member_history a JOIN mart_member_history b
              ON a.member_id = b.member_id AND a.as_of < b.as_of
            WHERE a.value_tier <> b.value_tier ORDER BY a.member_id LIMIT 1""").fetchone()[0]
    finally:
        con.close()


def test_history_is_the_members_rows_of_mart_member_history(clients, shop, moved_member):
    # reference: mart_member_history (written by two real `memberlens run`s), read with SQL
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        expected = con.execute(
            "SELECT as_of::VARCHAR, segment_cn8, segment_rfm11, value_tier, lifecycle_stage "
            "FROM mart_member_history WHERE member_id = ? ORDER BY as_of",
            [moved_member],
        ).fetchall()
    finally:
        con.close()
    body = clients["marketer"].get(f"/api/members/{moved_member}").json()["history"]
    assert body["available"] is True
    got = [
        (r["as_of"], r["segment_cn8"], r["segment_rfm11"], r["value_tier"], r["lifecycle_stage"])
        for r in body["rows"]
    ]
    assert got == [tuple(r) for r in expected]
    assert len(got) == 2 and got[0][0] == "2025-06-30"
    change = body["changes"][0]
    assert change["as_of"] == got[1][0]
    assert change["value_tier"] == [got[0][3], got[1][3]]


def test_recommendations_are_the_members_rows_best_first(clients, shop, any_member):
    import duckdb

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        expected = con.execute(
            "SELECT product_id, reason_zh FROM mart_recommendations "
            "WHERE member_id = ? ORDER BY rank",
            [any_member],
        ).fetchall()
    finally:
        con.close()
    body = clients["analyst"].get(f"/api/members/{any_member}").json()["recommendations"]
    assert body["available"] is True and expected
    assert [(r["product_id"], r["reason_zh"]) for r in body["rows"]] == expected
    assert [r["rank"] for r in body["rows"]] == sorted(r["rank"] for r in body["rows"])
    assert {"product_name", "category", "score", "reason_en", "source"} <= set(body["rows"][0])
    assert clients["analyst"].get("/api/members/NO-SUCH").status_code == 404


def test_absent_tables_give_empty_states(bare, tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(bare, database=f"sqlite:///{tmp_path / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "a", "quiet-harbour-7", "analyst")
    with TestClient(app) as c:
        login(c, "a", "quiet-harbour-7")
        member = c.get("/api/members").json()["rows"][0]["member_id"]
        body = c.get(f"/api/members/{member}").json()
        assert body["orders"]
        for part, table in (
            ("history", "mart_member_history"),
            ("recommendations", "mart_recommendations"),
        ):
            assert body[part] == {
                "available": False,
                "missing": table,
                "hint": "run `memberlens run`",
                "rows": [],
            }
        assert c.get(f"/members/{member}").status_code == 200
