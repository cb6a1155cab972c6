"""The webhook channel: a signed JSON POST per batch (SMS gateways, app push, WeChat).

Body: ``{"campaign_id", "channel", "medium", "batch_id", "messages": [{"message_id",
"member_id", "language", "subject", "body", "unsubscribe_url"}, ...]}`` (UTF-8 JSON).
Headers: ``X-Memberlens-Signature: t=UNIX_TIME,v1=HEX`` where HEX is the HMAC-SHA256 of
``t + "." + body`` under the channel's secret (the receiver recomputes it and rejects a stale
``t``), and ``Idempotency-Key: batch_id`` (the same on a retry of the same batch).

A 2xx answer delivers the batch. A 5xx answer, a timeout or a refused connection is retried
``max_retries`` times with exponential back-off (``backoff``, 2 x ``backoff``, ...); after that
the channel is down and the batch stays pending for the next ``campaign send``. Any other answer
(4xx: the receiver refuses the batch) fails it for good: its messages go to the dead-letter list
(``.memberlens/dead-letter/CHANNEL.jsonl``, one JSON line per message with the answer).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from memberlens.activation.channels import ChannelKind, Delivery, Message, sign

__all__ = ["WebhookChannel"]


@dataclass
class WebhookChannel:
    name: str
    url: str
    secret: bytes
    medium: str = "other"
    timeout: float = 10.0
    max_retries: int = 3
    backoff: float = 0.5
    dead_letter: Path | None = None
    kind: ChannelKind = "webhook"
    needs_address: bool = False
    sleep: Callable[[float], None] = time.sleep
    _client: httpx.Client | None = field(default=None, repr=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def payload(self, messages: Sequence[Message]) -> bytes:
        ids = "".join(m.message_id for m in messages)
        batch_id = hashlib.sha256(ids.encode()).hexdigest()[:32]
        body = {
            "campaign_id": messages[0].campaign_id,
            "channel": self.name,
            "medium": self.medium,
            "batch_id": batch_id,
            "messages": [
                {
                    "message_id": m.message_id,
                    "member_id": m.member_id,
                    "language": m.language,
                    "subject": m.subject,
                    "body": m.body,
                    "unsubscribe_url": m.unsubscribe_url,
                }
                for m in messages
            ],
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def deliver(self, messages: Sequence[Message]) -> Delivery:
        if not messages:
            return Delivery()
        body = self.payload(messages)
        batch_id = json.loads(body)["batch_id"]
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "X-Memberlens-Signature": sign(self.secret, int(time.time()), body),
                "Idempotency-Key": batch_id,
            }
            try:
                answer = self._http().post(self.url, content=body, headers=headers)
            except httpx.TransportError as exc:  # refused, reset, timed out
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= answer.status_code < 300:
                return Delivery(delivered=tuple(m.member_id for m in messages))
            problem = f"HTTP {answer.status_code}: {answer.text[:200]}"
            if answer.status_code < 500 and answer.status_code != 429:
                self._dead_letter(messages, problem)
                return Delivery(failed={m.member_id: problem for m in messages})
        return Delivery(down=f"{self.url}: {problem} (after {self.max_retries} retries)")

    def _dead_letter(self, messages: Sequence[Message], problem: str) -> None:
        if self.dead_letter is None:
            return
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_letter.open("a", encoding="utf-8") as fh:
            for m in messages:
                line = {
                    "campaign_id": m.campaign_id,
                    "member_id": m.member_id,
                    "message_id": m.message_id,
                    "error": problem,
                }
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
