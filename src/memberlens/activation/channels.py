"""Outbound channels declared in ``memberlens.toml`` (``[channels.NAME]``).

Three kinds, one contract: :meth:`Channel.deliver` takes a batch of :class:`Message` and returns
a :class:`Delivery` saying which members were delivered, which failed for good (the dead-letter
list) and whether the channel is down (the rest of the batch stays pending, retried later).

- ``smtp`` (:mod:`memberlens.activation.channels_smtp`): e-mail, STARTTLS or TLS, login from
  the environment, a List-Unsubscribe header and link;
- ``webhook`` (:mod:`memberlens.activation.channels_webhook`): SMS gateways, app push, WeChat
  template messages: a signed JSON POST per batch, retried with back-off;
- ``export``: CSV or Excel lists with each member's talking points for stores and call centres.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from memberlens.exceptions import ConfigError

__all__ = [
    "Channel",
    "ChannelKind",
    "Delivery",
    "ExportChannel",
    "Message",
    "channel_settings",
    "message_id",
    "open_channel",
    "sign",
]

ChannelKind = Literal["smtp", "webhook", "export"]


@dataclass(frozen=True)
class Message:
    """One member's message of one campaign."""

    campaign_id: str
    member_id: str
    message_id: str
    language: str
    subject: str
    body: str
    unsubscribe_url: str
    address: str | None = None  # the e-mail address (smtp only)
    talking_points: Mapping[str, Any] = field(default_factory=dict)  # export columns


@dataclass(frozen=True)
class Delivery:
    """What happened to a batch: delivered and failed member ids, and whether the channel is
    down (the batch's other members were not delivered and stay pending)."""

    delivered: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)  # member_id -> error
    down: str | None = None  # why, when the channel could not be reached


class Channel(Protocol):
    name: str
    kind: ChannelKind
    #: members need an e-mail address (the others address members by member_id)
    needs_address: bool

    def deliver(self, messages: Sequence[Message]) -> Delivery: ...

    def close(self) -> None: ...


def message_id(campaign_id: str, member_id: str, channel: str) -> str:
    """A stable id of the message (the same on a retry, so a receiver can de-duplicate)."""
    key = f"{campaign_id}\x1f{member_id}\x1f{channel}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``X-Memberlens-Signature``: ``t=UNIX_TIME,v1=HEX``, HEX = HMAC-SHA256 of ``t.body``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def channel_settings(project: Any, name: str) -> dict[str, Any]:
    """The checked ``[channels.NAME]`` table of the project (a clear error when it has none)."""
    channels = dict(project.settings.get("channels", {}))
    if name not in channels:
        declared = ", ".join(channels) or "none"
        raise ConfigError(
            f"{project.file}: no [channels.{name}] (declared: {declared}); add one with "
            'kind = "smtp", "webhook" or "export" (see docs/activation.md)'
        )
    return dict(channels[name])


def env_secret(project: Any, name: str, key: str) -> str | None:
    """The value of the environment variable named by ``[channels.NAME] key`` (None: unset key);
    a named variable that is not set is an error naming it."""
    var = channel_settings(project, name).get(key)
    if var is None:
        return None
    value = os.environ.get(str(var))
    if value is None:
        raise ConfigError(
            f"{project.file}: [channels.{name}] {key} = {var!r}, but ${var} is not set; "
            f"export {var}=... before sending"
        )
    return value


@dataclass
class ExportChannel:
    """Lists for stores and call centres: one row per member with the talking points, appended
    per batch to ``DIR/CAMPAIGN-CHANNEL.csv`` (or one ``.xlsx`` part per batch)."""

    name: str
    folder: Path
    format: Literal["csv", "xlsx"] = "csv"
    kind: ChannelKind = "export"
    needs_address: bool = False

    def deliver(self, messages: Sequence[Message]) -> Delivery:
        if not messages:
            return Delivery()
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "member_id": m.member_id,
                **{k: _cell(v) for k, v in m.talking_points.items()},
                "talking_points": m.body,
                "language": m.language,
            }
            for m in messages
        ]
        stem = f"{messages[0].campaign_id}-{self.name}"
        try:
            if self.format == "csv":
                path = self.folder / f"{stem}.csv"
                new = not path.exists()
                with path.open("a", encoding="utf-8-sig" if new else "utf-8", newline="") as fh:
                    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    if new:
                        writer.writeheader()
                    writer.writerows(rows)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                import pandas as pd

                part = len(list(self.folder.glob(f"{stem}-part*.xlsx"))) + 1
                pd.DataFrame(rows).to_excel(
                    self.folder / f"{stem}-part{part:04d}.xlsx", index=False
                )
        except OSError as exc:
            return Delivery(down=f"cannot write the list in {self.folder}: {exc}")
        return Delivery(delivered=tuple(m.member_id for m in messages))

    def close(self) -> None:
        pass


def _cell(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else value


def open_channel(project: Any, name: str) -> Channel:
    """The channel ``[channels.NAME]`` of ``project``, ready to deliver."""
    conf = channel_settings(project, name)
    kind = conf["kind"]
    if kind == "smtp":
        from memberlens.activation.channels_smtp import SmtpChannel

        return SmtpChannel(
            name=name,
            host=str(conf["host"]),
            port=int(conf.get("port", 465 if conf.get("ssl") else 587)),
            sender=str(conf["sender"]),
            starttls=bool(conf.get("starttls", False)),
            ssl=bool(conf.get("ssl", False)),
            username=env_secret(project, name, "username_env"),
            password=env_secret(project, name, "password_env"),
            timeout=float(conf.get("timeout", 30.0)),
        )
    if kind == "webhook":
        from memberlens.activation.channels_webhook import WebhookChannel

        secret = conf.get("secret")
        if secret is None:
            secret = env_secret(project, name, "secret_env")
        return WebhookChannel(
            name=name,
            url=str(conf["url"]),
            secret=str(secret).encode("utf-8"),
            medium=str(conf.get("medium", "other")),
            timeout=float(conf.get("timeout", 10.0)),
            max_retries=int(conf.get("max_retries", 3)),
            backoff=float(conf.get("backoff", 0.5)),
            dead_letter=project.state_dir / "dead-letter" / f"{name}.jsonl",
        )
    folder = Path(str(conf.get("dir", "exports")))
    return ExportChannel(
        name=name,
        folder=folder if folder.is_absolute() else project.root / folder,
        format=conf.get("format", "csv"),
    )


def unsubscribe_token(secret: bytes, campaign_id: str, member_id: str, channel: str) -> str:
    """A token naming (campaign, member, channel), signed with the project secret, for the
    member's unsubscribe link (``/unsubscribe/TOKEN``)."""
    import base64
    import json

    raw = json.dumps([campaign_id, member_id, channel], separators=(",", ":")).encode("utf-8")
    data = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    mac = hmac.new(secret, data.encode("ascii"), hashlib.sha256).hexdigest()[:32]
    return f"{data}.{mac}"


def read_unsubscribe_token(secret: bytes, token: str) -> tuple[str, str, str]:
    """(campaign_id, member_id, channel) of a token made by :func:`unsubscribe_token`."""
    import base64
    import json

    from memberlens.exceptions import MemberlensError

    data, _, mac = token.partition(".")
    good = hmac.new(secret, data.encode("ascii", "replace"), hashlib.sha256).hexdigest()[:32]
    if not mac or not hmac.compare_digest(mac, good):
        raise ConfigError("this unsubscribe link is not valid (it was altered or cut short)")
    try:
        campaign_id, member_id, channel = json.loads(
            base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        )
    except (ValueError, TypeError) as exc:  # pragma: no cover - signed, so well formed
        raise MemberlensError(f"unsubscribe link: {exc}") from None
    return str(campaign_id), str(member_id), str(channel)
