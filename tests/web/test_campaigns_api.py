"""The Campaigns and Experiments API (web/routers/api_campaigns.py) on the web tests' simulated
shop (memberlens.simulate, seed 11, with its campaigns): who may read and change what, the same
numbers as the library functions the CLI prints, exports, and no 5xx on bad input."""

from __future__ import annotations

import io

import pytest

from memberlens.web.roles import allows

CAMPAIGN = "CMP202505"
GETS = (
    "/api/campaigns",
    f"/api/campaigns/{CAMPAIGN}",
    f"/api/campaigns/{CAMPAIGN}?by=tier",
    f"/api/campaigns/{CAMPAIGN}/uplift",
    f"/api/campaigns/{CAMPAIGN}/export?format=html",
    "/api/experiments/plan?baseline=0.03&mde=0.1",
    "/api/experiments/costs",
)
ROI = {
    "members": 100_000,
    "message_cost": 0.05,
    "baseline_rate": 0.03,
    "lift": 0.01,
    "aov": 200.0,
    "margin": 0.3,
    "coupon_cost": 10.0,
    "campaigns_per_year": 12,
    "target_share": 0.3,
    "captured_share": 0.6,
    "model_cost": 20_000.0,
    "staff_cost": 30_000.0,
}


@pytest.mark.parametrize("role", ["admin", "analyst", "marketer", "viewer"])
def test_marketers_and_analysts_read_viewers_do_not(clients, csrf, role):
    client = clients[role]
    expected = 200 if allows(role, "view_campaigns") else 403
    assert expected == (403 if role == "viewer" else 200)
    for path in GETS:
        r = client.get(path)
        assert r.status_code == expected, (role, path, r.status_code, r.text[:200])
    r = client.post("/api/experiments/roi", json=ROI, headers=csrf(client))
    assert r.status_code == expected


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_only_analysts_and_admins_change_costs(clients, csrf, role, shop):
    before = shop.file.read_text(encoding="utf-8")
    r = clients[role].put(
        "/api/experiments/costs", json={"margin": 0.5}, headers=csrf(clients[role])
    )
    assert r.status_code == 403
    assert shop.file.read_text(encoding="utf-8") == before
    if role == "marketer":
        assert clients[role].get("/api/experiments/costs").json()["can_edit"] is False


def test_report_is_the_librarys_and_costs_fill_the_roi(clients, csrf, app, shop):
    from memberlens.experiments.projects import campaign_report_project

    analyst = clients["analyst"]
    listed = analyst.get("/api/campaigns").json()
    assert listed["available"] and CAMPAIGN in [c["campaign_id"] for c in listed["campaigns"]]
    body = analyst.get(f"/api/campaigns/{CAMPAIGN}").json()
    reference = campaign_report_project(app.state.ctx.project, CAMPAIGN).to_dict()
    assert {a["arm"]: a["n"] for a in body["arms"]} == {a["arm"]: a["n"] for a in reference["arms"]}
    got = {(c["arm"], c["metric"]): c for c in body["comparisons"]}
    for c in reference["comparisons"]:
        mine = got[(c["arm"], c["metric"])]
        for key in ("difference", "ci_low", "ci_high", "p_value"):
            assert mine[key] == pytest.approx(c[key], rel=1e-12), key
    assert body["economics"][0]["roi"] is None  # no margin yet: blank, with the reason
    assert body["economics"][0]["reason"]
    original = shop.file.read_text(encoding="utf-8")
    try:
        r = analyst.put(
            "/api/experiments/costs",
            json={"message": {"sms": 0.05, "wechat": 0.01}, "margin": 0.3},
            headers=csrf(analyst),
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "message": {"sms": 0.05, "wechat": 0.01},
            "coupon": None,
            "margin": 0.3,
            "can_edit": True,
        }
        assert "[costs]" in shop.file.read_text(encoding="utf-8")
        costed = analyst.get(f"/api/campaigns/{CAMPAIGN}").json()
        assert costed["economics"][0]["incremental_margin"] == pytest.approx(
            costed["economics"][0]["incremental_revenue"] * 0.3
        )
        audit = clients["admin"].get("/api/audit", params={"limit": 20}).json()["events"]
        assert any(e["action"] == "settings" and e["target"] == "[costs]" for e in audit)
        bad = analyst.put("/api/experiments/costs", json={"margin": 1.5}, headers=csrf(analyst))
        assert bad.status_code == 422
    finally:
        shop.file.write_text(original, encoding="utf-8")
        from memberlens.project import Project

        app.state.ctx.project = Project.load(shop.root)


def test_uplift_curves_after_a_fit(clients, shop):
    from memberlens.experiments.uplift_project import fit_uplift_project

    marketer = clients["marketer"]
    before = marketer.get("/api/campaigns/CMP202306/uplift").json()
    assert before["available"] is False and "uplift fit CMP202306" in before["missing"]
    fit = fit_uplift_project(shop, CAMPAIGN, min_child_samples=30).to_dict()
    body = marketer.get(f"/api/campaigns/{CAMPAIGN}/uplift").json()
    assert body["available"] is True and body["chosen_method"] == fit["chosen_method"]
    best = next(e for e in body["evaluations"] if e["method"] == fit["chosen_method"])
    assert best["qini_x"][0] == 0 and len(best["qini_x"]) == len(best["qini_y"])
    assert [d["decile"] for d in best["deciles"]] == list(range(1, 11))


def test_uplift_targets_rescored_now_are_the_saved_models_scores(clients, shop):
    """``rescore=true`` scores every member now with the campaign's saved learner: the uplift of
    ``rescore_project`` (reference: the library path of ``memberlens uplift targets --rescore``),
    not the scores ``uplift fit`` left in mart_uplift_scores."""
    import dataclasses
    import datetime as dt

    from memberlens.experiments.uplift_project import fit_uplift_project, rescore_project

    # fitted (and scored into the mart) as of an earlier day; rescoring uses the project's
    # features as of its last order day, so the two lists differ
    fit_uplift_project(
        dataclasses.replace(shop, as_of=dt.date(2025, 6, 30)), CAMPAIGN, min_child_samples=30
    )
    reference = rescore_project(shop, CAMPAIGN).to_pandas()
    by_member = dict(zip(reference["member_id"], reference["uplift"], strict=True))
    last_day = reference["scored_as_of"].iloc[0].isoformat()
    assert last_day != "2025-06-30"
    path = f"/api/campaigns/{CAMPAIGN}/uplift/targets"
    body = clients["marketer"].get(path, params={"top": 50, "rescore": "true"}).json()
    assert body["rescored"] is True and len(body["targets"]) == 50
    got = [r["uplift"] for r in body["targets"]]
    assert got == pytest.approx([by_member[r["member_id"]] for r in body["targets"]], rel=1e-12)
    assert got == pytest.approx(sorted(reference["uplift"], reverse=True)[:50], rel=1e-12)
    assert {r["scored_as_of"] for r in body["targets"]} == {last_day}

    stored = clients["marketer"].get(path, params={"top": 50}).json()
    assert stored["rescored"] is False
    assert {r["scored_as_of"] for r in stored["targets"]} == {"2025-06-30"}
    assert [r["uplift"] for r in stored["targets"]] != pytest.approx(got, rel=1e-12)
    # fitted without a margin: no profit to rank by, refused with the fix (a ranking of blanks
    # would be an arbitrary list); with a margin, the list is in descending profit
    blank = clients["analyst"].get(path, params={"top": 5, "by": "profit", "rescore": True})
    assert blank.status_code == 400 and blank.json()["error"] == "ConfigError"
    assert "--margin" in blank.json()["detail"]
    fit_uplift_project(shop, CAMPAIGN, min_child_samples=30, margin=0.3)
    for rescore in (True, False):
        by_profit = clients["analyst"].get(
            path, params={"top": 5, "by": "profit", "rescore": rescore}
        )
        profits = [r["expected_incremental_profit"] for r in by_profit.json()["targets"]]
        assert by_profit.status_code == 200 and len(profits) == 5
        assert profits == sorted(profits, reverse=True) and None not in profits


def test_uplift_targets_without_a_saved_model_is_a_404_with_the_fix(clients):
    r = clients["analyst"].get(
        "/api/campaigns/CMP202306/uplift/targets", params={"rescore": "true"}
    )
    assert r.status_code == 404
    assert r.json()["error"] == "MissingTableError"
    assert "no saved uplift model" in r.json()["detail"]
    assert "memberlens uplift fit CMP202306" in r.json()["detail"]
    assert clients["viewer"].get("/api/campaigns/CMP202306/uplift/targets").status_code == 403


def test_calculators_equal_the_library(clients, csrf):
    from memberlens.experiments.planning import sample_size_for_rate
    from memberlens.experiments.programme import ProgrammeInputs, programme_roi

    marketer = clients["marketer"]
    plan = marketer.get(
        "/api/experiments/plan", params={"baseline": 0.03, "mde": 0.1, "daily": 5000}
    ).json()
    assert plan == sample_size_for_rate(baseline=0.03, mde=0.1, daily=5000).to_dict()
    roi = marketer.post("/api/experiments/roi", json=ROI, headers=csrf(marketer)).json()
    reference = programme_roi(ProgrammeInputs(**ROI))
    assert roi["targeted"]["net_per_year"] == pytest.approx(reference.targeted.net_per_year)
    assert roi["break_even_campaigns"] == pytest.approx(reference.break_even_campaigns)


def test_exports_are_a_workbook_and_one_self_contained_html_file(clients):
    import openpyxl

    analyst = clients["analyst"]
    r = analyst.get(f"/api/campaigns/{CAMPAIGN}/export", params={"format": "xlsx", "by": "tier"})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="campaign-{CAMPAIGN}.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert {"arms", "comparisons", "segment_arms"} <= set(book.sheetnames)
    page = analyst.get(f"/api/campaigns/{CAMPAIGN}/export", params={"format": "html"}).text
    assert page.startswith("<!doctype html>") and CAMPAIGN in page
    assert "<script" not in page and "src=" not in page and "href=" not in page


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/campaigns/NOPE", 400),
        (f"/api/campaigns/{CAMPAIGN}?by=shoe_size", 422),
        (f"/api/campaigns/{CAMPAIGN}?alpha=2", 422),
        (f"/api/campaigns/{CAMPAIGN}/export?format=pdf", 422),
        ("/api/experiments/plan?baseline=0.9&mde=0.5", 400),
        ("/api/experiments/plan?baseline=0&mde=0.1", 422),
    ],
)
def test_bad_input_is_a_clear_4xx(clients, path, status):
    r = clients["analyst"].get(path)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_a_project_without_campaigns_says_so(bare, tmp_path, login):
    from fastapi.testclient import TestClient

    from memberlens.web import create_app
    from memberlens.web.store import add_user

    app = create_app(bare, database=f"sqlite:///{tmp_path / 'state.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "ana", "correct-horse-battery", "analyst")
    with TestClient(app) as client:
        assert login(client, "ana").status_code == 303
        assert client.get("/api/campaigns").json() == {
            "available": False,
            "missing": "campaigns",
            "campaigns": [],
        }
        r = client.get(f"/api/campaigns/{CAMPAIGN}")
        assert r.status_code == 404 and "memberlens ingest campaigns" in r.json()["detail"]


def test_a_skewed_split_leads_with_the_srm_warning(clients):
    # the simulator holds out 20 % (CampaignProcess.treatment_share = 0.8): a planned 50 % control
    # is a sample-ratio mismatch (chi-square, Fabijan et al. 2019); the planned 20 % is not
    import warnings

    marketer = clients["marketer"]
    with warnings.catch_warnings(record=True) as caught:  # a report field, not a server warning
        warnings.simplefilter("always")
        body = marketer.get(f"/api/campaigns/{CAMPAIGN}", params={"control_share": 0.5}).json()
    assert [w for w in caught if "SAMPLE RATIO" in str(w.message)] == []
    assert body["srm"]["mismatch"] is True
    assert body["messages"][0] == body["srm"]["message"]
    assert body["messages"][0].startswith("SAMPLE RATIO MISMATCH")
    fair = (
        clients["marketer"].get(f"/api/campaigns/{CAMPAIGN}", params={"control_share": 0.2}).json()
    )
    assert fair["srm"]["mismatch"] is False


def test_a_campaign_without_control_gets_the_message_not_a_lift(tmp_path, login):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from fastapi.testclient import TestClient

    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.simulate import simulate_shop
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    simulate_shop(tmp_path / "sim", members=600, seed=3)
    members = pq.read_table(tmp_path / "sim" / "campaign_members.parquet")
    treated = members.filter(pc.equal(members["group"], "treatment"))  # the holdout was lost
    pq.write_table(treated, tmp_path / "treated.parquet")
    project = init_project(tmp_path / "shop", locale="en")
    for table, path in (
        ("orders", tmp_path / "sim" / "orders.parquet"),
        ("campaigns", tmp_path / "sim" / "campaigns.parquet"),
        ("campaign_members", tmp_path / "treated.parquet"),
    ):
        load(table, path, project=project)
    app = create_app(project, database=f"sqlite:///{tmp_path / 'state.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "mia", "correct-horse-battery", "marketer")
    with TestClient(app) as client:
        assert login(client, "mia").status_code == 303
        body = client.get(f"/api/campaigns/{CAMPAIGN}").json()
        assert [a["arm"] for a in body["arms"]] == ["treatment"]
        assert body["comparisons"] == []
        assert any("no control group" in m for m in body["messages"])
        uplift = client.get(f"/api/campaigns/{CAMPAIGN}/uplift").json()
        assert uplift["available"] is False
    from memberlens.exceptions import DataError
    from memberlens.experiments.uplift_project import fit_uplift_project

    with pytest.raises(DataError, match="no control group"):
        fit_uplift_project(project, CAMPAIGN)
