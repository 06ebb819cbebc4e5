"""The REST API under /api/v1 (contract: shared/API.md). Handlers are thin: parse,
authorize through the service, call it, serialize."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app):  # noqa: ANN001 - Flask app
    from app_platform.api import (  # noqa: F401  (route registration)
        apps,
        auth,
        bundles,
        entities,
        flow_simulation,
        flows,
        imports,
        openapi,
        records,
        reports,
        rules,
        settlement,
        templates,
        users,
    )

    app.register_blueprint(bp)
