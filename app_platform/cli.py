"""`flask --app wsgi ...` commands: db upgrade, bootstrap, create-user, install-template,
import-app, export-app, validate-template."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config():  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database() -> None:
    """Bring the platform tables to the newest migration, and make sure the built-in
    roles exist."""
    from alembic import command

    from app_platform.extensions import db
    from app_platform.services.users import ensure_builtin_roles

    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    session = db.session
    ensure_builtin_roles(session)
    session.commit()


@click.group("db", help="Database schema commands.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply the platform's migrations.")
@with_appcontext
def db_upgrade() -> None:
    upgrade_database()
    click.echo("database is up to date")


@click.command("create-user", help="Create a user (the password is asked for if omitted).")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, default=["member"], show_default=True)
@click.option("--display-name", default=None)
@with_appcontext
def create_user_command(username: str, password: str, roles: tuple[str, ...],
                        display_name: str | None) -> None:
    from app_platform.errors import APIError
    from app_platform.extensions import db
    from app_platform.services.users import create_user

    try:
        create_user(db.session, {"username": username, "password": password,
                                 "roles": list(roles), "display_name": display_name or username})
    except APIError as exc:
        raise click.ClickException(f"{exc.message} {exc.details or ''}".strip()) from None
    click.echo(f"created user {username} with roles {', '.join(roles)}")


@click.command("bootstrap", help="First-run setup used by `make run`: migrate, store a "
               "secret key, create the admin, install the shipped templates.")
@with_appcontext
def bootstrap_command() -> None:
    from app_platform.extensions import db
    from app_platform.models import User
    from app_platform.services.users import create_user

    key_file = Path(current_app.instance_path) / "secret_key"
    if not key_file.exists() and not os.environ.get("LOOM_SECRET_KEY"):
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    upgrade_database()
    if db.session.query(User).filter_by(username="admin").first() is None:
        password = os.environ.get("LOOM_ADMIN_PASSWORD")
        shown = password is None
        password = password or secrets.token_urlsafe(12)
        create_user(db.session, {"username": "admin", "password": password,
                                 "roles": ["admin"], "display_name": "管理员 Admin"})
        if shown:
            click.echo("=" * 60)
            click.echo(f"  created user 'admin' with password: {password}")
            click.echo("  (shown once; set LOOM_ADMIN_PASSWORD to choose it)")
            click.echo("=" * 60)
    if os.environ.get("LOOM_SAMPLE_DATA", "1") != "0":
        _install_shipped_templates()


def _install_shipped_templates() -> None:
    from app_platform.extensions import db
    from app_platform.models import App
    from app_platform.services import bundles

    for template in bundles.shipped_templates():
        if db.session.query(App).filter_by(key=template["key"]).first() is None:
            bundles.install_template(db.session, bundles.system_caller(), template["key"],
                                     with_sample_data=True)
            click.echo(f"installed template {template['key']}")


@click.command("install-template", help="Install a shipped template as an app.")
@click.argument("template_key")
@click.option("--app-key", default=None)
@click.option("--sample-data/--no-sample-data", default=False)
@with_appcontext
def install_template_command(template_key: str, app_key: str | None,
                             sample_data: bool) -> None:
    from app_platform.extensions import db
    from app_platform.services import bundles

    app = _cli_errors(lambda: bundles.install_template(
        db.session, bundles.system_caller(), template_key, app_key=app_key,
        with_sample_data=sample_data))
    click.echo(f"installed {template_key} as app {app.key}")


@click.command("import-app", help="Import an app bundle (a folder or .zip).")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--app-key", default=None, help="install under this key instead")
@with_appcontext
def import_app_command(path: Path, app_key: str | None) -> None:
    from app_platform.extensions import db
    from app_platform.services import bundles

    app = _cli_errors(lambda: bundles.import_bundle(db.session, bundles.system_caller(),
                                                    bundles.read_bundle(path),
                                                    app_key=app_key))
    click.echo(f"imported app {app.key}")


@click.command("export-app", help="Export an app as a bundle (.zip or a folder).")
@click.argument("app_key")
@click.argument("target", type=click.Path(path_type=Path))
@with_appcontext
def export_app_command(app_key: str, target: Path) -> None:
    from app_platform.extensions import db
    from app_platform.services import bundles

    files = _cli_errors(lambda: bundles.export_bundle(db.session, app_key))
    bundles.write_bundle(files, target)
    click.echo(f"exported {app_key} to {target}")


@click.command("validate-template", help="Check a bundle folder or zip without importing.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def validate_template_command(path: Path) -> None:
    from app_platform.services import bundles

    _cli_errors(lambda: bundles.validate_bundle(bundles.read_bundle(path)))
    click.echo(f"{path}: valid")


def _cli_errors(action):  # noqa: ANN001, ANN202
    from app_platform.errors import APIError
    from engines.form import FormError

    try:
        return action()
    except APIError as exc:
        lines = [exc.message] + [f"  {d.get('path')}: {d.get('message')}" for d in exc.details]
        raise click.ClickException("\n".join(lines)) from None
    except FormError as exc:
        lines = [exc.message] + [f"  {p.path}: {p.message}" for p in exc.problems]
        raise click.ClickException("\n".join(lines)) from None


def init_app(app: Flask) -> None:
    from app_platform.cli_import import import_records_command
    from app_platform.cli_ops import run_scheduler_command

    for command in (db_group, create_user_command, bootstrap_command, import_records_command,
                    run_scheduler_command,
                    install_template_command, import_app_command, export_app_command,
                    validate_template_command):
        app.cli.add_command(command)
