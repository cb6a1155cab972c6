"""The closed loop on the simulator: audience -> campaign with a holdout -> send through a webhook
channel pointed at the simulator -> the simulated response period -> ingest the new orders ->
``campaign report`` recovers the planted effect inside its confidence interval.

The reference is the simulator's own truth: ``ate`` = mean(y1 - y0) over the targeted members,
from the latent parameters in ``truth/members.parquet`` and the planted uplift of
``memberlens.simulate.campaigns`` (the same definition as ``truth/campaign_effects.parquet``).
"""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

STRENGTH = 4.0  # the planted uplift times four: an effect a 1,500-member shop can see


def test_campaign_report_recovers_the_planted_effect(make_project, store, sim_shop, tmp_path):
    from memberlens.activation.audiences import create_audience
    from memberlens.activation.campaigns import create_campaign
    from memberlens.activation.sends import send
    from memberlens.activation.templates import load_template
    from memberlens.engine.warehouse import open_warehouse
    from memberlens.experiments.projects import campaign_report_project
    from memberlens.ingest import load
    from memberlens.pipeline.run import run_pipeline
    from memberlens.simulate.responses import SimulatorInbox, respond

    with SimulatorInbox(b"loop-secret") as inbox:
        project = make_project(
            f'[channels.app]\nkind = "webhook"\nurl = "{inbox.url}"\nsecret = "loop-secret"\n'
            'medium = "app_push"\nbatch_size = 250\n'
        )
        run_pipeline(project, steps=["summary", "clv", "segments", "tiers", "lifecycle", "members"])
        create_audience(project, "everyone", "frequency >= 0", store=store)
        last = pq.read_table(sim_shop / "orders.parquet").column("ordered_at").to_pandas().max()
        # the morning after the data ends, 10:00 shop time (02:00 UTC)
        now = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time(2, 0))
        campaign = create_campaign(
            store.engine,
            project,
            name="回流测试",
            audience="everyone",
            channel="app",
            template=load_template(None),
            offer="满199减30",
            holdout=0.3,
            days=14,
            campaign_id="LOOP-1",  # the id seeds the split: fixed for a reproducible test
        )
        result = send(store, project, campaign.campaign_id, now=now)
        assert inbox.rejected == 0 and len(inbox.reached) == result.sent > 0
    with open_warehouse(project, read_only=True) as wh:
        cm = wh.table("campaign_members").to_pandas()
        starts = wh.table("campaigns").to_pandas().set_index("campaign_id").starts_at
    cm = cm[cm.campaign_id == campaign.campaign_id]
    response = respond(
        sim_shop,
        targeted=cm.member_id,
        reached=inbox.reached,
        campaign_id=campaign.campaign_id,
        starts_at=starts[campaign.campaign_id].to_pydatetime(),
        days=14,
        strength=STRENGTH,
        seed=17,
    )
    assert response.reached == result.sent and response.responders > 0
    path = tmp_path / "response_orders.parquet"
    pq.write_table(response.orders, path)
    load("orders", path, project=project)

    report = campaign_report_project(project, campaign.campaign_id, planned_control_share=0.3)
    (conversion,) = [c for c in report.comparisons if c.metric == "conversion_rate"]
    assert conversion.ci_low <= response.ate <= conversion.ci_high
    assert conversion.ci_low > 0  # the effect is there, and the report sees it
    assert report.srm is not None and not report.srm.mismatch
    arms = {a.arm: a.n for a in report.arms}
    assert arms == {"treatment": result.sent, "control": result.control}


def test_inbox_rejects_a_bad_signature():
    import httpx

    from memberlens.simulate.responses import SimulatorInbox

    with SimulatorInbox(b"s") as inbox:
        answer = httpx.post(
            inbox.url, content=b'{"messages": []}', headers={"X-Memberlens-Signature": "t=1,v1=00"}
        )
    assert answer.status_code == 401 and inbox.rejected == 1 and inbox.reached == []


@pytest.mark.parametrize("strength", [0.0])
def test_no_message_no_response(sim_shop, strength):
    from memberlens.simulate.responses import respond

    ids = pq.read_table(sim_shop / "members.parquet").column("member_id").to_pylist()[:500]
    out = respond(
        sim_shop,
        targeted=ids,
        reached=[],
        campaign_id="X",
        starts_at=dt.datetime(2026, 1, 2, 10),
        days=14,
        strength=2.0,
        seed=1,
    )
    assert out.responders == 0 and out.reached == 0
    assert set(out.orders.column("coupon_id").to_pylist()) <= {None}
