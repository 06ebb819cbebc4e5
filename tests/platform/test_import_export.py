"""Import (CSV UTF-8, UTF-8 with BOM, GBK; XLSX) as jobs with dry run, all-or-nothing and
skip-bad-rows; export of a filtered list as CSV/XLSX; attachments upload and download.

Fixture files are written by the tests (GBK through Python's gbk codec, XLSX through
openpyxl); expected values are computed here from the rows the test wrote."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from app_platform.extensions import db

CARD = "4111111111111111"
INVOICE = {
    "key": "invoice", "label": "发票", "title_field": "code",
    "fields": [
        {"key": "code", "label": "编号", "type": "text", "required": True, "unique": True},
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "issued", "label": "开票日期", "type": "date"},
        {"key": "paid", "label": "已付", "type": "boolean"},
        {"key": "tags", "label": "标签", "type": "multiselect", "options": ["急", "大额", "跨境"]},
        {"key": "owner", "label": "负责人", "type": "user"},
        {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
        {"key": "card", "label": "卡号", "type": "card_number"},
        {"key": "files", "label": "附件", "type": "attachment"},
        {"key": "tax", "label": "税额", "type": "formula", "formula": "amount * 0.06",
         "scale": 2},
    ],
}
HEADER = ["编号", "金额", "开票日期", "已付", "标签", "负责人", "客户", "卡号"]
# row 4 (file row numbering: header is row 1) has a bad date; everything else is valid
ROWS = [
    ["INV-001", "1,234.50", "2026/11/20", "是", "急;大额", "member", "Acme", CARD],
    ["INV-002", "￥99", "2026-11-21", "否", "", "admin", "1", ""],
    ["INV-003", "0.05", "2026-02-30", "true", "跨境", "", "", ""],
    ["INV-004", "-12.00", "2026-12-01", "0", "急", "member2", "Acme", ""],
]
GOOD = {"INV-001": ("1234.50", "2026-11-20", True, ["急", "大额"], "member"),
        "INV-002": ("99.00", "2026-11-21", False, None, "admin"),
        "INV-004": ("-12.00", "2026-12-01", False, ["急"], "member2")}


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data()[:500])
    return response.get_json()


@pytest.fixture(autouse=True)
def sync_jobs(app, tmp_path):
    """Jobs run inside the request; files go to a throw-away instance folder."""
    app.config["JOBS_SYNC"] = True
    saved, app.instance_path = app.instance_path, str(tmp_path / "instance")
    yield
    app.instance_path = saved


@pytest.fixture
def invoices(crm):
    acme = expect(crm.post("/apps/crm/entities/customer/records",
                           {"name": "Acme", "level": "A"}), 201)
    assert acme["id"] == 1
    expect(crm.post("/apps/crm/entities", INVOICE), 201)
    return crm


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", header=HEADER) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], header=HEADER) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def start(api, content: bytes, name: str, expect_status: int = 202, **form: str) -> Any:
    data = {"file": (io.BytesIO(content), name), **form}
    return expect(api.call("POST", "/apps/crm/entities/invoice/records/import", data=data,
                           content_type="multipart/form-data"), expect_status)


def run(api, content: bytes, name: str, **form: str) -> dict[str, Any]:
    job_id = start(api, content, name, **form)["job_id"]
    return expect(api.get(f"/jobs/{job_id}"), 200)


def codes(api) -> list[str]:
    listing = expect(api.get("/apps/crm/entities/invoice/records?sort=code"), 200)
    return [r["code"] for r in listing["items"]]


XLSX_ROWS = [[c if i != 1 else Decimal(c.replace(",", "").replace("￥", "")) for i, c in
              enumerate(row)] for row in ROWS]
FILES = {
    "utf8": lambda: (csv_bytes(ROWS), "invoices.csv"),
    "utf8-bom": lambda: (b"\xef\xbb\xbf" + csv_bytes(ROWS), "invoices.csv"),
    "gbk": lambda: (csv_bytes(ROWS, "gbk"), "发票.csv"),
    "xlsx": lambda: (xlsx_bytes(XLSX_ROWS), "invoices.xlsx"),
}


@pytest.mark.parametrize("flavour", list(FILES))
def test_one_bad_row_in_each_mode(invoices, flavour):
    content, name = FILES[flavour]()
    dry = run(invoices, content, name, dry_run="true", mode="skip_bad_rows")
    assert (dry["state"], dry["processed"], dry["imported"]) == ("done", 4, 0)
    assert [(e["row"], e["field"]) for e in dry["errors"]] == [(4, "issued")]
    assert "2026-02-30" in dry["errors"][0]["message"]
    assert dry["result"]["valid_rows"] == 3
    assert codes(invoices) == []

    strict = run(invoices, content, name, mode="all_or_nothing")
    assert (strict["imported"], strict["errors"][0]["row"]) == (0, 4)
    assert codes(invoices) == []

    lenient = run(invoices, content, name, mode="skip_bad_rows")
    assert lenient["imported"] == 3
    assert [e["row"] for e in lenient["errors"]] == [4]
    records = expect(invoices.get("/apps/crm/entities/invoice/records?sort=code"),
                     200)["items"]
    assert [r["code"] for r in records] == sorted(GOOD)
    for record in records:
        amount, issued, paid, tags, owner = GOOD[record["code"]]
        assert (record["amount"], record["issued"], record["paid"], record["tags"],
                record["owner"]) == (amount, issued, paid, tags, owner)
        assert record["tax"] == str((Decimal(amount) * Decimal("0.06")).quantize(
            Decimal("0.01")))
    by_code = {r["code"]: r for r in records}
    assert by_code["INV-001"]["customer"] == 1  # by the customer's title, "Acme"
    assert by_code["INV-002"]["customer"] == 1  # by id
    assert by_code["INV-001"]["card"]["last4"] == "1111"


def test_mapping_by_key_label_and_explicit(invoices):
    content = csv_bytes([["A-1", "5", "x"], ["A-2", "6", "y"]],
                        header=["CODE", "金额", "备注"])
    refused = start(invoices, content, "a.csv", 422)
    assert refused["error"]["details"] == [{"path": "备注", "message":
                                            "matches no field key or label; map it or "
                                            "leave it out"}]
    job = run(invoices, content, "a.csv", mapping='{"备注": null}')
    assert job["imported"] == 2
    assert codes(invoices) == ["A-1", "A-2"]
    renamed = csv_bytes([["B-1", "7"]], header=["单号", "钱"])
    job = run(invoices, renamed, "b.csv", mapping='{"单号": "code", "钱": "amount"}')
    assert job["imported"] == 1
    assert expect(invoices.get("/apps/crm/entities/invoice/records?code=B-1"),
                  200)["items"][0]["amount"] == "7.00"
    missing = start(invoices, csv_bytes([["1"]], header=["金额"]), "c.csv", 422)
    assert missing["error"]["details"] == [{"path": "code", "message":
                                            "is required but no column feeds it"}]


def test_unreadable_files_are_refused(invoices):
    garbage = bytes(range(256)) * 40
    for content, name in ((garbage, "x.csv"), (garbage, "x.xlsx"),
                          (b"PK\x03\x04" + garbage, "x.xlsx"),
                          (xlsx_bytes(XLSX_ROWS), "x.csv"),
                          ("编号\r\n".encode("utf-16"), "x.csv"),
                          (b"", "x.csv")):
        body = start(invoices, content, name, 415 if content else 400)
        assert body["error"]["message"], name
    assert codes(invoices) == []


def test_a_workbook_with_a_damaged_sheet_is_refused(invoices):
    content = bytearray(xlsx_bytes(XLSX_ROWS * 20))
    sheet = zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo("xl/worksheets/sheet1.xml")
    start_of_data = sheet.header_offset + 30 + len(sheet.filename) + len(sheet.extra)
    for offset in (start_of_data + 40, start_of_data + 45):  # corrupt the compressed sheet
        content[offset] ^= 0xFF
    body = start(invoices, bytes(content), "damaged.xlsx", 415)
    assert "xlsx" in body["error"]["message"] or "workbook" in body["error"]["message"]
    assert codes(invoices) == []


def test_unique_duplicates_within_the_file_are_reported(invoices):
    rows = [["D-1", "1"], ["D-2", "2"], ["D-1", "3"]]
    job = run(invoices, csv_bytes(rows, header=["编号", "金额"]), "d.csv",
              mode="skip_bad_rows")
    assert job["imported"] == 2
    assert [e["row"] for e in job["errors"]] == [4]
    assert codes(invoices) == ["D-1", "D-2"]


def test_import_runs_in_a_background_thread(app, invoices):
    app.config["JOBS_SYNC"] = False
    rows = [[f"T-{i:04d}", f"{i}.25"] for i in range(300)]
    job_id = start(invoices, csv_bytes(rows, header=["编号", "金额"]), "t.csv")["job_id"]
    deadline = time.monotonic() + 20
    while True:
        job = expect(invoices.get(f"/jobs/{job_id}"), 200)
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (job["state"], job["imported"], job["progress"]) == ("done", 300, 100)
    assert expect(invoices.get("/apps/crm/entities/invoice/records?limit=1"),
                  200)["total"] == 300
    assert expect(invoices.client.get(f"/api/v1/jobs/{job_id}"), 401)


def test_jobs_are_private_to_their_creator(invoices, login):
    job_id = start(invoices, csv_bytes([["P-1", "1"]], header=["编号", "金额"]),
                   "p.csv")["job_id"]
    expect(login("member").get(f"/jobs/{job_id}"), 404)
    expect(login("outsider").call("POST", "/apps/crm/entities/invoice/records/import",
                                  data={"file": (io.BytesIO(b"x"), "x.csv")},
                                  content_type="multipart/form-data"), 403)


# --- export ------------------------------------------------------------------------------
EXPORT_ROWS = [
    {"code": f"E-{i:02d}", "amount": f"{i * 101}.{i:02d}", "issued": f"2026-11-{i:02d}",
     "paid": i % 2 == 0, "tags": ["急"] if i % 3 == 0 else [],
     "card": CARD if i == 4 else None}
    for i in range(1, 13)
]


def _seed_export(api) -> None:
    for row in EXPORT_ROWS:
        expect(api.post("/apps/crm/entities/invoice/records", row), 201)


def _expected_export() -> list[dict[str, Any]]:
    """The filter amount__gte=500, sort -amount, computed from EXPORT_ROWS."""
    chosen = [r for r in EXPORT_ROWS if Decimal(r["amount"]) >= 500]
    return sorted(chosen, key=lambda r: Decimal(r["amount"]), reverse=True)


def test_export_csv_of_a_filtered_list(invoices):
    _seed_export(invoices)
    response = invoices.get("/apps/crm/entities/invoice/records/export?format=csv"
                            "&amount__gte=500&sort=-amount")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert CARD.encode() not in raw and b"tok_" not in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "编号", "金额", "开票日期", "已付", "标签", "负责人", "客户", "卡号",
                       "附件", "税额"]
    expected = _expected_export()
    assert [r[1] for r in rows[1:]] == [e["code"] for e in expected]
    for line, source in zip(rows[1:], expected, strict=True):
        assert line[2] == source["amount"]
        assert line[3] == source["issued"]
        assert line[4] == ("是" if source["paid"] else "否")
        assert line[5] == ";".join(source["tags"])
        assert line[8] == ("**** **** **** 1111" if source["card"] else "")
        assert Decimal(line[10]) == (Decimal(source["amount"]) * Decimal("0.06")).quantize(
            Decimal("0.01"))


def test_export_xlsx_reads_back_and_reimports(invoices, tmp_path):
    _seed_export(invoices)
    response = invoices.get("/apps/crm/entities/invoice/records/export?format=xlsx"
                            "&amount__gte=500&sort=-amount")
    assert response.status_code == 200
    path = tmp_path / "export.xlsx"
    path.write_bytes(response.get_data())
    sheet = openpyxl.load_workbook(path).active
    values = list(sheet.iter_rows(values_only=True))
    expected = _expected_export()
    assert [v[1] for v in values[1:]] == [e["code"] for e in expected]
    for line, source in zip(values[1:], expected, strict=True):
        assert Decimal(str(line[2])) == Decimal(source["amount"])
        assert line[3].date().isoformat() == source["issued"]
        assert line[8] == ("**** **** **** 1111" if source["card"] else None)
    assert CARD.encode() not in response.get_data()
    # the export reads back in: id and the computed column are ignored
    expect(invoices.delete(f"/apps/crm/entities/invoice/records/{values[1][0]}"), 204)
    job = run(invoices, response.get_data(), "export.xlsx", mode="skip_bad_rows")
    assert job["imported"] == 1 and len(job["errors"]) == len(expected) - 1


def test_export_hides_hidden_fields_and_checks_filters(invoices, login):
    definition = {**INVOICE, "fields": [
        {**f, "permissions": {"member": "hidden"}} if f["key"] == "amount" else f
        for f in INVOICE["fields"]]}
    expect(invoices.put("/apps/crm/entities/invoice", definition), 200)
    _seed_export(invoices)
    member = login("member")
    raw = member.get("/apps/crm/entities/invoice/records/export").get_data()
    header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "金额" not in header and "编号" in header
    expect(member.get("/apps/crm/entities/invoice/records/export?amount__gte=1"), 400)
    expect(member.get("/apps/crm/entities/invoice/records/export?format=pdf"), 400)
    expect(login("outsider").get("/apps/crm/entities/invoice/records/export"), 403)


# --- attachments ---------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)


def upload(api, content: bytes, name: str, status: int = 201) -> Any:
    return expect(api.call("POST", "/uploads", data={"file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data"), status)


def test_upload_attach_download(app, invoices, login):
    import hashlib

    member = login("member")
    stored = upload(member, PNG, "回单.png")
    assert stored["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (stored["size"], stored["name"], stored["content_type"]) == (
        len(PNG), "回单.png", "image/png")
    blob = f"{app.instance_path}/uploads/{stored['sha256'][:2]}/{stored['sha256']}"
    with open(blob, "rb") as handle:
        assert handle.read() == PNG
    record = expect(member.post("/apps/crm/entities/invoice/records",
                                {"code": "F-1", "files": [stored]}), 201)
    assert record["files"][0]["id"] == stored["id"]
    for reader in ("member", "member2", "admin"):
        with login(reader).get(f"/uploads/{stored['id']}") as response:
            assert response.status_code == 200, reader
            assert response.get_data() == PNG
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Content-Type"] == "image/png"
    expect(login("outsider").get(f"/uploads/{stored['id']}"), 404)
    lonely = upload(member, b"%PDF-1.7 test", "note.pdf")
    expect(login("member2").get(f"/uploads/{lonely['id']}"), 404)
    with member.get(f"/uploads/{lonely['id']}") as response:
        assert response.get_data() == b"%PDF-1.7 test"


def test_upload_limits(app, login):
    member = login("member")
    app.config["UPLOAD_MAX_BYTES"] = 1000
    body = upload(member, b"%PDF-" + bytes(2000), "big.pdf", 413)
    assert body["error"]["code"] == "file_too_large"
    app.config["UPLOAD_MAX_BYTES"] = 100_000
    upload(member, b"MZ\x90\x00" + bytes(100), "tool.exe", 415)
    upload(member, b"MZ\x90\x00" + bytes(100), "photo.png", 415)
    upload(member, b"#!/bin/sh\nrm -rf /\n", "notes.txt", 415)
    upload(member, b"not a pdf at all", "report.pdf", 415)
    with app.app_context():
        count = db.session.execute(sa.text("SELECT count(*) FROM uploads")).scalar()
    assert count == 0
    stored = [p for p in (Path(app.instance_path) / "uploads").rglob("*") if p.is_file()]
    assert stored == []


def test_cli_import_with_progress(app, invoices, tmp_path):
    from app_platform.cli_import import import_records_command

    path = tmp_path / "cli.csv"
    path.write_bytes(csv_bytes(ROWS, "gbk"))
    runner = app.test_cli_runner()
    dry = runner.invoke(import_records_command, ["crm", "invoice", str(path), "--dry-run"])
    assert dry.exit_code == 1, dry.output
    assert "row 4 issued" in dry.output
    assert "would import 3" in dry.output
    done = runner.invoke(import_records_command, ["crm", "invoice", str(path), "--mode",
                                                  "skip_bad_rows", "--as", "member"])
    assert done.exit_code == 0, done.output
    assert "imported 3, 1 bad rows" in done.output
    records = expect(invoices.get("/apps/crm/entities/invoice/records"), 200)["items"]
    assert {r["created_by"] for r in records} == {"member"}
    refused = runner.invoke(import_records_command, ["crm", "nope", str(path)])
    assert refused.exit_code == 1 and "no entity" in refused.output
