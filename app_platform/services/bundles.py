"""App bundles: a folder (or zip of it) with ``app.json``, ``grants.json``, ``entities/``,
``flows/`` (designer JSON or a JSON pointer to a ``.bpmn``), ``rules/``, ``reports/``,
``dashboards/`` and ``seed/`` sample records. Import validates every file first
(``bundles_check``) and applies everything in one transaction; export writes the same
files back, byte-stable, so export -> import -> export is lossless.

Why a shipped template may carry ``seed/seed.py`` and an upload may not: a generator
makes realistic sample data of any size, but code in an uploaded zip would run on the
server; only folders under ``app_templates/`` (part of the installation) are trusted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import DEFAULT_GRANTS
from app_platform.errors import NotFound, Unprocessable
from app_platform.models import App, Role, User
from app_platform.models.flows import FlowDefinition
from app_platform.models.reports import DashboardDefinition, ReportDefinition
from app_platform.services import apps, audit, dashboards, entities, flows, reports
from app_platform.services.bundles_check import dump_json, rules_service, validate_bundle
from app_platform.services.flow_runtime import StepTransaction
from app_platform.services.records import RecordService

__all__ = [
    "BASELINE_ACTIONS", "SAMPLE_SIZE", "TEMPLATES_DIR", "apply_definitions", "dump_json",
    "export_bundle", "import_bundle", "install_template", "read_bundle", "shipped_templates",
    "system_caller", "template_files", "validate_bundle", "write_bundle", "zip_bundle",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "app_templates"
MAX_BUNDLE_FILES = 2000
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
SAMPLE_SIZE = 40  # what `make run` installs: a small living system, fast to create
BASELINE_ACTIONS = ("bundle.install", "bundle.upgrade")


def system_caller() -> Caller:
    """The identity CLI commands and installers act as: an admin named ``system``."""
    user = User(username="system", display_name="system", password_hash="!")
    user.roles = [Role(key="admin", name="admin")]
    return Caller(user=user, scopes=["*"], via="token")


def read_bundle(source: Path | bytes) -> dict[str, bytes]:
    """{relative path: content} from a folder, a zip file path, or zip bytes."""
    if isinstance(source, Path) and source.is_dir():
        files = {}
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(source).as_posix()] = path.read_bytes()
        return files
    data = source.read_bytes() if isinstance(source, Path) else source
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unprocessable("the bundle is not a zip file", code="invalid_bundle") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_BUNDLE_FILES or sum(i.file_size for i in infos) > MAX_BUNDLE_BYTES:
        raise Unprocessable("the bundle is too large", code="invalid_bundle")
    names = [i.filename for i in infos]
    prefix = _common_folder(names)
    files = {}
    for info in infos:
        name = info.filename[len(prefix):]
        if name.startswith("/") or ".." in name.split("/"):
            raise Unprocessable(f"unsafe path in bundle: {info.filename}", code="invalid_bundle")
        files[name] = _read_member(archive, info)
    return files


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member, never more than it declares (a zip bomb lies about sizes); a damaged
    member is the uploader's problem (422), not a server error."""
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise Unprocessable(f"{info.filename} is damaged in the zip: {exc}",
                            code="invalid_bundle") from None
    if len(data) > info.file_size:
        raise Unprocessable(f"{info.filename} is larger than the zip says",
                            code="invalid_bundle")
    return data


def _common_folder(names: list[str]) -> str:
    """Zips made by 'compress folder' put everything under one top folder."""
    if names and "app.json" not in names:
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            return tops.pop() + "/"
    return ""


# -- import ----------------------------------------------------------------------------------
def import_bundle(session: Session, caller: Caller, files: dict[str, bytes], *,
                  app_key: str | None = None, with_seed: bool = True,
                  installed_from: str | None = None,
                  seed_records: dict[str, list[Any]] | None = None) -> App:
    """Validate all, then create the app and everything in it in one transaction.
    ``seed_records`` (from a shipped template's generator) replace the seed/*.json files."""
    bundle = validate_bundle(files)
    manifest = bundle["manifest"]
    step = StepTransaction(session)  # the services commit per call; here only at the end
    try:
        _ensure_roles(session, bundle["grants"])
        grants = {**DEFAULT_GRANTS, **bundle["grants"].get("grants", {})}
        app = apps.create_app_record(
            session, caller, {"key": app_key or manifest["key"], "name": manifest["name"],
                              "description": manifest.get("description", ""),
                              "grants": grants},
            installed_from=installed_from, version=str(manifest.get("version", "1.0.0")),
            commit=False)
        created = {}
        for definition in bundle["entities"]:
            created[definition["key"]] = entities.create_entity(
                session, caller, app, definition, commit=False,
                known={d["key"] for d in bundle["entities"]})
        if with_seed:
            seeds = seed_records if seed_records is not None else bundle["seeds"]
            _insert_seed(session, caller, app, created, bundle["entities"], seeds)
        apply_definitions(step, caller, app, bundle)  # type: ignore[arg-type]
        record_baseline(session, caller, app, files, "bundle.install")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return app


def _ensure_roles(session: Session, grants: dict[str, Any]) -> None:
    known = {r.key for r in session.query(Role)}
    for role in grants.get("roles", []):
        if role["key"] not in known:
            session.add(Role(key=role["key"], name=role["name"], builtin=False))
    session.flush()


def apply_definitions(session: Session, caller: Caller, app: App, bundle: dict[str, Any], *,
                      only: set[str] | None = None) -> list[str]:
    """Deploy flows, reports, dashboards and rules through their services (``session`` is a
    StepTransaction: nothing commits). ``only`` limits it to these bundle file names.
    Returns the file names applied."""
    done = []
    for name, payload in bundle["flows"]:
        if only is None or name in only:
            exists = only is not None and _has_flow(session, app, payload["key"])
            flows.deploy_process(session, caller, app.key, payload,
                                 key=payload["key"] if exists else None)
            done.append(name)
    for name, report in bundle["reports"]:
        if only is None or name in only:
            latest = reports.latest_version(session, ReportDefinition, app, report["key"])
            reports.save_report(session, caller, app.key, report,
                                key=report["key"] if latest else None)
            done.append(name)
    for name, board in bundle["dashboards"]:
        if only is None or name in only:
            latest = reports.latest_version(session, DashboardDefinition, app, board["key"])
            dashboards.save_dashboard(session, caller, app.key, board,
                                      key=board["key"] if latest else None)
            done.append(name)
    service = rules_service()
    for name, rule in bundle["rules"]:
        if service is not None and (only is None or name in only):
            exists = service.latest_row(session, app, rule["key"]) is not None
            service.save_rule(session, caller, app.key, rule,
                              key=rule["key"] if exists else None)
            done.append(name)
    return done


def _has_flow(session: Session, app: App, key: str) -> bool:
    return session.scalar(sa.select(FlowDefinition.id).where(
        FlowDefinition.app_id == app.id, FlowDefinition.key == key).limit(1)) is not None


def _insert_seed(session: Session, caller: Caller, app: App, created: dict[str, Any],
                 definitions: list[dict[str, Any]], seeds: dict[str, list[Any]]) -> None:
    """Seed records may point at earlier seed records with {"$seed": n} (1-based)."""
    ids: dict[str, list[int]] = {}
    for definition in definitions:
        rows = seeds.get(definition["key"])
        if not rows:
            continue
        resolved = [_resolve_seed_refs(row, ids) for row in rows]
        service = RecordService(session, caller, app, created[definition["key"]])
        ids[definition["key"]] = [r["id"] for r in service.create_many(
            resolved, source="seed", commit=False)]


def _resolve_seed_refs(row: Any, ids: dict[str, list[int]]) -> Any:
    if not isinstance(row, dict):
        return row
    out = {}
    for key, value in row.items():
        if isinstance(value, dict) and set(value) == {"$seed", "entity"}:
            try:
                value = ids[value["entity"]][int(value["$seed"]) - 1]
            except (KeyError, IndexError, ValueError):
                raise Unprocessable(f"seed reference {value} points nowhere",
                                    code="invalid_bundle") from None
        out[key] = value
    return out


# -- baseline: what the template installed, so an upgrade can tell user edits apart --------
def digest(content: bytes) -> str:
    """Hash of a file's meaning: JSON is canonicalized, so re-indenting is no change."""
    try:
        content = json.dumps(json.loads(content), sort_keys=True).encode()
    except ValueError:
        pass
    return hashlib.sha256(content).hexdigest()


def definition_digests(files: dict[str, bytes]) -> dict[str, str]:
    """{flows/x.json: hash, ...} over definition files (a .bpmn counts with its .json)."""
    out = {}
    for name, content in files.items():
        folder = name.split("/", 1)[0]
        if folder in ("entities", "flows", "rules", "reports", "dashboards") and \
                name.endswith(".json"):
            pointer = json.loads(content).get("bpmn_file") if folder == "flows" else None
            extra = files.get(f"flows/{pointer}", b"") if pointer else b""
            out[name] = digest(content) + (hashlib.sha256(extra).hexdigest() if extra else "")
    return out


def record_baseline(session: Session, caller: Caller, app: App, source: dict[str, bytes],
                    action: str) -> None:
    """Audit row holding the template's file hashes and the app's exported hashes."""
    session.flush()
    exported = export_bundle(session, app.key)
    audit.write(session, [audit.audit_row(caller.username, app.key, None, None, action, {
        "template": app.installed_from, "version": app.version,
        "source": definition_digests(source), "installed": definition_digests(exported)})])


def baseline(session: Session, app: App) -> dict[str, Any] | None:
    table = audit.AUDIT
    row = session.connection().execute(
        sa.select(table.c.changes).where(table.c.app_key == app.key,
                                         table.c.action.in_(BASELINE_ACTIONS))
        .order_by(table.c.id.desc()).limit(1)).first()
    return row[0] if row else None


# -- export ----------------------------------------------------------------------------------
def export_bundle(session: Session, app_key: str) -> dict[str, bytes]:
    app = apps.get_app(session, app_key)
    items = entities.list_entities(session, app)
    manifest = {"key": app.key, "name": app.name, "version": app.version,
                "description": app.description, "entities": [e.key for e in items]}
    files = {"app.json": dump_json(manifest)}
    grants = _export_grants(session, app)
    if grants:
        files["grants.json"] = dump_json(grants)
    for entity in items:
        definition = dict(entity.definition)
        definition["fields"] = [f for f in definition["fields"] if not f.get("removed")]
        files[f"entities/{entity.key}.json"] = dump_json(definition)
    for row in reports.latest_versions(session, FlowDefinition, app):
        payload: dict[str, Any] = {"key": row.key, "name": row.name, "entity": row.entity_key}
        if row.source_kind == "nodes":
            payload["nodes"] = json.loads(row.source)
        else:
            payload["bpmn_file"] = f"{row.key}.bpmn"
            files[f"flows/{row.key}.bpmn"] = row.source.encode("utf-8")
        files[f"flows/{row.key}.json"] = dump_json(payload)
    for folder, model in (("reports", ReportDefinition), ("dashboards", DashboardDefinition)):
        for row in reports.latest_versions(session, model, app):
            files[f"{folder}/{row.key}.json"] = dump_json(row.definition)
    service = rules_service()
    if service is not None:
        for row in service.latest_rows(session, app):
            rule = {k: v for k, v in row.definition.items() if k != "version"}
            files[f"rules/{row.key}.json"] = dump_json(rule)
    return files


def _export_grants(session: Session, app: App) -> dict[str, Any] | None:
    """grants.json only when the app differs from the defaults (custom roles or levels)."""
    granted = {g.role_key: g.level for g in app.grants}
    if granted == DEFAULT_GRANTS:
        return None
    custom = session.query(Role).filter(Role.key.in_(list(granted)),
                                        Role.builtin.is_(False)).order_by(Role.key).all()
    return {"roles": [{"key": r.key, "name": r.name} for r in custom],
            "grants": dict(sorted(granted.items()))}


def zip_bundle(files: dict[str, bytes]) -> bytes:
    """Deterministic zip: sorted names, fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def write_bundle(files: dict[str, bytes], target: Path) -> None:
    if target.suffix == ".zip":
        target.write_bytes(zip_bundle(files))
        return
    for name, content in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# -- shipped templates -----------------------------------------------------------------------
def shipped_templates() -> list[dict[str, Any]]:
    found = []
    if not TEMPLATES_DIR.is_dir():
        return found
    for folder in sorted(TEMPLATES_DIR.iterdir()):
        manifest = folder / "app.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            found.append({"key": data.get("key", folder.name), "name": data.get("name"),
                          "version": data.get("version"),
                          "description": data.get("description", ""), "folder": folder,
                          "sample_generator": (folder / "seed" / "seed.py").is_file()})
    return found


def template_files(template_key: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(template info, bundle files) of a shipped template; 404 when unknown."""
    for template in shipped_templates():
        if template["key"] == template_key:
            return template, read_bundle(template["folder"])
    raise NotFound(f"no shipped template {template_key!r}")


def generate_sample(template: dict[str, Any], size: int, seed: int = 2026) -> dict[str, list]:
    """Run a shipped template's ``seed/seed.py`` ``generate(size, seed)`` (trusted code:
    it is part of the installation, never of an upload)."""
    path = template["folder"] / "seed" / "seed.py"
    spec = importlib.util.spec_from_file_location(f"loom_seed_{template['key']}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(size, seed)


def install_template(session: Session, caller: Caller, template_key: str, *,
                     app_key: str | None = None, with_sample_data: bool = False,
                     sample_size: int = SAMPLE_SIZE) -> App:
    template, files = template_files(template_key)
    sample = None
    if with_sample_data and template["sample_generator"]:
        sample = generate_sample(template, sample_size)
    return import_bundle(session, caller, files, app_key=app_key, with_seed=with_sample_data,
                         installed_from=f"{template_key}@{template['version']}",
                         seed_records=sample)
