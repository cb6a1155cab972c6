"""Fixtures of the web tests: a simulated shop (memberlens.simulate, fixed seed) loaded through
the public ingest path, marts shaped as ``memberlens run`` writes them, and one account per role."""

from __future__ import annotations

import numpy as np
import pytest

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "analyst", "marketer", "viewer")


def _write_marts(project) -> None:
    """mart_members / mart_segments / mart_cohorts with the documented columns (test data)."""
    import duckdb

    from memberlens.engine.warehouse import Warehouse
    from memberlens.features import rfm_summary

    with Warehouse(project.warehouse, read_only=True) as wh:
        orders = wh.table("orders")
        as_of = orders.ordered_at.max().execute().date()
        summary = rfm_summary(orders, as_of=as_of).to_pandas()
        members = wh.table("members").select(
            "member_id", "province", "city", "channel", "gender", "phone_masked",
            "email_masked").to_pandas()
    df = summary.merge(members, on="member_id", how="left")
    rng = np.random.default_rng(7)
    rank = lambda s: np.ceil(s.rank(pct=True, method="first") * 5).astype(int)  # noqa: E731
    df["r_score"] = rank(-df["days_since_last"])
    df["f_score"] = rank(df["frequency"])
    df["m_score"] = rank(df["total_spend"])
    cn = np.array(["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户",
                   "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"])
    hi = lambda s: (s >= 3).astype(int)  # noqa: E731
    df["segment_cn"] = cn[(1 - hi(df.m_score)) * 4 + (1 - hi(df.r_score)) * 2 + (1 - hi(df.f_score))]
    en = np.array(["Lost", "Hibernating", "About to Sleep", "Promising", "Champions"])
    df["segment_en"] = en[df["r_score"] - 1]
    df["p_alive"] = np.exp(-df["days_since_last"] / 300.0)
    df["expected_purchases_90d"] = df["p_alive"] * (df["frequency"] + 1) / 4
    df["clv"] = df["p_alive"] * df["total_spend"] * rng.uniform(0.5, 1.5, len(df))
    df["value_tier"] = np.array(["C", "B", "A"])[np.digitize(
        df["clv"], np.quantile(df["clv"], [0.5, 0.9]))]
    df["lifecycle_stage"] = np.where(df["days_since_last"] < 90, "active",
                                     np.where(df["days_since_last"] < 365, "at_risk", "lapsed"))
    seg = []
    for scheme, col in (("cn8", "segment_cn"), ("rfm11", "segment_en")):
        g = df.groupby(col).agg(members=("member_id", "size"), revenue=("total_spend", "sum"),
                                avg_clv=("clv", "mean")).reset_index().rename(
            columns={col: "segment"})
        g["revenue_share"] = g["revenue"] / g["revenue"].sum()
        g.insert(0, "scheme", scheme)
        seg.append(g)
    import pandas as pd

    segments = pd.concat(seg, ignore_index=True)
    first = df.assign(cohort=pd.to_datetime(df["first_purchase_at"]).dt.strftime("%Y-%m"))
    cohorts = []
    for cohort, grp in first.groupby("cohort"):
        n = len(grp)
        for period in range(6):
            cohorts.append({"cohort": cohort, "period": period, "members": n,
                            "retention": float(np.exp(-0.4 * period)) if period else 1.0,
                            "revenue": float(grp["total_spend"].sum()) / (period + 1)})
    cohorts = pd.DataFrame(cohorts)
    rules = pd.DataFrame({
        "antecedent": [["牛奶"], ["面包"], ["牛奶", "面包"], ["咖啡"], ["尿布"], ["啤酒"]],
        "consequent": ["面包", "牛奶", "黄油", "牛奶", "啤酒", "尿布"],
        "support": [0.12, 0.12, 0.05, 0.04, 0.03, 0.03],
        "confidence": [0.6, 0.5, 0.42, 0.35, 0.3, 0.55],
        "lift": [2.1, 2.1, 3.0, 1.2, 2.8, 2.8]})
    con = duckdb.connect(str(project.warehouse))
    try:
        for name, frame in (("mart_members", df), ("mart_segments", segments),
                            ("mart_cohorts", cohorts), ("mart_rules", rules)):
            con.register("frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    finally:
        con.close()


@pytest.fixture(scope="session")
def shop(tmp_path_factory):
    """A project with members and orders of a 1,500-member simulated shop, and marts."""
    from memberlens.ingest import load
    from memberlens.project import init_project
    from memberlens.simulate import simulate_shop

    root = tmp_path_factory.mktemp("web")
    simulate_shop(root / "sim", members=1500, seed=11)
    project = init_project(root / "shop", currency="CNY", locale="zh-CN")
    for table in ("members", "orders"):
        load(table, root / "sim" / f"{table}.parquet", project=project)
    _write_marts(project)
    return project


@pytest.fixture(scope="session")
def bare(tmp_path_factory):
    """A project with only CDNOW orders (no members table, no marts): empty states."""
    from memberlens.ingest import load
    from memberlens.pipeline.demo import export_cdnow_csv
    from memberlens.project import init_project

    root = tmp_path_factory.mktemp("bare")
    project = init_project(root / "cdnow", currency="USD", locale="en")
    import pandas as pd

    csv = export_cdnow_csv(root / "cdnow.csv")
    # ingest stores a missing status as null, which member analytics do not read as paid
    pd.read_csv(csv, dtype=str).assign(status="paid").to_csv(csv, index=False)
    load("orders", csv, project=project)
    return project


def make_users(app) -> None:
    from memberlens.web.store import add_user

    with app.state.ctx.store() as db:
        for role in ROLES:
            add_user(db, role, PASSWORD, role)


@pytest.fixture(scope="session")
def app(shop, tmp_path_factory):
    from memberlens.web import create_app

    db = tmp_path_factory.mktemp("state") / "web.sqlite"
    application = create_app(shop, database=f"sqlite:///{db}")
    make_users(application)
    return application


def _login(client, username: str, password: str = PASSWORD):
    """Log in through the form, as a browser does (CSRF cookie first)."""
    client.get("/login")
    csrf = client.cookies.get("ml_csrf")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf, "next": "/"},
                       follow_redirects=False)


@pytest.fixture(scope="session")
def login():
    return _login


@pytest.fixture(scope="session")
def clients(app):
    """A logged-in TestClient per role."""
    from fastapi.testclient import TestClient

    out = {}
    for role in ROLES:
        c = TestClient(app)
        assert _login(c, role).status_code == 303
        out[role] = c
    yield out
    for c in out.values():
        c.close()


@pytest.fixture(scope="session")
def csrf():
    """Headers that carry the client's CSRF token (as the page scripts send it)."""
    return lambda client: {"X-CSRF-Token": client.cookies.get("ml_csrf")}


@pytest.fixture(scope="session")
def any_member(shop) -> str:
    from memberlens.engine.warehouse import Warehouse

    with Warehouse(shop.warehouse, read_only=True) as wh:
        m = wh.table("mart_members")
        return m.order_by(m.total_spend.desc()).limit(1).to_pyarrow()["member_id"][0].as_py()

