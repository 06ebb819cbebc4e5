"""Side effects that leave the database: signed webhooks (retried with backoff by a
scheduler job) and mail (SMTP, or a test outbox table when MAIL_OUTBOX is on).

Why webhooks are delivered after their action's commit: the delivery row (rule_action_runs,
status pending) is the durable promise; a slow or dead receiver never holds a database
transaction open, and a crash between commit and delivery only delays it to the next sweep.
Receivers verify ``X-Loom-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>``
and dedupe on ``X-Loom-Delivery`` (the action's idempotency key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app_platform.errors import Unprocessable
from app_platform.models import utcnow
from app_platform.models.rules import MailMessage, RuleActionRun

log = logging.getLogger("loom.rules")
BACKOFF_SECONDS = (30, 120, 600, 1800, 7200)
"""Wait before retry n (then give up): about 2.7 hours of retries in all."""


def signing_key() -> bytes:
    configured = current_app.config.get("WEBHOOK_SIGNING_KEY")
    if configured:
        return configured.encode() if isinstance(configured, str) else configured
    return hashlib.sha256(b"loom-webhook:" + current_app.secret_key.encode()).digest()


def signature(key: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def deliver(session: Session, row_id: int, now: dt.datetime) -> str:
    """Try one pending delivery now; returns its new status (done / pending / failed)."""
    row = session.get(RuleActionRun, row_id)
    if row is None or row.status != "pending":
        return row.status if row else "missing"
    request = dict(row.result)
    body = json.dumps(request["body"], ensure_ascii=False, sort_keys=True,
                      default=str).encode("utf-8")
    timestamp = int(now.timestamp())
    headers = {**request.get("headers", {}), "Content-Type": "application/json",
               "X-Loom-Delivery": row.idempotency_key,
               "X-Loom-Signature": signature(signing_key(), timestamp, body)}
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_S", 10))
    try:
        response = httpx.request(request.get("method", "POST"), request["url"], content=body,
                                 headers=headers, timeout=timeout, follow_redirects=False)
        ok, outcome = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        ok, outcome = False, f"{exc.__class__.__name__}: {exc}"
    attempts = [*request.get("attempts", []), {"at": now.isoformat(), "outcome": outcome}]
    row.attempts += 1
    if ok:
        row.status, row.next_attempt_at = "done", None
    elif row.attempts > len(BACKOFF_SECONDS):
        row.status, row.next_attempt_at = "failed", None
        log.error("webhook %s gave up after %s attempts: %s", row.idempotency_key,
                  row.attempts, outcome)
    else:
        row.next_attempt_at = now + dt.timedelta(seconds=BACKOFF_SECONDS[row.attempts - 1])
    row.result = {**request, "attempts": attempts}
    session.commit()
    return row.status


def deliver_due(session: Session, now: dt.datetime, limit: int = 100) -> int:
    """Retry every pending delivery whose backoff has passed (the scheduler's job)."""
    due = list(session.scalars(sa.select(RuleActionRun.id).where(
        RuleActionRun.status == "pending", RuleActionRun.next_attempt_at <= now)
        .order_by(RuleActionRun.next_attempt_at).limit(limit)))
    session.commit()
    for row_id in due:
        deliver(session, row_id, now)
    return len(due)


def deliver_due_job(app: Flask, now: dt.datetime | None = None) -> int:
    from app_platform.extensions import db

    with app.app_context():
        return deliver_due(db.session, now or utcnow())


def send_mail(session: Session, recipient: str, subject: str, body: str) -> MailMessage:
    """Send through the configured SMTP server, or keep it in the outbox (MAIL_OUTBOX)."""
    config = current_app.config
    row = MailMessage(recipient=recipient, subject=subject, body=body, status="outbox",
                      created_at=utcnow())
    if not config.get("MAIL_OUTBOX"):
        host = config.get("MAIL_SMTP_HOST")
        if not host:
            raise Unprocessable("no SMTP server configured (MAIL_SMTP_HOST) and MAIL_OUTBOX "
                                "is off: the mail cannot be sent")
        message = EmailMessage()
        message["From"] = config.get("MAIL_FROM", "loom@localhost")
        message["To"], message["Subject"] = recipient, subject
        message.set_content(body)
        try:
            with smtplib.SMTP(host, int(config.get("MAIL_SMTP_PORT", 25)), timeout=10) as smtp:
                if config.get("MAIL_SMTP_TLS"):
                    smtp.starttls()
                if config.get("MAIL_SMTP_USER"):
                    smtp.login(config["MAIL_SMTP_USER"], config.get("MAIL_SMTP_PASSWORD", ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise Unprocessable(f"the mail to {recipient} could not be sent: {exc}") from None
        row.status = "sent"
    session.add(row)
    return row


def delivery_status(session: Session, keys: list[str]) -> dict[str, Any]:
    if not keys:
        return {}
    rows = session.execute(sa.select(RuleActionRun.idempotency_key, RuleActionRun.status,
                                     RuleActionRun.attempts).where(
        RuleActionRun.idempotency_key.in_(keys))).all()
    return {key: {"status": status, "attempts": attempts} for key, status, attempts in rows}
