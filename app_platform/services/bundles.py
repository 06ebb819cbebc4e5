"""App bundles: a folder (or zip of it) with ``app.json``, ``entities/<key>.json`` and
optional ``seed/<key>.json`` sample records. Import validates everything first and applies
it in one transaction; export writes the same files back, byte-stable."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import NotFound, Unprocessable
from app_platform.models import App, Role, User
from app_platform.services import apps, entities
from app_platform.services.records import RecordService
from engines.form import FormError, check_definition

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "app_templates"
MAX_BUNDLE_FILES = 2000
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
MANIFEST_KEYS = {"key", "name", "version", "description", "requires", "entities"}


def system_caller() -> Caller:
    """The identity CLI commands and installers act as: an admin named ``system``."""
    user = User(username="system", display_name="system", password_hash="!")
    user.roles = [Role(key="admin", name="admin")]
    return Caller(user=user, scopes=["*"], via="token")


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


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
        files[name] = archive.read(info)
    return files


def _common_folder(names: list[str]) -> str:
    """Zips made by 'compress folder' put everything under one top folder."""
    if names and "app.json" not in names:
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            return tops.pop() + "/"
    return ""


def _load(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"{name} is not valid UTF-8 JSON: {exc}", code="invalid_bundle",
                            details=[{"path": name, "message": str(exc)}]) from None


def validate_bundle(files: dict[str, bytes]) -> dict[str, Any]:
    """Check every file; returns the parsed bundle or raises 422 listing all problems."""
    problems: list[dict[str, str]] = []
    if "app.json" not in files:
        raise Unprocessable("the bundle has no app.json", code="invalid_bundle",
                            details=[{"path": "app.json", "message": "missing"}])
    manifest = _load(files, "app.json")
    if not isinstance(manifest, dict):
        raise Unprocessable("app.json must be an object", code="invalid_bundle")
    try:
        apps.check_app_payload({k: manifest[k] for k in ("key", "name") if k in manifest})
    except Unprocessable as exc:
        problems += [{"path": f"app.json.{d['path']}", "message": d["message"]}
                     for d in exc.details]
    problems += [{"path": f"app.json.{k}", "message": "unknown manifest key"}
                 for k in sorted(set(manifest) - MANIFEST_KEYS)]
    entity_files = sorted(n for n in files if n.startswith("entities/") and n.endswith(".json"))
    order = manifest.get("entities") or [Path(n).stem for n in entity_files]
    keys = set(order)
    definitions = []
    for key in order:
        name = f"entities/{key}.json"
        if name not in files:
            problems.append({"path": name, "message": "listed in app.json but missing"})
            continue
        try:
            definition = check_definition(_load(files, name), keys)
        except FormError as exc:
            problems += [{"path": f"{name}:{p.path}", "message": p.message}
                         for p in exc.problems] or [{"path": name, "message": exc.message}]
            continue
        if definition["key"] != key:
            problems.append({"path": f"{name}:key", "message": f"must be {key!r}"})
        definitions.append(definition)
    seeds = {}
    for name in sorted(n for n in files if n.startswith("seed/") and n.endswith(".json")):
        rows = _load(files, name)
        if Path(name).stem not in keys or not isinstance(rows, list):
            problems.append({"path": name, "message": "must be a list of records of a bundle "
                                                      "entity"})
            continue
        seeds[Path(name).stem] = rows
    if problems:
        raise Unprocessable(f"the bundle is invalid ({len(problems)} problems)",
                            code="invalid_bundle", details=problems)
    return {"manifest": manifest, "entities": definitions, "seeds": seeds}


def import_bundle(session: Session, caller: Caller, files: dict[str, bytes], *,
                  app_key: str | None = None, with_seed: bool = True,
                  installed_from: str | None = None) -> App:
    bundle = validate_bundle(files)
    manifest = bundle["manifest"]
    app = apps.create_app_record(
        session, caller, {"key": app_key or manifest["key"], "name": manifest["name"],
                          "description": manifest.get("description", "")},
        installed_from=installed_from, version=str(manifest.get("version", "1.0.0")),
        commit=False)
    created = {}
    for definition in bundle["entities"]:
        created[definition["key"]] = entities.create_entity(
            session, caller, app, definition, commit=False,
            known={d["key"] for d in bundle["entities"]})
    if with_seed:
        _insert_seed(session, caller, app, created, bundle)
    session.commit()
    return app


def _insert_seed(session: Session, caller: Caller, app: App, created: dict[str, Any],
                 bundle: dict[str, Any]) -> None:
    """Seed records may point at earlier seed records with {"$seed": n} (1-based)."""
    ids: dict[str, list[int]] = {}
    for definition in bundle["entities"]:
        rows = bundle["seeds"].get(definition["key"])
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


def export_bundle(session: Session, app_key: str) -> dict[str, bytes]:
    app = apps.get_app(session, app_key)
    items = entities.list_entities(session, app)
    manifest = {"key": app.key, "name": app.name, "version": app.version,
                "description": app.description, "entities": [e.key for e in items]}
    files = {"app.json": dump_json(manifest)}
    for entity in items:
        definition = dict(entity.definition)
        definition["fields"] = [f for f in definition["fields"] if not f.get("removed")]
        files[f"entities/{entity.key}.json"] = dump_json(definition)
    return files


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
                          "description": data.get("description", ""), "folder": folder})
    return found


def install_template(session: Session, caller: Caller, template_key: str, *,
                     app_key: str | None = None, with_sample_data: bool = False) -> App:
    for template in shipped_templates():
        if template["key"] == template_key:
            files = read_bundle(template["folder"])
            return import_bundle(session, caller, files, app_key=app_key,
                                 with_seed=with_sample_data,
                                 installed_from=f"{template_key}@{template['version']}")
    raise NotFound(f"no shipped template {template_key!r}")
