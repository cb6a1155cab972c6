"""The campaign API and pages on a real app (TestClient) against a real webhook receiver: who
may send, the audit log, previews, unsubscribe links, signed SMS replies, trigger switches and
the Triggers page."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

PASSWORD = "correct-horse-battery"


@pytest.fixture
def web(make_project, receiver, tmp_path, sim_shop):
    from fastapi.testclient import TestClient

    from memberlens.activation.audiences import create_audience  # noqa: F401 - activation loaded
    from memberlens.activation.campaigns import create_campaign
    from memberlens.activation.templates import load_template
    from memberlens.activation.triggers import save_rule
    from memberlens.web import create_app
    from memberlens.web.store import add_user

    project = make_project(
        f'[channels.sms]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "k"\n'
        '\n[campaigns]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
    )
    app = create_app(project, database=f"sqlite:///{tmp_path / 'web.sqlite'}")
    store = app.state.ctx.store
    with store() as db:
        for role in ("admin", "analyst", "marketer", "viewer"):
            add_user(db, role, PASSWORD, role)
    import pyarrow.parquet as pq

    ids = pq.read_table(sim_shop / "members.parquet").column("member_id").to_pylist()[:300]
    campaign = create_campaign(
        store.engine, project, name="web", audience="x", channel="sms",
        template=load_template(None), offer="满99减10", holdout=0.2, campaign_id="WEB-1",
    )  # fmt: skip
    # plan it with explicit members (a trigger's way), so the API sends a known audience
    from memberlens.activation import ledger
    from memberlens.activation.campaigns import find_campaign, plan_rows

    rows = plan_rows(
        find_campaign(store.engine, "WEB-1"), ids, suppressed=set(), opted_out=set(),
        addressable=None, capped=set(),
    )  # fmt: skip
    ledger.insert_plan(store.engine, "WEB-1", "sms", rows)
    save_rule(
        store.engine, project, name="bday", kind="birthday", channel="sms",
        template=load_template(None),
    )  # fmt: skip
    clients = {}
    for role in ("admin", "analyst", "marketer", "viewer"):
        c = TestClient(app)
        c.get("/login")
        r = c.post(
            "/login",
            data={"username": role, "password": PASSWORD, "csrf_token": c.cookies.get("ml_csrf"),
                  "next": "/"},
            follow_redirects=False,
        )  # fmt: skip
        assert r.status_code == 303
        clients[role] = c
    yield app, project, store, clients, campaign, ids
    for c in clients.values():
        c.close()
    app.state.ctx.close()


def _post(client, path, **kw):
    return client.post(path, headers={"X-CSRF-Token": client.cookies.get("ml_csrf")}, **kw)


def test_only_admin_and_marketer_send_and_each_send_is_audited(web, receiver):
    from sqlalchemy import select

    from memberlens.web.models import AuditEvent

    app, project, store, clients, campaign, ids = web
    for role in ("viewer", "analyst"):
        assert _post(clients[role], "/api/campaigns/WEB-1/send").status_code == 403
    assert receiver.requests == []
    dry = clients["analyst"].get("/api/campaigns/WEB-1/dry-run").json()
    sent = _post(clients["marketer"], "/api/campaigns/WEB-1/send")
    assert sent.status_code == 200 and sent.json()["sent"] == dry["would_send"] > 0
    assert len(receiver.delivered()) == sent.json()["sent"]
    assert _post(clients["admin"], "/api/campaigns/WEB-1/send").json()["sent"] == 0
    status = clients["viewer"].get("/api/campaigns/WEB-1/status").json()
    assert status["sent"] == sent.json()["sent"]
    with store() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "campaign.send")).all()
    assert [(e.username, e.target) for e in events] == [("marketer", "WEB-1"), ("admin", "WEB-1")]
    assert clients["viewer"].get("/api/campaigns/NOPE/status").status_code == 404


def test_preview_unsubscribe_link_and_sms_reply(web, receiver):
    from memberlens.activation.audiences import opted_out

    app, project, store, clients, campaign, ids = web
    preview = clients["analyst"].get("/api/campaigns/WEB-1/preview", params={"member": ids[0]})
    assert preview.status_code == 200 and "满99减10" in preview.json()["body"]
    _post(clients["marketer"], "/api/campaigns/WEB-1/send")
    first = json.loads(receiver.requests[0]["body"])["messages"][0]
    link = first["unsubscribe_url"]
    path = link[link.index("/unsubscribe/") :]
    anonymous = clients["viewer"].__class__(app)
    assert anonymous.post(path).status_code == 200  # RFC 8058 one-click, no login
    assert first["member_id"] in opted_out(project, "sms", store=store)
    assert anonymous.get(path[:-3] + "abc").status_code == 400  # altered link
    body = json.dumps({"member_id": ids[5], "text": " 退订 "}).encode()
    t = str(int(time.time()))
    sig = hmac.new(b"k", t.encode() + b"." + body, hashlib.sha256).hexdigest()
    ok = anonymous.post(
        "/api/channels/sms/inbound",
        content=body,
        headers={"X-Memberlens-Signature": f"t={t},v1={sig}"},
    )
    assert ok.json() == {"member_id": ids[5], "opted_out": True}
    assert ids[5] in opted_out(project, "sms", store=store)
    forged = anonymous.post(
        "/api/channels/sms/inbound",
        content=body,
        headers={"X-Memberlens-Signature": f"t={t},v1=00"},
    )
    assert forged.status_code == 403
    anonymous.close()


def test_trigger_switches_and_page(web):
    app, project, store, clients, campaign, ids = web
    listed = clients["viewer"].get("/api/triggers", params={"date": "2026-01-05"}).json()
    assert [r["name"] for r in listed["rules"]] == ["bday"] and listed["rules"][0]["enabled"]
    assert listed["rules"][0]["would_fire"] >= 0
    assert _post(clients["viewer"], "/api/triggers/bday/disable").status_code == 403
    assert _post(clients["marketer"], "/api/triggers/bday/disable").json()["enabled"] is False
    assert not clients["viewer"].get("/api/triggers").json()["rules"][0]["enabled"]
    run = _post(clients["marketer"], "/api/triggers/run", json={"date": "2026-01-05"})
    assert run.status_code == 200 and run.json()["runs"] == []  # the rule is off
    page = clients["viewer"].get("/triggers")
    assert page.status_code == 200 and "/api/triggers" in page.text
