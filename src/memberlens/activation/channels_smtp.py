"""The e-mail channel: SMTP with STARTTLS or TLS and a login from the environment.

Each message carries ``Message-ID`` (stable: the same on a retry), ``List-Unsubscribe`` (the
member's one-click link, RFC 8058 ``List-Unsubscribe-Post``) and the unsubscribe link in the
text; subject and body in the member's language (UTF-8). One connection serves a batch; a
recipient the server refuses fails (dead-letter), a connection that drops leaves the rest of the
batch pending.
"""

from __future__ import annotations

import smtplib
import ssl as tls
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from memberlens.activation.channels import ChannelKind, Delivery, Message

__all__ = ["SmtpChannel", "email_message"]


def email_message(sender: str, message: Message) -> EmailMessage:
    """The e-mail of one message (headers, plain-text body with the unsubscribe link)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.address or ""
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1].strip(">") or "memberlens.invalid"
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["X-Memberlens-Campaign"] = message.campaign_id
    body = message.body
    if message.unsubscribe_url not in body:
        label = "退订" if message.language.startswith("zh") else "Unsubscribe"
        body = f"{body}\n\n{label}: {message.unsubscribe_url}"
    mail.set_content(body, charset="utf-8")  # (it replaces every Content-* header)
    mail["Content-Language"] = message.language
    return mail


@dataclass
class SmtpChannel:
    name: str
    host: str
    port: int
    sender: str
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    kind: ChannelKind = "smtp"
    needs_address: bool = True

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=tls.create_default_context()
            )
        else:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                server.starttls(context=tls.create_default_context())
        if self.username:
            server.login(self.username, self.password or "")
        return server

    def deliver(self, messages: Sequence[Message]) -> Delivery:
        if not messages:
            return Delivery()
        try:
            server = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(down=f"{self.host}:{self.port}: {type(exc).__name__}: {exc}")
        delivered: list[str] = []
        failed: dict[str, str] = {}
        down = None
        try:
            for m in messages:
                try:
                    server.send_message(email_message(self.sender, m))
                    delivered.append(m.member_id)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                    failed[m.member_id] = f"{type(exc).__name__}: {exc}"
                except (OSError, smtplib.SMTPException) as exc:
                    down = f"{self.host}:{self.port}: {type(exc).__name__}: {exc}"
                    break
        finally:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                server.close()
        return Delivery(delivered=tuple(delivered), failed=failed, down=down)

    def close(self) -> None:
        pass
