"""Sending campaigns and trigger rules over the API, the Triggers page, and the links members use
to unsubscribe (the pages of uplift's campaign evaluation are in their own router).

Only admins and marketers (``send_campaigns``) may send, run or switch rules; every send and
rule change goes to the audit log. ``/unsubscribe/{token}`` is public (the token is signed with
the project secret); so is ``/api/channels/{name}/inbound``, which a gateway calls with a member's
SMS reply, signed like outgoing webhooks (``X-Memberlens-Signature``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import json
import re
import time

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from memberlens.web.auth import Principal, client_ip, public, require
from memberlens.web.context import ctx
from memberlens.web.store import audit

router = APIRouter(tags=["campaigns"])
#: SMS replies that opt a member out (case-insensitive, whole message)
STOP_WORDS = re.compile(r"^\s*(TD|T|退订|STOP|UNSUBSCRIBE|取消)\s*$", re.IGNORECASE)
_MAX_SKEW = 300  # seconds an inbound signature's timestamp may differ from the clock


def _audit(request: Request, who: Principal | None, action: str, target: str, detail: dict):
    with ctx(request).store() as db:
        audit(
            db,
            action,
            username=who.username if who else None,
            target=target,
            detail=detail,
            ip=client_ip(request),
        )


@router.get("/api/campaigns/{campaign_id}/dry-run", summary="Who a send would reach")
def api_dry_run(request: Request, campaign_id: str, who: Principal = require("view_members")):
    from memberlens.activation.sends import dry_run

    c = ctx(request)
    return dry_run(c.store, c.project, campaign_id).to_dict()


@router.post("/api/campaigns/{campaign_id}/send", summary="Send what is pending (audited)")
def api_send(request: Request, campaign_id: str, who: Principal = require("send_campaigns")):
    from memberlens.activation.sends import send

    c = ctx(request)
    result = send(c.store, c.project, campaign_id).to_dict()
    _audit(request, who, "campaign.send", campaign_id, result)
    return result


@router.get("/api/campaigns/{campaign_id}/status", summary="Sent, failed, pending, retried")
def api_status(request: Request, campaign_id: str, who: Principal = require("view_kpis")):
    from memberlens.activation.sends import status

    c = ctx(request)
    return status(c.store, campaign_id, c.project)


@router.get("/api/campaigns/{campaign_id}/preview", summary="A member's message")
def api_preview(
    request: Request,
    campaign_id: str,
    member: str = Query(..., min_length=1, max_length=64),
    who: Principal = require("view_members"),
):
    from memberlens.activation.sends import preview

    c = ctx(request)
    rendered, fields = preview(c.store, c.project, campaign_id, member)
    return {"member_id": member, **rendered.__dict__, "fields": fields}


def _rules(request: Request, day: dt.date) -> list[dict]:
    from memberlens.activation.triggers import firing_members, list_rules

    c = ctx(request)
    out = []
    for rule in list_rules(c.store.engine):
        row = rule.to_dict()
        row["would_fire"] = len(firing_members(c.store, c.project, rule, day))
        out.append(row)
    return out


@router.get("/api/triggers", summary="Trigger rules and who would fire today")
def api_triggers(
    request: Request,
    date: dt.date | None = Query(None, description="The day (default today)."),
    who: Principal = require("view_kpis"),
):
    day = date or dt.date.today()
    return {"date": day.isoformat(), "rules": _rules(request, day)}


@router.post("/api/triggers/{name}/enable", summary="Switch a rule on (audited)")
def api_trigger_enable(request: Request, name: str, who: Principal = require("send_campaigns")):
    return _switch(request, who, name, True)


@router.post("/api/triggers/{name}/disable", summary="Switch a rule off (audited)")
def api_trigger_disable(request: Request, name: str, who: Principal = require("send_campaigns")):
    return _switch(request, who, name, False)


def _switch(request: Request, who: Principal, name: str, on: bool) -> dict:
    from memberlens.activation.triggers import set_enabled

    set_enabled(ctx(request).store.engine, name, on, by=who.username)
    _audit(request, who, "trigger.enable" if on else "trigger.disable", name, {})
    return {"name": name, "enabled": on}


class RunIn(BaseModel):
    date: dt.date | None = Field(None, description="The day (default today).")


@router.post("/api/triggers/run", summary="Run the enabled rules for a day (audited)")
def api_triggers_run(request: Request, body: RunIn, who: Principal = require("send_campaigns")):
    from memberlens.activation.triggers import run_triggers

    c = ctx(request)
    day = body.date or dt.date.today()
    results = [r.to_dict() for r in run_triggers(c.store, c.project, day)]
    _audit(request, who, "trigger.run", day.isoformat(), {"runs": results})
    return {"date": day.isoformat(), "runs": results}


def _opt_out(request: Request, member_id: str, channel: str, source: str) -> int:
    from memberlens.activation.audiences import add_opt_outs

    c = ctx(request)
    added = add_opt_outs(c.project, [member_id], channel, source=source, store=c.store)
    _audit(request, None, "opt_out", member_id, {"channel": channel, "source": source})
    return added


@router.api_route("/unsubscribe/{token}", methods=["GET", "POST"], include_in_schema=False)
@public
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """A member's unsubscribe link (and RFC 8058 one-click POST): records the opt-out from the
    campaign's channel."""
    from memberlens.activation.channels import read_unsubscribe_token

    c = ctx(request)
    campaign_id, member_id, channel = read_unsubscribe_token(c.project.secret(), token)
    _opt_out(request, member_id, channel, f"unsubscribe:{campaign_id}")
    text = (
        "您已退订，不会再收到此渠道的营销消息。"
        if c.project.locale.startswith("zh")
        else ("You are unsubscribed: no more marketing messages on this channel.")
    )
    return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{html.escape(text)}</p>")


@router.post("/api/channels/{name}/inbound", summary="A member's SMS reply (signed)")
@public
async def inbound(request: Request, name: str) -> dict:
    """``{"member_id", "text"}`` from the gateway of webhook channel ``name``; a reply of TD, 退订,
    STOP or UNSUBSCRIBE opts the member out of that channel."""
    from memberlens.activation.channels import channel_settings, env_secret
    from memberlens.web.errors import Forbidden

    c = ctx(request)
    conf = channel_settings(c.project, name)
    secret = conf.get("secret") or env_secret(c.project, name, "secret_env") or ""
    body = await request.body()
    parts = dict(
        p.split("=", 1)
        for p in request.headers.get("X-Memberlens-Signature", "").split(",")
        if "=" in p
    )
    mac = hmac.new(str(secret).encode(), parts.get("t", "").encode() + b"." + body, hashlib.sha256)
    fresh = parts.get("t", "").isdigit() and abs(time.time() - int(parts["t"])) <= _MAX_SKEW
    if not (fresh and hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))):
        raise Forbidden(f"channel {name}: the reply's signature is missing, wrong or stale")
    message = json.loads(body or b"{}")
    member, reply = str(message.get("member_id", "")), str(message.get("text", ""))
    if member and STOP_WORDS.match(reply):
        _opt_out(request, member, name, "reply")
        return {"member_id": member, "opted_out": True}
    return {"member_id": member, "opted_out": False}
