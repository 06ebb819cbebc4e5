"""Logging: request ids on every line, and card numbers redacted before anything is
written (a full card number must never reach a log)."""

from __future__ import annotations

import logging

from flask import Flask, g, has_request_context

from engines.form.redact import PanRedactingFilter


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def init_app(app: Flask) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PanRedactingFilter())
    logger = logging.getLogger("loom")
    if not any(isinstance(f, RequestIdFilter) for h in logger.handlers for f in h.filters):
        logger.addHandler(handler)
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
