"""``/api/audiences*`` on the simulated shop: sizes against DuckDB SQL over the published
warehouse (the reference), access by role (viewers build and size, exports need the export
permission, changes by the owner or an admin), and the audit log of every change and export."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest

WHERE = 'segment_cn8 == "important_value" and clv_12m > 300 and not opted_out("sms")'


def _sql_count(shop, where: str) -> int:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM mart_members WHERE {where}").fetchone()[0]
    finally:
        con.close()


def test_live_size_and_breakdown_match_sql(clients, shop):
    r = clients["viewer"].get("/api/audiences/size", params={"where": WHERE})
    assert r.status_code == 200, r.text
    body = r.json()
    want = _sql_count(shop, "segment_cn8 = 'important_value' AND clv > 300")
    assert body["size"] == want > 0  # nobody opted out yet
    assert body["total"] == _sql_count(shop, "true")
    assert sum(x["members"] for x in body["breakdowns"]["province"]) == want
    assert body["breakdowns"]["segment_cn8"] == [{"key": "important_value", "members": want}]


def test_a_bad_expression_is_a_400_naming_the_column(clients):
    r = clients["viewer"].get("/api/audiences/size", params={"where": "clv_12 > 1"})
    assert r.status_code == 400
    assert "did you mean clv" in r.json()["detail"]


def test_build_freeze_export_delete_with_roles_and_audit(clients, csrf, shop):
    viewer, marketer, analyst, admin = (
        clients[r] for r in ("viewer", "marketer", "analyst", "admin")
    )
    made = viewer.post(
        "/api/audiences", json={"name": "api_vip", "where": WHERE}, headers=csrf(viewer)
    )
    assert made.status_code == 201, made.text
    assert made.json()["owner"] == "viewer" and made.json()["size"] > 0
    assert "api_vip" in [a["name"] for a in analyst.get("/api/audiences").json()["audiences"]]
    # the owner or an admin changes it; another user may not
    again = {"name": "api_vip", "where": "clv > 1", "replace": True}
    assert marketer.post("/api/audiences", json=again, headers=csrf(marketer)).status_code == 403
    snap = viewer.post("/api/audiences/api_vip/freeze", headers=csrf(viewer))
    assert snap.status_code == 201 and snap.json()["size"] == made.json()["size"]
    # exports: not for a viewer; an analyst gets no contacts; a marketer masked contacts
    assert viewer.get("/api/audiences/api_vip/export").status_code == 403
    plain = analyst.get("/api/audiences/api_vip/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(plain.content.decode("utf-8-sig"))))
    assert len(rows) == made.json()["size"] and "phone_masked" not in rows[0]
    masked = marketer.get("/api/audiences/api_vip/export", params={"frozen": "true"})
    rows = list(csv.DictReader(io.StringIO(masked.content.decode("utf-8-sig"))))
    assert all("****" in r["phone_masked"] for r in rows if r["phone_masked"])
    assert "phone" not in rows[0]
    assert marketer.delete("/api/audiences/api_vip", headers=csrf(marketer)).status_code == 403
    assert admin.delete("/api/audiences/api_vip", headers=csrf(admin)).status_code == 200
    assert admin.get("/api/audiences/api_vip").status_code == 404
    events = admin.get("/api/audit", params={"limit": 200}).json()["events"]
    seen = {(e["action"], e["target"]) for e in events}
    for item in (
        ("audience_create", "api_vip"),
        ("audience_freeze", "api_vip"),
        ("export", "audience:api_vip"),
        ("audience_delete", "api_vip"),
    ):
        assert item in seen, item


def test_overlap_of_saved_audiences_matches_sql(clients, csrf, shop):
    admin = clients["admin"]
    defs = {"ov_a": ("clv > 200", "clv > 200"), "ov_b": ("p_alive > 0.5", "p_alive > 0.5")}
    for name, (expr, _) in defs.items():
        r = admin.post("/api/audiences", json={"name": name, "where": expr}, headers=csrf(admin))
        assert r.status_code == 201, r.text
    body = admin.get("/api/audiences/overlap", params={"names": list(defs)}).json()
    assert body["sizes"] == {n: _sql_count(shop, sql) for n, (_, sql) in defs.items()}
    assert body["intersections"][0]["members"] == _sql_count(shop, "clv > 200 AND p_alive > 0.5")
    assert body["union"] == _sql_count(shop, "clv > 200 OR p_alive > 0.5")
    r = admin.get("/api/audiences/overlap", params={"names": ["ov_a"]})
    assert r.status_code == 422


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_the_audiences_page_is_in_the_menu(clients, role):
    page = clients[role].get("/audiences")
    assert page.status_code == 200 and 'data-nav="audiences"' in page.text
    assert "/static/audiences.js" in page.text
