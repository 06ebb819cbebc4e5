"""`flask --app wsgi import-records APP ENTITY FILE [--mode] [--dry-run] [--as USER]`:
the same import job as the API, run in this process with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("import-records", help="Import a CSV/XLSX file into an entity's records.")
@click.argument("app_key")
@click.argument("entity_key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(["all_or_nothing", "skip_bad_rows"]),
              default="all_or_nothing", show_default=True)
@click.option("--dry-run", is_flag=True, help="Check every row, import nothing.")
@click.option("--mapping", default=None, help='JSON {"column header": "field key"}.')
@click.option("--as", "username", default=None,
              help="Act as this user (default: the system account, with admin rights).")
@with_appcontext
def import_records_command(app_key: str, entity_key: str, file: Path, mode: str,
                           dry_run: bool, mapping: str | None, username: str | None) -> None:
    from app_platform.auth.identity import Caller
    from app_platform.errors import APIError
    from app_platform.extensions import db
    from app_platform.models import Job, User
    from app_platform.services import apps, entities, imports
    from app_platform.services.bundles import system_caller
    from engines.form import FormError

    session = db.session
    try:
        if username:
            user = session.query(User).filter_by(username=username).one_or_none()
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            caller = Caller(user=user, scopes=["*"], via="token")
        else:
            caller = system_caller()
        app = apps.app_for(session, caller, app_key)
        entity = entities.get_entity(session, app, entity_key)
        with open(file, "rb") as stream:
            job = imports.start_import(session, caller, app, entity, stream, file.name,
                                       mode=mode, dry_run=dry_run,
                                       mapping=json.loads(mapping) if mapping else None)
    except (APIError, FormError) as exc:
        details = "; ".join(f"{d['path']}: {d['message']}" for d in exc.details()) \
            if isinstance(exc, FormError) else "; ".join(
                f"{d['path']}: {d['message']}" for d in exc.details)
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    except ValueError as exc:
        raise click.ClickException(f"--mapping is not JSON: {exc}") from None

    total = int(job.params.get("estimated_rows") or 1)
    with click.progressbar(length=total, label=f"importing {file.name}",
                           show_pos=True) as bar:
        def progress(state: Job) -> None:
            bar.update(min(state.processed, total) - bar.pos)

        imports.run_in_context(current_app._get_current_object(), job.id,  # type: ignore
                               caller=caller, on_progress=progress)
    done = session.get(Job, job.id)
    session.refresh(done)
    for error in done.errors[:50]:
        click.echo(f"row {error['row']} {error['field'] or '-'}: {error['message']}",
                   err=True)
    result = done.result
    if len(done.errors) > 50 or result.get("errors_truncated"):
        click.echo(f"... {result.get('error_count', len(done.errors))} problems in all",
                   err=True)
    verb = "would import" if dry_run else "imported"
    count = result.get("valid_rows", 0) if dry_run else done.imported
    click.echo(f"{done.state}: {done.processed} rows read, {verb} {count}, "
               f"{result.get('bad_rows', 0)} bad rows")
    if done.state != "done" or (result.get("bad_rows") and mode == "all_or_nothing"):
        raise SystemExit(1)
