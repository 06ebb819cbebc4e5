"""Logging: request ids on every line, and card numbers redacted before anything is
written (a full card number must never reach a log).

``LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``message``, ``request_id``, ``pid`` and any ``extra`` fields such as the access log's
``status`` and ``duration_ms``) for log shippers; the default is one readable line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from flask import Flask, g, has_request_context

from engines.form.redact import PanRedactingFilter, redact_pans

# attributes every LogRecord has; anything else on a record came in through ``extra``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "taskName"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. The finished line is redacted once more: ``extra``
    values are not part of the message the redacting filter sees."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"), "pid": record.process,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return redact_pans(json.dumps(entry, ensure_ascii=False, default=str))


def init_app(app: Flask) -> None:
    handler = logging.StreamHandler()
    if str(app.config.get("LOG_FORMAT", "text")).lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PanRedactingFilter())
    logger = logging.getLogger("loom")
    if not any(isinstance(f, RequestIdFilter) for h in logger.handlers for f in h.filters):
        logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
