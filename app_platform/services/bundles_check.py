"""Validating a whole bundle before anything is written: every file against its published
schema (``bundles_schemas``), then against its engine (entities compile, flows deploy,
reports and rules name real fields). All problems come back at once, each with the file
and the path inside it (``reports/sales.json:measures[0].field``).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft202012Validator

from app_platform.errors import Unprocessable
from app_platform.services import apps
from app_platform.services.bundles_schemas import bundle_schemas
from engines.flow import FlowDefinitionError, deploy, deploy_designer
from engines.form import FormError, check_definition, live_fields
from engines.report import ReportDefinitionError, validate_report
from engines.rule import RuleDefinitionError, validate_rule
from engines.rule.model import RECORD_TRIGGERS, rule_entity

DEFINITION_FOLDERS = ("flows", "rules", "reports", "dashboards")
ALLOWED_EXTRA = {"README.md", "seed/seed.py"}
Problems = list[dict[str, str]]


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def rules_service() -> ModuleType | None:
    """The rules service (saves versions, lists the newest), when it is installed."""
    if importlib.util.find_spec("app_platform.services.rules") is None:
        return None
    module = importlib.import_module("app_platform.services.rules")
    if hasattr(module, "save_rule") and hasattr(module, "latest_rows"):
        return module
    return None


def _load(files: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(files[name].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"{name} is not valid UTF-8 JSON: {exc}", code="invalid_bundle",
                            details=[{"path": name, "message": str(exc)}]) from None


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def _schema_problems(kind: str, name: str, value: Any) -> Problems:
    validator = Draft202012Validator(bundle_schemas()[kind])
    return [{"path": f"{name}:{_path(e.absolute_path)}".rstrip(":"), "message": e.message}
            for e in sorted(validator.iter_errors(value), key=lambda e: list(e.path))]


def _folder_files(files: dict[str, bytes], folder: str) -> list[str]:
    return sorted(n for n in files if n.startswith(f"{folder}/") and n.endswith(".json")
                  and n.count("/") == 1)


def validate_bundle(files: dict[str, bytes]) -> dict[str, Any]:
    """Check every file; returns the parsed bundle or raises 422 listing all problems."""
    problems: Problems = []
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
    problems += [{"path": f"app.json.{p['path'].removeprefix('app.json:')}",
                  "message": p["message"]}
                 for p in _schema_problems("app.json", "app.json", manifest)
                 if not p["path"].startswith(("app.json:key", "app.json:name"))]
    definitions = _entities(files, manifest, problems)
    by_key = {d["key"]: d for d in definitions}
    bundle = {"manifest": manifest, "entities": definitions,
              "seeds": _seeds(files, by_key, problems),
              "grants": _grants(files, problems),
              "flows": _flows(files, by_key, problems),
              "reports": _reports(files, by_key, problems)}
    bundle["dashboards"] = _dashboards(files, {r["key"] for _, r in bundle["reports"]},
                                       problems)
    bundle["rules"] = _rules(files, by_key, {f["key"] for _, f in bundle["flows"]}, problems)
    problems += _unknown_files(files)
    if problems:
        raise Unprocessable(f"the bundle is invalid ({len(problems)} problems)",
                            code="invalid_bundle", details=problems)
    return bundle


def _unknown_files(files: dict[str, bytes]) -> Problems:
    known_folders = ("entities/", "seed/", *(f"{f}/" for f in DEFINITION_FOLDERS))
    problems = []
    for name in files:
        if name in ("app.json", "grants.json") or name in ALLOWED_EXTRA or \
                name.rsplit("/", 1)[-1].startswith("."):
            continue  # dotfiles: what archivers and editors leave behind
        if name.startswith("flows/") and name.endswith(".bpmn"):
            continue
        if name.startswith(known_folders) and name.endswith(".json") and name.count("/") == 1:
            continue
        problems.append({"path": name, "message": "not a kind of file a bundle holds"})
    return problems


def _entities(files: dict[str, bytes], manifest: dict[str, Any],
              problems: Problems) -> list[dict[str, Any]]:
    entity_files = _folder_files(files, "entities")
    order = manifest.get("entities") or [Path(n).stem for n in entity_files]
    keys = set(order)
    problems += [{"path": name, "message": "not listed in app.json entities"}
                 for name in entity_files if Path(name).stem not in keys]
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
    return definitions


def _seeds(files: dict[str, bytes], by_key: dict[str, Any],
           problems: Problems) -> dict[str, list[Any]]:
    seeds = {}
    for name in _folder_files(files, "seed"):
        rows = _load(files, name)
        if Path(name).stem not in by_key or not isinstance(rows, list):
            problems.append({"path": name, "message": "must be a list of records of a bundle "
                                                      "entity"})
            continue
        seeds[Path(name).stem] = rows
    return seeds


def _grants(files: dict[str, bytes], problems: Problems) -> dict[str, Any]:
    if "grants.json" not in files:
        return {}
    grants = _load(files, "grants.json")
    found = _schema_problems("grants.json", "grants.json", grants)
    problems += found
    return grants if not found else {}


def _keyed(files: dict[str, bytes], folder: str, problems: Problems) -> list[tuple[str, Any]]:
    """(file name, parsed JSON) of a definition folder whose shape fits its schema and
    whose key is its file name."""
    out = []
    for name in _folder_files(files, folder):
        value = _load(files, name)
        found = _schema_problems(folder, name, value)
        if not found and value.get("key") != Path(name).stem:
            found = [{"path": f"{name}:key", "message": f"must be {Path(name).stem!r}"}]
        problems += found
        if not found:
            out.append((name, value))
    return out


def _flows(files: dict[str, bytes], by_key: dict[str, Any],
           problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, flow in _keyed(files, "flows", problems):
        payload = {k: flow[k] for k in ("key", "name", "entity")}
        if flow["entity"] not in by_key:
            problems.append({"path": f"{name}:entity", "message":
                             f"no entity {flow['entity']!r} in the bundle"})
            continue
        try:
            if "nodes" in flow:
                payload["nodes"] = flow["nodes"]
                deploy_designer({"key": flow["key"], "name": flow["name"],
                                 "nodes": flow["nodes"]})
            else:
                xml_name = f"flows/{flow['bpmn_file']}"
                if xml_name not in files:
                    problems.append({"path": f"{name}:bpmn_file", "message": "missing file"})
                    continue
                payload["bpmn_xml"] = files[xml_name].decode("utf-8")
                deploy(payload["bpmn_xml"])
        except (FlowDefinitionError, UnicodeDecodeError) as exc:
            detail = getattr(exc, "detail", {}) or {}
            where = detail.get("element") or detail.get("field") or ""
            problems.append({"path": f"{name}:{where}".rstrip(":"), "message": str(exc)})
            continue
        out.append((name, payload))
    return out


def _reports(files: dict[str, bytes], by_key: dict[str, Any],
             problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, report in _keyed(files, "reports", problems):
        try:
            validate_report(report, by_key.get(report["entity"]), by_key)
        except ReportDefinitionError as exc:
            problems += [{"path": f"{name}:{d.get('path', '')}", "message": d["message"]}
                         for d in exc.details] or [{"path": name, "message": exc.message}]
            continue
        out.append((name, report))
    return out


def _dashboards(files: dict[str, bytes], report_keys: set[str],
                problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, board in _keyed(files, "dashboards", problems):
        missing = [{"path": f"{name}:items[{i}].report",
                    "message": f"no report {item['report']!r} in the bundle"}
                   for i, item in enumerate(board["items"]) if item["report"] not in report_keys]
        problems += missing
        if not missing:
            out.append((name, board))
    return out


def _rules(files: dict[str, bytes], by_key: dict[str, Any], flow_keys: set[str],
           problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, rule in _keyed(files, "rules", problems):
        entity = rule_entity(rule)
        fields = {f["key"]: f for f in live_fields(by_key[entity])} if entity in by_key else {}
        if rule.get("trigger", {}).get("type") in RECORD_TRIGGERS:
            from app_platform.services.rules import with_related_fields

            fields = with_related_fields(fields, by_key.get)
        found = []
        if entity is not None and entity not in by_key:
            found.append({"path": f"{name}:trigger.entity",
                          "message": f"no entity {entity!r} in the bundle"})
        declared = rule.get("event_fields") or {}
        try:
            validate_rule({k: v for k, v in rule.items() if k != "event_fields"},
                          {**fields, **declared}, set(by_key))
        except RuleDefinitionError as exc:
            found += [{"path": f"{name}:{d['path']}", "message": d["message"]}
                      for d in exc.details]
        found += [{"path": f"{name}:actions[{i}].process",
                   "message": f"no flow {action['process']!r} in the bundle"}
                  for i, action in enumerate(rule["actions"])
                  if action["type"] == "start_process" and action.get("process") not in flow_keys]
        problems += found
        if not found:
            out.append((name, rule))
    return out
