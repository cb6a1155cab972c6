"""Channels against real receivers: the webhook's signed POSTs on a real HTTP server (retries,
back-off, dead letters, a channel that is down) and e-mail on a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
from email import policy

import pytest

from memberlens.activation.channels import Message, read_unsubscribe_token, unsubscribe_token
from memberlens.activation.channels_smtp import SmtpChannel
from memberlens.activation.channels_webhook import WebhookChannel
from memberlens.exceptions import ConfigError


def _messages(n: int, language: str = "en") -> list[Message]:
    return [
        Message(
            campaign_id="C1",
            member_id=f"M{i}",
            message_id=f"id{i}",
            language=language,
            subject="您好" if language == "zh-CN" else "Hello",
            body=f"body {i}",
            unsubscribe_url=f"https://shop.example/unsubscribe/t{i}",
            address=f"m{i}@example.com",
        )
        for i in range(n)
    ]


def _hook(receiver, tmp_path, **kw) -> WebhookChannel:
    delays: list[float] = []
    channel = WebhookChannel(
        name="sms",
        url=receiver.url,
        secret=b"s3cret",
        dead_letter=tmp_path / "dead.jsonl",
        sleep=delays.append,
        **kw,
    )
    channel.delays = delays  # type: ignore[attr-defined]
    return channel


def test_webhook_signs_each_batch_as_documented(receiver, tmp_path):
    channel = _hook(receiver, tmp_path)
    result = channel.deliver(_messages(3))
    channel.close()
    assert result.delivered == ("M0", "M1", "M2") and result.down is None
    (request,) = receiver.requests
    header = request["headers"]["X-Memberlens-Signature"]
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    # the receiver's check, written from the documented rule with the standard library
    expected = hmac.new(b"s3cret", t.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    body = json.loads(request["body"])
    assert [m["member_id"] for m in body["messages"]] == ["M0", "M1", "M2"]
    assert request["headers"]["Idempotency-Key"] == body["batch_id"]


def test_webhook_retries_5xx_with_backoff_then_delivers(receiver, tmp_path):
    receiver.answers = [503, 500]
    channel = _hook(receiver, tmp_path, backoff=0.5, max_retries=3)
    result = channel.deliver(_messages(2))
    channel.close()
    assert result.delivered == ("M0", "M1")
    assert [r["status"] for r in receiver.requests] == [503, 500, 200]
    assert channel.delays == [0.5, 1.0]  # type: ignore[attr-defined]
    # the same batch id on every attempt, so a receiver can de-duplicate
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1


def test_webhook_down_after_retries_leaves_the_batch_pending(receiver, tmp_path):
    receiver.answers = [502] * 4
    channel = _hook(receiver, tmp_path, max_retries=3)
    result = channel.deliver(_messages(2))
    channel.close()
    assert result.delivered == () and not result.failed and "502" in (result.down or "")
    assert len(receiver.requests) == 4
    closed = _hook(receiver, tmp_path, max_retries=1)
    closed.url = "http://127.0.0.1:9/hook"  # the discard port: connection refused
    assert closed.deliver(_messages(1)).down


def test_webhook_4xx_goes_to_the_dead_letter_list(receiver, tmp_path):
    receiver.answers = [422]
    channel = _hook(receiver, tmp_path)
    result = channel.deliver(_messages(2))
    channel.close()
    assert set(result.failed) == {"M0", "M1"} and result.down is None
    lines = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [x["member_id"] for x in lines] == ["M0", "M1"] and "422" in lines[0]["error"]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as Handler

    class Inbox(Handler):
        def __init__(self):
            super().__init__()
            self.mails = []

        def handle_message(self, message):
            self.mails.append(message)

    import socket

    with socket.socket() as s:  # a free port (aiosmtpd 1.4 cannot listen on port 0)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def test_smtp_headers_unsubscribe_link_and_both_languages(smtp_server):
    controller, inbox = smtp_server
    channel = SmtpChannel(
        name="mail", host="127.0.0.1", port=controller.port, sender="shop@example.com"
    )
    messages = _messages(1, "zh-CN") + [
        Message(**{**_messages(2)[1].__dict__, "body": "Hi, offer inside"})
    ]
    result = channel.deliver(messages)
    assert result.delivered == ("M0", "M1")
    raw = [m.as_bytes() for m in inbox.mails]
    zh, en = (email.message_from_bytes(r, policy=policy.default) for r in raw)
    assert zh["Subject"] == "您好" and zh["To"] == "m0@example.com"
    assert zh["From"] == "shop@example.com" and zh["Content-Language"] == "zh-CN"
    assert zh["List-Unsubscribe"] == "<https://shop.example/unsubscribe/t0>"
    assert zh["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert zh["Message-ID"] == "<id0@example.com>"
    assert "退订: https://shop.example/unsubscribe/t0" in zh.get_content()
    assert en["Subject"] == "Hello"
    assert "Unsubscribe: https://shop.example/unsubscribe/t1" in en.get_content()


def test_smtp_down_leaves_everything_pending():
    channel = SmtpChannel(name="mail", host="127.0.0.1", port=9, sender="a@example.com", timeout=2)
    result = channel.deliver(_messages(2))
    assert result.delivered == () and result.down


def test_unsubscribe_token_round_trip_and_tampering():
    token = unsubscribe_token(b"k", "C1", "会员1", "sms")
    assert read_unsubscribe_token(b"k", token) == ("C1", "会员1", "sms")
    with pytest.raises(ConfigError, match="not valid"):
        read_unsubscribe_token(b"other", token)
    with pytest.raises(ConfigError, match="not valid"):
        read_unsubscribe_token(b"k", token[:-2])


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_lists_with_talking_points(tmp_path, fmt):
    import pandas as pd

    from memberlens.activation.channels import ExportChannel

    channel = ExportChannel(name="stores", folder=tmp_path / "lists", format=fmt)
    batch = [
        Message(
            **{
                **m.__dict__,
                "talking_points": {"name": "张*", "segment": "important_value",
                                   "recommendations": ["保温杯", "茶叶"]},
            }
        )
        for m in _messages(3, "zh-CN")
    ]  # fmt: skip
    assert channel.deliver(batch[:2]).delivered == ("M0", "M1")
    assert channel.deliver(batch[2:]).delivered == ("M2",)
    if fmt == "csv":
        table = pd.read_csv(tmp_path / "lists" / "C1-stores.csv", encoding="utf-8-sig")
    else:
        parts = sorted((tmp_path / "lists").glob("C1-stores-part*.xlsx"))
        assert len(parts) == 2
        table = pd.concat([pd.read_excel(p) for p in parts], ignore_index=True)
    assert table.member_id.tolist() == ["M0", "M1", "M2"]
    assert table.name.tolist() == ["张*"] * 3
    assert table.recommendations[0] == "保温杯, 茶叶"
    assert table.talking_points.tolist() == ["body 0", "body 1", "body 2"]
