"""`flask` commands (through app.test_cli_runner) and app bundles: export, import under a
new key (definitions come back byte for byte), validation naming the broken file and
path, and all-or-nothing imports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app_platform.cli import alembic_config
from app_platform.extensions import db

PASSWORD = "correct-horse-42"
CONTACT = {"key": "contact", "label": "联系人", "title_field": "name",
           "permissions": {"member": {"create": True, "read": "own", "update": "own",
                                      "delete": False}},
           "fields": [
               {"key": "name", "label": "姓名", "type": "text", "required": True},
               {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
               {"key": "budget", "label": "预算", "type": "money", "currency": "USD",
                "scale": 2, "min": "0"},
               {"key": "tags", "type": "multiselect", "options": [
                   {"value": "vip", "label": "贵宾", "color": "#f00"}, "new"]},
               {"key": "items", "type": "subtable", "fields": [
                   {"key": "sku", "type": "text", "required": True},
                   {"key": "price", "type": "money"}]},
               {"key": "seq", "type": "auto_number", "pattern": "C-{YYYY}-{seq:5}"},
               {"key": "salary", "type": "money", "permissions": {"member": "hidden"}}]}


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def with_key(files: dict[str, bytes], key: str) -> dict[str, bytes]:
    manifest = json.loads(files["app.json"])
    manifest["key"] = key
    return {**files, "app.json": json.dumps(manifest, ensure_ascii=False).encode()}


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def tables(app: Any) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


def build_crm(crm: Any) -> None:
    expect(crm.post("/apps/crm/entities", CONTACT), 201)
    # a removed field must not travel in the bundle
    expect(crm.put("/apps/crm/entities/customer", {"key": "customer", "label": "客户",
                                                   "fields": [
        {"key": "name", "label": "名称", "type": "text", "required": True},
        {"key": "limit", "label": "额度", "type": "money", "currency": "CNY"},
        {"key": "owner_customer", "type": "relation", "target": "customer"}]}), 200)


# --- CLI: users and migrations -------------------------------------------------------------
def test_create_user_command(app, client):
    result = cli(app, "create-user", "carol", "--password", "long-enough-1", "--role",
                 "designer", "--role", "member", "--display-name", "王芳")
    assert result.exit_code == 0, result.output
    body = expect(client.post("/api/v1/auth/login", json={"username": "carol",
                                                          "password": "long-enough-1"}), 200)
    assert body["user"]["roles"] == ["designer", "member"]
    assert body["user"]["display_name"] == "王芳"
    for args in (["carol", "--password", "long-enough-1"],  # exists
                 ["dave", "--password", "short"],
                 ["erin", "--password", "long-enough-1", "--role", "emperor"],
                 ["x", "--password", "long-enough-1"]):
        result = cli(app, "create-user", *args)
        assert result.exit_code != 0, (args, result.output)
    expect(client.post("/api/v1/auth/login", json={"username": "dave",
                                                   "password": "short"}), 401)


def test_db_upgrade_is_idempotent(app, client):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    for _ in range(2):
        result = cli(app, "db", "upgrade")
        assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        assert list(versions) == [head]
    # existing data survives
    expect(client.post("/api/v1/auth/login", json={"username": "member",
                                                   "password": PASSWORD}), 200)


# --- export / import --------------------------------------------------------------------------
def test_export_then_import_under_a_new_key_round_trips(crm, app, tmp_path):
    build_crm(crm)
    first = tmp_path / "first"
    result = cli(app, "export-app", "crm", str(first))
    assert result.exit_code == 0, result.output
    exported = read_tree(first)
    assert set(exported) == {"app.json", "entities/customer.json", "entities/contact.json"}
    manifest = json.loads(exported["app.json"])
    assert (manifest["key"], manifest["name"]) == ("crm", "客户管理")
    customer = json.loads(exported["entities/customer.json"])
    assert [f["key"] for f in customer["fields"]] == ["name", "limit", "owner_customer"]
    contact = json.loads(exported["entities/contact.json"])
    assert contact["fields"] == CONTACT["fields"]
    assert contact["permissions"] == CONTACT["permissions"]

    copy = write_tree(tmp_path / "copy", with_key(exported, "crm_copy"))
    result = cli(app, "import-app", str(copy))
    assert result.exit_code == 0, result.output
    second = tmp_path / "second"
    assert cli(app, "export-app", "crm_copy", str(second)).exit_code == 0
    again = read_tree(second)
    assert set(again) == set(exported)
    for name in exported:
        if name != "app.json":
            assert again[name] == exported[name], name  # byte for byte
    assert {**json.loads(again["app.json"]), "key": "crm"} == manifest
    for entity in ("customer", "contact"):
        old = expect(crm.get(f"/apps/crm/entities/{entity}"), 200)
        new = expect(crm.get(f"/apps/crm_copy/entities/{entity}"), 200)
        assert new["fields"] == old["fields"] and new["label"] == old["label"]
    # the copy is a working app with real tables
    assert {"x_crm_copy__customer", "x_crm_copy__contact"} <= tables(app)
    parent = expect(crm.post("/apps/crm_copy/entities/customer/records", {"name": "甲"}), 201)
    child = expect(crm.post("/apps/crm_copy/entities/contact/records",
                            {"name": "张三", "customer": parent["id"], "budget": "10.00"}),
                   201)
    assert child["seq"].startswith("C-") and child["seq"].endswith("-00001")
    # importing the same key again is refused and changes nothing
    result = app.test_cli_runner().invoke(args=["import-app", str(copy)])
    assert result.exit_code != 0
    assert expect(crm.get("/apps/crm_copy/entities/customer/records"), 200)["total"] == 1


def test_export_is_deterministic_and_zip_round_trips(crm, app, tmp_path):
    build_crm(crm)
    one, two = tmp_path / "one.zip", tmp_path / "two.zip"
    assert cli(app, "export-app", "crm", str(one)).exit_code == 0
    assert cli(app, "export-app", "crm", str(two)).exit_code == 0
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    moved = tmp_path / "moved.zip"
    moved.write_bytes(zip_of(with_key(files, "crm_zip")))
    result = cli(app, "import-app", str(moved))
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.zip"
    assert cli(app, "export-app", "crm_zip", str(back)).exit_code == 0
    with zipfile.ZipFile(back) as archive:
        for name in files:
            if name != "app.json":
                assert archive.read(name) == files[name], name


def test_import_app_accepts_a_new_key_option(crm, app, tmp_path):
    """``import-app PATH --app-key KEY``: install a bundle a second time under another key
    without editing its manifest (as install-template and POST /apps/import allow)."""
    build_crm(crm)
    assert cli(app, "export-app", "crm", str(tmp_path / "b")).exit_code == 0
    result = app.test_cli_runner().invoke(args=["import-app", str(tmp_path / "b"),
                                                "--app-key", "crm_two"])
    assert result.exit_code == 0, result.output
    expect(crm.get("/apps/crm_two/entities/contact"), 200)


def test_http_export_import_round_trip(crm):
    build_crm(crm)
    response = crm.get("/apps/crm/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    response = crm.client.post("/api/v1/apps/import", data={
        "file": (io.BytesIO(response.data), "crm.zip"), "app_key": "crm_http"},
        headers={"Authorization": f"Bearer {crm.token}"}, content_type="multipart/form-data")
    assert expect(response, 201)["key"] == "crm_http"
    back = crm.get("/apps/crm_http/export")
    with zipfile.ZipFile(io.BytesIO(back.data)) as archive:
        for name in files:
            if name != "app.json":
                assert archive.read(name) == files[name], name


# --- validation and atomic import ---------------------------------------------------------
GOOD = {
    "app.json": json.dumps({"key": "tpl", "name": "模板", "version": "1.0.0",
                            "entities": ["customer", "order"]}).encode(),
    "entities/customer.json": json.dumps({"key": "customer", "fields": [
        {"key": "name", "type": "text", "required": True}]}).encode(),
    "entities/order.json": json.dumps({"key": "order", "fields": [
        {"key": "customer", "type": "relation", "target": "customer"},
        {"key": "amount", "type": "money"}]}).encode(),
    "seed/customer.json": json.dumps([{"name": "种子客户"}]).encode(),
    "seed/order.json": json.dumps([{"customer": {"$seed": 1, "entity": "customer"},
                                    "amount": "9.99"}]).encode(),
}


def test_validate_template(app, tmp_path):
    good = write_tree(tmp_path / "good", GOOD)
    result = cli(app, "validate-template", str(good))
    assert result.exit_code == 0, result.output
    cases = [
        ({"entities/order.json": json.dumps({"key": "order", "fields": [
            {"key": "amount", "type": "money"}, {"key": "x", "type": "rainbow"}]}).encode()},
         "entities/order.json:fields[1].type"),
        ({"entities/order.json": b"{not json"}, "entities/order.json"),
        ({"app.json": json.dumps({"key": "Bad Key", "name": "x",
                                  "entities": ["customer"]}).encode()}, "app.json.key"),
        ({"app.json": json.dumps({"key": "tpl", "name": "x",
                                  "entities": ["customer", "ghost"]}).encode()},
         "entities/ghost.json"),
        ({"entities/order.json": json.dumps({"key": "order", "fields": [
            {"key": "c", "type": "relation", "target": "nowhere"}]}).encode()},
         "entities/order.json:fields[0].target"),
        ({"entities/order.json": json.dumps({"key": "orders", "fields": []}).encode()},
         "entities/order.json:key"),
    ]
    for number, (change, path) in enumerate(cases):
        folder = write_tree(tmp_path / f"bad{number}", {**GOOD, **change})
        result = cli(app, "validate-template", str(folder))
        assert result.exit_code != 0, (path, result.output)
        assert path in result.output, (path, result.output)
    missing = write_tree(tmp_path / "nomanifest", {k: v for k, v in GOOD.items()
                                                   if k != "app.json"})
    result = cli(app, "validate-template", str(missing))
    assert result.exit_code != 0 and "app.json" in result.output
    zipped = tmp_path / "bad.zip"
    zipped.write_bytes(zip_of({**GOOD, **cases[0][0]}))
    result = cli(app, "validate-template", str(zipped))
    assert result.exit_code != 0 and cases[0][1] in result.output


def test_import_with_seed_and_failed_import_changes_nothing(crm, app, tmp_path):
    result = cli(app, "import-app", str(write_tree(tmp_path / "good", GOOD)))
    assert result.exit_code == 0, result.output
    orders = expect(crm.get("/apps/tpl/entities/order/records"), 200)["items"]
    customers = expect(crm.get("/apps/tpl/entities/customer/records"), 200)["items"]
    assert [c["name"] for c in customers] == ["种子客户"]
    assert [(o["customer"], o["amount"]) for o in orders] == [(customers[0]["id"], "9.99")]

    before = tables(app)
    broken_seed = with_key({**GOOD, "seed/order.json": json.dumps([
        {"amount": "1.00"}, {"amount": "not money"}]).encode()}, "tpl_bad")
    result = app.test_cli_runner().invoke(args=["import-app", str(write_tree(
        tmp_path / "bad", broken_seed))])
    assert result.exit_code != 0
    expect(crm.get("/apps/tpl_bad"), 404)
    assert tables(app) == before
    assert [a["key"] for a in expect(crm.get("/apps"), 200)["items"]] == ["crm", "tpl"]


def test_damaged_zip_member_is_422_and_creates_nothing(crm):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"key": "damaged", "name": "坏包"}) * 40)
    data = bytearray(buffer.getvalue())
    data[40] ^= 0xFF  # flip bytes inside the compressed member: its CRC no longer matches
    data[45] ^= 0xFF
    response = crm.client.post("/api/v1/apps/import", data={
        "file": (io.BytesIO(bytes(data)), "damaged.zip")},
        headers={"Authorization": f"Bearer {crm.token}"}, content_type="multipart/form-data")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_bundle"
    assert crm.get("/apps/damaged").status_code == 404
