"""Upgrading an installed app to a newer version of its template.

Three-way decision per definition file, against the baseline the install (or the last
upgrade) recorded in the audit log: the template's file hashes then, and the app's own
exported hashes right after applying them.

- changed in the template, untouched in the app: the new definition comes in;
- changed in both: the business user's version stays and the file is listed as a
  conflict to review (with both versions' hashes);
- new in the template: added; gone from the template: kept (nothing is ever dropped);
- entities change only through the safe publish path (add columns, hide removed fields),
  so no record and no column is lost.

Why hashes of the exported form: that is exactly what a designer edit changes, and the
same function produces it at install time and now.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import APIError, Conflict, Unprocessable
from app_platform.services import apps, entities
from app_platform.services.bundles import (
    _ensure_roles,
    apply_definitions,
    baseline,
    definition_digests,
    export_bundle,
    record_baseline,
    template_files,
    validate_bundle,
)
from app_platform.services.flow_runtime import StepTransaction
from engines.form import FormError


def _version_tuple(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (text or "0").split("."))
    except ValueError:
        return (0,)


def upgrade_app(session: Session, caller: Caller, app_key: str,
                template_key: str | None = None, files: dict[str, bytes] | None = None,
                *, dry_run: bool = False) -> dict[str, Any]:
    """Bring ``app_key`` to the shipped template's version (or to ``files``); returns the
    report: added, updated, kept (changed only in the app), conflicts, version change."""
    app = apps.app_for(session, caller, app_key, "manage")
    if files is None:
        source_key = template_key or (app.installed_from or "").split("@", 1)[0]
        if not source_key:
            raise Unprocessable(f"app {app_key!r} was not installed from a template; name one")
        template, files = template_files(source_key)
    bundle = validate_bundle(files)
    manifest = bundle["manifest"]
    new_version = str(manifest.get("version", "1.0.0"))
    if _version_tuple(new_version) < _version_tuple(app.version):
        raise Conflict(f"app {app_key!r} is at {app.version}; {new_version} is older")
    base = baseline(session, app) or {"source": {}, "installed": {}}
    plan = _plan(definition_digests(files), base, definition_digests(export_bundle(session,
                                                                                   app_key)))
    report = {"app": app.key, "from_version": app.version, "to_version": new_version,
              **{k: sorted(v) for k, v in plan.items()}, "dry_run": dry_run}
    if dry_run:
        return report
    try:
        _apply(session, caller, app, bundle, set(plan["added"]) | set(plan["updated"]),
               report)
        app.version = new_version
        app.installed_from = f"{manifest['key']}@{new_version}"
        record_baseline(session, caller, app, files, "bundle.upgrade")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


def _plan(source: dict[str, str], base: dict[str, Any],
          current: dict[str, str]) -> dict[str, list[Any]]:
    plan: dict[str, list[Any]] = {"added": [], "updated": [], "kept": [], "unchanged": [],
                                  "conflicts": []}
    for name, new_hash in sorted(source.items()):
        template_changed = base["source"].get(name) != new_hash
        if name not in current:
            if name in base["installed"]:
                # the user deleted it; bring it back only if the template changed it
                bucket = "conflicts" if template_changed else "kept"
                if bucket == "conflicts":
                    plan[bucket].append({"file": name, "reason": "deleted in the app, "
                                         "changed in the template"})
                else:
                    plan[bucket].append(name)
            else:
                plan["added"].append(name)
            continue
        user_changed = base["installed"].get(name) != current[name]
        if not template_changed:
            plan["kept" if user_changed else "unchanged"].append(name)
        elif not user_changed:
            plan["updated"].append(name)
        else:
            plan["conflicts"].append({"file": name, "reason": "changed in the app and in "
                                      "the template; the app's version was kept"})
    return plan


def _apply(session: Session, caller: Caller, app: Any, bundle: dict[str, Any],
           names: set[str], report: dict[str, Any]) -> None:
    """Entities first (new ones created, changed ones published safely), then the rest."""
    step = StepTransaction(session)
    _ensure_roles(session, bundle["grants"])
    existing = {e.key for e in entities.list_entities(session, app)}
    known = existing | {d["key"] for d in bundle["entities"]}
    for definition in bundle["entities"]:
        name = f"entities/{definition['key']}.json"
        if name not in names:
            continue
        try:
            if definition["key"] in existing:
                entities.update_entity(step, caller, app, definition["key"],  # type: ignore[arg-type]
                                       json.loads(json.dumps(definition)))
            else:
                entities.create_entity(session, caller, app, definition, commit=False,
                                       known=known)
        except (FormError, APIError) as exc:
            # an unsafe change (say, a type change over data) stays the app's business
            report["updated"] = [n for n in report["updated"] if n != name]
            report["added"] = [n for n in report["added"] if n != name]
            report["conflicts"].append({"file": name, "reason": f"not applied: {exc}"})
    apply_definitions(step, caller, app, bundle, only=names)  # type: ignore[arg-type]
