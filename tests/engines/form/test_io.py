"""Spreadsheet cells <-> record values (engines/form/io.py), CSV/XLSX reading and writing
(io_files.py) and title lookups for relations (io_refs.py); no Flask, no platform."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from engines.form import RecordValidator, field_types
from engines.form.errors import FieldProblem
from engines.form.io import (
    CODECS,
    ColumnMappingError,
    FileFormatError,
    RowReader,
    TitleRef,
    cell_formatter,
    cell_parser,
    map_columns,
)
from engines.form.io_files import (
    csv_chunks,
    detect_encoding,
    file_kind,
    iter_csv,
    iter_xlsx,
    write_xlsx,
)
from engines.form.io_refs import resolve_title_refs, title_field

SECRET = bytes(range(32))


def parse(kind: str, value, **settings):
    return cell_parser({"key": "f", "type": kind, **settings})(value)


def test_every_field_type_has_a_codec():
    assert set(CODECS) == set(field_types())


@pytest.mark.parametrize(("value", "expected"), [
    ("1,234.50", "1234.50"), ("¥1234.5", "1234.5"), ("￥ 1,000", "1000"), ("12元", "12"),
    ("CNY 3.10", "3.10"), ("(1,234.50)", "-1234.50"), ("-0.01", "-0.01"), (" 7 ", "7"),
    (1234.5, "1234.5"), (0.1, "0.1"), (12, "12"), (Decimal("3.30"), "3.30"),
])
def test_money_cells(value, expected):
    assert parse("money", value) == expected
    validator = RecordValidator({"key": "e", "fields": [{"key": "m", "type": "money"}]})
    minor = validator.validate({"m": parse("money", value)})["m"]
    assert minor == int(Decimal(expected) * 100)


@pytest.mark.parametrize("value", ["abc", "1.2.3", "¥", "NaN", "1e999"])
def test_money_refuses_non_numbers(value):
    with pytest.raises(FieldProblem):
        parse("money", value)


def test_numbers_and_percent():
    assert parse("number", "1,234") == 1234
    assert parse("number", 12.0) == 12
    with pytest.raises(FieldProblem, match="whole"):
        parse("number", "1.5")
    assert parse("number", "1.50", scale=2) == "1.50"
    assert parse("percent", "12.5%") == "12.5"
    assert parse("percent", 7) == "7"


@pytest.mark.parametrize(("value", "expected"), [
    ("2026/11/20", "2026-11-20"), ("2026-11-20", "2026-11-20"), ("2026.1.5", "2026-01-05"),
    ("2026年11月20日", "2026-11-20"), ("20261120", "2026-11-20"),
    ("2026-11-20 00:00:00", "2026-11-20"), (dt.datetime(2026, 11, 20), "2026-11-20"),
    (dt.date(2026, 1, 2), "2026-01-02"),
])
def test_date_cells(value, expected):
    assert parse("date", value) == expected


@pytest.mark.parametrize("value", ["2026-02-30", "20/11/2026", "tomorrow",
                                   dt.datetime(2026, 1, 1, 10, 30)])
def test_bad_dates(value):
    with pytest.raises(FieldProblem):
        parse("date", value)


def test_datetimes_without_offset_are_read_in_the_import_time_zone():
    assert parse("datetime", "2026/11/20 10:01") == "2026-11-20T10:01:00+08:00"
    assert parse("datetime", "2026-11-20T10:01:02Z") == "2026-11-20T10:01:02Z"
    assert parse("datetime", dt.datetime(2026, 11, 20, 8, 0)) == "2026-11-20T08:00:00+08:00"
    utc = cell_parser({"key": "f", "type": "datetime"}, tz="UTC")("2026-11-20 10:01:02.5")
    assert utc == "2026-11-20T10:01:02.500000+00:00"


@pytest.mark.parametrize(("value", "expected"), [
    ("是", True), ("否", False), ("true", True), ("FALSE", False), ("1", True), ("0", False),
    (True, True), (0, False), ("Y", True), ("n", False),
])
def test_booleans(value, expected):
    assert parse("boolean", value) is expected


def test_boolean_refuses_other_words():
    with pytest.raises(FieldProblem, match="是/否"):
        parse("boolean", "maybe")


def test_choices_by_value_or_label():
    options = ["A", {"value": "vip", "label": "贵宾"}]
    assert parse("select", "贵宾", options=options) == "vip"
    assert parse("select", "a", options=options) == "A"
    assert parse("multiselect", "A;贵宾", options=options) == ["A", "vip"]
    assert parse("multiselect", "A；vip", options=options) == ["A", "vip"]


def test_relations_by_id_or_title():
    assert parse("relation", "12", target="c") == 12
    assert parse("relation", 12.0, target="c") == 12
    assert parse("relation", "Acme", target="c") == TitleRef("Acme")
    assert parse("relation", "3;Acme", target="c", many=True) == [3, TitleRef("Acme")]


def test_json_and_attachment_cells():
    assert parse("subtable", '[{"qty": 2, "price": 1.5}]', fields=[]) == [
        {"qty": 2, "price": Decimal("1.5")}]
    with pytest.raises(FieldProblem, match="JSON"):
        parse("subtable", "qty=2", fields=[])
    assert parse("attachment", "abcdefgh1; ijklmnop2") == [{"id": "abcdefgh1"},
                                                           {"id": "ijklmnop2"}]


def test_card_numbers_pass_through_to_the_tokenizer_and_excel_floats_are_refused():
    card = {"key": "card", "type": "card_number"}
    validator = RecordValidator({"key": "e", "fields": [card]}, {"card_secret": SECRET})
    stored = validator.validate({"card": parse("card_number", "4111 1111 1111 1111")})
    assert stored["card__last4"] == "1111" and stored["card"].startswith("tok_")
    with pytest.raises(FieldProblem, match="text"):
        parse("card_number", 4111111111111111.0)


def test_formula_guard_is_removed_on_import():
    assert parse("text", "'=1+1") == "=1+1"
    assert parse("text", "'quoted") == "'quoted"
    assert cell_formatter({"key": "t", "type": "text"})("=HYPERLINK(1)") == "'=HYPERLINK(1)"


ENTITY = {"key": "deal", "fields": [
    {"key": "name", "label": "名称", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money"},
    {"key": "status", "label": "状态", "type": "select", "options": ["new", "won"],
     "default": "new", "required": True},
    {"key": "total", "label": "合计", "type": "formula", "formula": "amount"},
    {"key": "old", "label": "旧字段", "type": "text", "removed": True},
]}


def test_columns_by_label_key_and_mapping():
    plan = map_columns(ENTITY, ["名称", "AMOUNT", "id", "合计", None])
    assert plan.keys == ["name", "amount", None, None, None]
    assert plan.ignored == ["id", "合计"]
    plan = map_columns(ENTITY, ["客户", "x"], {"客户": "name", "x": None})
    assert plan.keys == ["name", None]


def test_column_problems_are_all_listed():
    with pytest.raises(ColumnMappingError) as caught:
        map_columns(ENTITY, ["金额", "amount", "旧字段", "备注"], {"备注": "nope"})
    assert [(p.path, p.message.split(" ")[0]) for p in caught.value.problems] == [
        ("amount", "feeds"), ("旧字段", "was"), ("备注", "is"), ("name", "is")]


def test_row_reader_reports_each_bad_cell():
    reader = RowReader(ENTITY, map_columns(ENTITY, ["名称", "金额"]))
    assert reader.read(["A", "¥5"]) == ({"name": "A", "amount": "5"}, [])
    data, problems = reader.read(["", "x", "extra"])
    assert data == {}
    assert [p.path for p in problems] == ["amount", ""]


# --- files ---------------------------------------------------------------------------------
def test_file_kind_checks_the_name_against_the_bytes():
    assert file_kind(b"a,b\n", "x.csv") == "csv"
    assert file_kind(b"PK\x03\x04", "x.xlsx") == "xlsx"
    for head, name in ((b"a,b", "x.xlsx"), (b"PK\x03\x04", "x.csv"),
                       (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "x.xls"), (b"a", "x.pdf")):
        with pytest.raises(FileFormatError):
            file_kind(head, name)


@pytest.mark.parametrize(("data", "encoding"), [
    ("名称,金额\n张三,1\n".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "名称\n".encode(), "utf-8-sig"),
    ("名称,金额\n张三,1\n".encode("gbk"), "gb18030"),
    (b"name\nplain ascii\n", "utf-8"),
])
def test_encodings(data, encoding):
    assert detect_encoding(io.BytesIO(data)) == encoding


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, "名称".encode("utf-16"),
                                  b"ok\n\x81\x30\xff\xff"])
def test_not_text(data):
    with pytest.raises(FileFormatError):
        detect_encoding(io.BytesIO(data))


def test_gbk_csv_reads_back(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_bytes("户名;金额\n张三;\"1,234.50\"\n".encode("gbk"))
    with open(path, "rb") as handle:
        encoding = detect_encoding(handle)
    assert list(iter_csv(path, encoding)) == [
        (1, ["户名", "金额"]), (2, ["张三", "1,234.50"])]


def test_csv_and_xlsx_writers_round_trip(tmp_path):
    fields = [{"key": "n", "label": "名称", "type": "text"},
              {"key": "m", "label": "金额", "type": "money"},
              {"key": "d", "label": "日期", "type": "date"},
              {"key": "c", "label": "卡", "type": "card_number"}]
    records = [{"n": "=cmd", "m": "1234.50", "d": "2026-11-20",
                "c": {"last4": "1111", "brand": "visa", "token": "tok_x"}},
               {"n": "乙", "m": None, "d": None, "c": None}]
    text_rows = [[cell_formatter(f)(r[f["key"]]) for f in fields] for r in records]
    raw = b"".join(csv_chunks([f["label"] for f in fields], text_rows, chunk_rows=1))
    assert raw.decode("utf-8-sig").splitlines() == [
        "名称,金额,日期,卡", "'=cmd,1234.50,2026-11-20,**** **** **** 1111", "乙,,,"]
    native = [[cell_formatter(f, native=True)(r[f["key"]]) for f in fields] for r in records]
    path = tmp_path / "out.xlsx"
    write_xlsx(path, ["名称", "金额", "日期", "卡"], native, [None, "#,##0.00", "yyyy-mm-dd",
                                                           None])
    rows = list(iter_xlsx(path))
    assert rows[1][1][1:3] == (1234.5, dt.datetime(2026, 11, 20))
    sheet = openpyxl.load_workbook(path).active
    assert sheet["B2"].number_format == "#,##0.00"
    assert parse("money", rows[1][1][1]) == "1234.5"


def test_iter_xlsx_refuses_a_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(FileFormatError):
        list(iter_xlsx(path))


def test_titles_resolve_to_ids():
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    table = sa.Table("c", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"name": "Acme"}, {"name": "Twin"}, {"name": "Twin"}])
        rows = [{"c": TitleRef("Acme")}, {"c": TitleRef("Twin")}, {"c": [2, TitleRef("Nope")]}]
        problems = resolve_title_refs(conn, rows, {"c": (table, "name", "customer")})
    assert rows[0] == {"c": 1}
    assert {i: [p.message for p in ps] for i, ps in problems.items()} == {
        1: ["customer 'Twin' matches 2 records; use its id"],
        2: ["no customer record titled 'Nope'"]}
    assert title_field({"fields": [{"key": "n", "type": "number"},
                                   {"key": "t", "type": "text"}]}) == "t"
