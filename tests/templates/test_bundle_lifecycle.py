"""Template bundles over their life: install with generated sample data, export -> import
-> export byte for byte, upgrade to a newer template version (new definitions in, the
business user's edits kept and listed, data untouched), the published file schemas, and
uploaded bundles whose code is never run."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app_platform.services import bundles
from app_platform.services.bundles_schemas import bundle_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bundle-schemas"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def upload(api: Any, files: dict[str, bytes], app_key: str) -> Any:
    return api.client.post("/api/v1/apps/import", data={
        "file": (io.BytesIO(bundles.zip_bundle(files)), "b.zip"), "app_key": app_key},
        headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")


@pytest.mark.parametrize("template", ["customer_settlement", "credit_approval"])
def test_install_with_sample_data_and_lossless_round_trip(admin: Any, template: str) -> None:
    listed = {t["key"]: t for t in expect(admin.get("/templates"), 200)["items"]}
    assert listed[template]["sample_generator"] is True
    app = expect(admin.post(f"/templates/{template}/install", {"with_sample_data": True}), 201)
    assert app["installed_from"] == f"{template}@1.0.0"
    main = "payment" if template == "customer_settlement" else "sales_order"
    sample = expect(admin.get(f"/apps/{template}/entities/{main}/records"), 200)
    assert sample["total"] >= 8
    first = unzip(expect_zip(admin, template))
    kinds = {name.split("/")[0] for name in first}
    assert {"entities", "flows", "rules", "reports", "dashboards", "grants.json"} <= kinds
    expect(upload(admin, first, "copy"), 201)
    second = unzip(expect_zip(admin, "copy"))
    assert set(second) == set(first)
    for name in first:
        if name != "app.json":
            assert second[name] == first[name], name
    manifest = json.loads(second["app.json"])
    assert {**manifest, "key": template} == json.loads(first["app.json"])
    assert expect(admin.get(f"/apps/copy/entities/{main}/records"), 200)["total"] == 0


def expect_zip(api: Any, app_key: str) -> bytes:
    response = api.get(f"/apps/{app_key}/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    return response.data


def _newer_template(folder: Path) -> None:
    """customer_settlement 1.1.0: a field more on payment, two reports changed, one new."""
    manifest = json.loads((folder / "app.json").read_text("utf-8"))
    (folder / "app.json").write_text(json.dumps({**manifest, "version": "1.1.0"},
                                                ensure_ascii=False), "utf-8")
    payment = json.loads((folder / "entities" / "payment.json").read_text("utf-8"))
    payment["fields"].append({"key": "memo", "label": "备注", "type": "text"})
    (folder / "entities" / "payment.json").write_text(json.dumps(payment), "utf-8")
    for key, name in (("by_channel", "渠道占比 v2"), ("pay_today", "今日收款 v2")):
        path = folder / "reports" / f"{key}.json"
        report = json.loads(path.read_text("utf-8"))
        path.write_text(json.dumps({**report, "name": name}), "utf-8")
    new = json.loads((folder / "reports" / "open_exceptions.json").read_text("utf-8"))
    (folder / "reports" / "exceptions_total.json").write_text(
        json.dumps({**new, "key": "exceptions_total", "name": "差异总数"}), "utf-8")


def test_upgrade_keeps_user_changes_and_data(admin: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    expect(admin.post("/templates/customer_settlement/install",
                      {"with_sample_data": True}), 201)
    payments = expect(admin.get("/apps/customer_settlement/entities/payment/records"),
                      200)["total"]
    # the business user edits two reports in the designer
    for key, name in (("by_channel", "我的渠道图"), ("trend_30d", "我的趋势")):
        current = expect(admin.get(f"/apps/customer_settlement/reports/{key}"), 200)
        body = {k: v for k, v in current.items() if k not in ("created_by", "created_at")}
        expect(admin.put(f"/apps/customer_settlement/reports/{key}", {**body, "name": name}),
               200)
    shipped = tmp_path / "templates"
    shutil.copytree(bundles.TEMPLATES_DIR, shipped,
                    ignore=shutil.ignore_patterns("__pycache__"))
    _newer_template(shipped / "customer_settlement")
    monkeypatch.setattr(bundles, "TEMPLATES_DIR", shipped)

    preview = expect(admin.post("/apps/customer_settlement/upgrade", {"dry_run": True}), 200)
    assert preview["dry_run"] is True
    assert expect(admin.get("/apps/customer_settlement"), 200)["version"] == "1.0.0"
    report = expect(admin.post("/apps/customer_settlement/upgrade", {}), 200)
    assert (report["from_version"], report["to_version"]) == ("1.0.0", "1.1.0")
    assert report["added"] == ["reports/exceptions_total.json"]
    assert report["updated"] == ["entities/payment.json", "reports/pay_today.json"]
    assert report["kept"] == ["reports/trend_30d.json"]
    assert [c["file"] for c in report["conflicts"]] == ["reports/by_channel.json"]
    assert {k: preview[k] for k in ("added", "updated", "kept", "conflicts")} == \
        {k: report[k] for k in ("added", "updated", "kept", "conflicts")}

    app = expect(admin.get("/apps/customer_settlement"), 200)
    assert (app["version"], app["installed_from"]) == ("1.1.0", "customer_settlement@1.1.0")
    names = {r["key"]: r["name"] for r in expect(
        admin.get("/apps/customer_settlement/reports"), 200)["items"]}
    assert (names["by_channel"], names["trend_30d"], names["pay_today"]) == (
        "我的渠道图", "我的趋势", "今日收款 v2")
    assert names["exceptions_total"] == "差异总数"
    fields = [f["key"] for f in expect(
        admin.get("/apps/customer_settlement/entities/payment"), 200)["fields"]]
    assert fields[-1] == "memo"
    after = expect(admin.get("/apps/customer_settlement/entities/payment/records"), 200)
    assert after["total"] == payments  # no data dropped
    again = expect(admin.post("/apps/customer_settlement/upgrade", {}), 200)
    assert again["added"] == again["updated"] == again["conflicts"] == []
    (shipped / "customer_settlement" / "app.json").write_text(json.dumps(
        {**json.loads((shipped / "customer_settlement" / "app.json").read_text("utf-8")),
         "version": "0.9.0"}), "utf-8")
    expect(admin.post("/apps/customer_settlement/upgrade", {}), 409)


def test_published_schemas_fit_the_shipped_files(admin: Any) -> None:
    served = expect(admin.get("/bundle-schemas"), 200)
    assert served == json.loads(json.dumps(bundle_schemas()))
    for template in ("customer_settlement", "credit_approval"):
        folder = bundles.TEMPLATES_DIR / template
        for path in sorted(folder.rglob("*.json")):
            relative = path.relative_to(folder).as_posix()
            kind = relative if "/" not in relative else relative.split("/")[0]
            jsonschema.validate(json.loads(path.read_text("utf-8")), served[kind])
    for kind, schema in served.items():  # docs/bundle-schemas/ is the same contract
        doc = DOCS / f"{kind.removesuffix('.json')}.schema.json"
        assert json.loads(doc.read_text("utf-8")) == schema, f"regenerate {doc}"


def test_uploaded_bundle_code_never_runs(admin: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    files = bundles.read_bundle(bundles.TEMPLATES_DIR / "credit_approval")
    files["seed/seed.py"] = (f"open({str(marker)!r}, 'w').write('x')\n"
                             "def generate(size, seed):\n    return {}\n").encode()
    response = admin.client.post("/api/v1/apps/import", data={
        "file": (io.BytesIO(bundles.zip_bundle(files)), "b.zip"), "app_key": "uploaded",
        "with_sample_data": "true"}, headers={"Authorization": f"Bearer {admin.token}"},
        content_type="multipart/form-data")
    expect(response, 201)
    assert not marker.exists()
    assert expect(admin.get("/apps/uploaded/entities/customer/records"), 200)["total"] == 0
    files["reports/broken.json"] = json.dumps({"key": "broken", "name": "x",
                                               "entity": "customer",
                                               "measures": [{"key": "n", "agg": "sum",
                                                             "field": "nope"}],
                                               "chart": {"type": "kpi"}}).encode()
    bad = expect(upload(admin, files, "broken_app"), 422)
    assert any(d["path"].startswith("reports/broken.json") for d in bad["error"]["details"])
    expect(admin.get("/apps/broken_app"), 404)
