"""The fast RecordValidator against the reference (jsonschema over the published record
schema): the same accept/reject verdict on a randomized corpus (fixed seed) of valid
documents and mutations of them, for an entity with every field type.

Documents are built as ``json.loads(..., parse_float=Decimal)`` would hand them over: JSON
numbers with a fraction are Decimal, never float."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from engines.form import RecordInvalid, RecordValidator, check_definition
from engines.form.reference import reference_validator

SEED = 20261120
DOCUMENTS = 2500
CONTEXT = {"card_secret": b"x" * 32}

DEFINITION = {
    "key": "thing",
    "label": "样例",
    "fields": [
        {"key": "code", "type": "text", "required": True, "min_length": 2, "max_length": 12,
         "pattern": "^[A-Z]"},
        {"key": "memo", "type": "textarea", "max_length": 50},
        {"key": "qty", "type": "number", "min": 0, "max": 1000},
        {"key": "ratio", "type": "number", "scale": 2, "min": "-10.5", "max": "99.99"},
        {"key": "amount", "type": "money", "currency": "CNY", "min": "0", "max": "10000.00"},
        {"key": "fee", "type": "money", "scale": 0},
        {"key": "rate", "type": "percent", "scale": 3},
        {"key": "day", "type": "date", "min": "2020-01-01", "max": "2030-12-31"},
        {"key": "at", "type": "datetime"},
        {"key": "ok", "type": "boolean"},
        {"key": "level", "type": "select", "required": True,
         "options": ["A", "B", {"value": "C", "label": "丙"}]},
        {"key": "tags", "type": "multiselect", "options": ["x", "y", "z"], "max_items": 2},
        {"key": "owner", "type": "user"},
        {"key": "parent", "type": "relation", "target": "thing"},
        {"key": "links", "type": "relation", "target": "thing", "many": True},
        {"key": "lines", "type": "subtable", "max_rows": 3, "fields": [
            {"key": "sku", "type": "text", "required": True, "max_length": 8},
            {"key": "price", "type": "money"},
            {"key": "n", "type": "number"},
            {"key": "when", "type": "date"}]},
        {"key": "files", "type": "attachment", "max_files": 2},
        {"key": "mail", "type": "email"},
        {"key": "tel", "type": "phone"},
        {"key": "site", "type": "url"},
        {"key": "card", "type": "card_number"},
        {"key": "total", "type": "formula", "formula": "qty * 2"},
        {"key": "no", "type": "auto_number", "pattern": "T-{seq:4}"},
    ],
}
D = Decimal
FILE = {"id": "abcdefgh", "name": "a.pdf", "size": 1, "sha256": "0" * 64,
        "content_type": "application/pdf"}

# values the contract accepts for each field
VALID: dict[str, list[Any]] = {
    "code": ["AB", "Zed", "A1", "ABCDEFGHIJKL", "Hello 世界"],
    "memo": ["", "多行\n文本", "x" * 50],
    "qty": [0, 1, 500, 999, 1000],
    "ratio": ["0", "-10.5", "-10.50", "99.99", "1.25", D("3.5"), 7, D("-10.5")],
    "amount": ["0", "0.01", "1234.5", "9999.99", "10000.00", 0, 10000],
    "fee": ["0", "15", 15],
    "rate": ["12.5", "0.001", D("99.999"), 100, D("1E+2")],
    "day": ["2020-01-01", "2030-12-31", "2024-02-29"],
    "at": ["2026-11-20T10:01:02+08:00", "2026-11-20T02:01:02Z", "2026-11-20 02:01Z",
           "2026-11-20T02:01:02.123456Z"],
    "ok": [True, False],
    "level": ["A", "B", "C"],
    "tags": [[], ["x"], ["z", "x"]],
    "owner": ["member", "张三", "a" * 64],
    "parent": [1, 42, 2**63 - 1],
    "links": [[], [1, 2], [5]],
    "lines": [[], [{"sku": "A1"}], [{"sku": "B", "price": "1.5", "n": 2, "when": "2024-01-01"}],
              [{"sku": "C", "price": None}, {"sku": "D", "n": -3}]],
    "files": [[], [{"id": "abcdefgh"}], [FILE]],
    "mail": ["a@b.co", "张@例子.中国"],
    "tel": ["+86 138-0013-8000", "010-12345678", "123"],
    "site": ["https://example.com", "http://a.b/c?d=1"],
    "card": ["4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444",
             "378282246310005", "4012888888881881"],
}
# wrong types, out of range, too many decimals, bad dates, malformed text, and edge values
TRICKY: dict[str, list[Any]] = {
    "code": ["A", "", "ab", "ABCDEFGHIJKLM", 12, ["A"], " AB", "AB\n", True],
    "memo": ["x" * 51, 5, True, {"a": 1}],
    "qty": [-1, 1001, D("1.5"), D("2.0"), "5", True, False, 10**16, D("1E+2")],
    "ratio": ["-10.51", "100", "1.234", D("1.234"), "abc", "", "1e2", " 1.5", "1.5 ",
              True, "01.5", "-0", D("1E+1"), "+1", "1.", ".5", 10**15, D("99.991")],
    "amount": ["-0.01", "10000.01", D("1.5"), D("1"), "1.234", "abc", True, 10001, -1,
               "1,000", "0x10", "", [1]],
    "fee": ["1.5", "1.0", D("1.0"), D("2"), "-5"],
    "rate": ["0.0001", D("0.0001"), "x", "1000000000000000", D("1E+15")],
    "day": ["2019-12-31", "2031-01-01", "2023-02-29", "2024-13-01", "2024-1-5", "20240105",
            20240105, "2024-01-05T00:00:00Z", " 2024-01-05"],
    "at": ["2026-11-20T10:01:02", "2026-11-20", "2026-02-30T00:00:00Z",
           "2026-11-20T25:00:00Z", 1700000000, "2026-11-20T10:01:02+0800", "now"],
    "ok": ["true", 1, 0, "false", [True]],
    "level": ["D", "a", "丙", 1, ["A"], ""],
    "tags": [["x", "y", "z"], ["x", "x"], ["w"], "x", [1], [None], {"x": 1}],
    "owner": ["a" * 65, 3, "", ["member"]],
    "parent": [0, -1, 2**63, "1", D("1.0"), True, [1]],
    "links": [[1, 1], [0], "1", [True], [2**63], 1],
    "lines": [[{"price": "1"}], [{"sku": "A", "extra": 1}], [{"sku": "A", "price": "1.234"}],
              [{"sku": "A"}] * 4, [1], {"sku": "A"}, [{"sku": "toolongsku"}],
              [{"sku": "A", "when": "2024-02-30"}], [{"sku": None}], [{"sku": "A", "n": 1.5}],
              [{"sku": "A", "n": D("1.5")}], [{}]],
    "files": [[{"id": "short"}], [{"name": "x"}], [{"id": "abcdefgh", "size": -1}],
              [FILE, FILE, FILE], [{"id": "abcdefgh", "x": 1}], "abc", [{"id": "abcdefgh",
                                                                         "sha256": "XYZ"}]],
    "mail": ["a@b", "@b.co", "a b@c.de", 5, "a@b.co\n"],
    "tel": ["12", "abc", "+", "1" * 40, "１３８００１３８０００"],
    "site": ["ftp://x.y", "https://", "example.com", "https://exa mple.com"],
    "card": ["4111111111111112", "4111", "4111-1111-1111-111a", " 4111111111111111",
             "4111111111111111 ", 4111111111111111, "41111111111111111111",
             "4111_1111_1111_1111", "4111  1111 1111 1111", "４１１１１１１１１１１１１１１１"],
}
REQUIRED = {"code", "level"}
EXTRA_KEYS = [("total", "1.00"), ("no", "T-0001"), ("ghost", 1), ("id", 5), ("version", 2),
              ("created_by", "admin"), ("", None)]


def luhn(digits: str) -> bool:
    """Written out here so the test does not trust the code under test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def make_document(rng: random.Random, *, partial: bool) -> Any:
    if rng.random() < 0.01:
        return rng.choice([None, [], "text", 42, [{"code": "AB", "level": "A"}]])
    doc: dict[str, Any] = {}
    for key in VALID:
        roll = rng.random()
        absent = 0.5 if partial else (0.02 if key in REQUIRED else 0.3)
        if roll < absent:
            continue
        roll = rng.random()
        if roll < 0.04:
            doc[key] = rng.choice(TRICKY[key])
        elif roll < 0.06 and (key in REQUIRED or rng.random() < 0.5):
            doc[key] = None
        else:
            doc[key] = rng.choice(VALID[key])
    if rng.random() < 0.05:
        extra, value = rng.choice(EXTRA_KEYS)
        if not (partial and extra == "version"):  # PATCH checks version elsewhere
            doc[extra] = value
    return doc


def verdicts(documents: list[Any], partial: bool) -> tuple[list[tuple[Any, bool, bool, str]],
                                                          int]:
    fast = RecordValidator(DEFINITION, CONTEXT)
    reference = reference_validator(DEFINITION, for_update=partial)
    mismatches, accepted = [], 0
    for doc in documents:
        try:
            fast.validate(doc, partial=partial)
            fast_ok, why = True, ""
        except RecordInvalid as exc:
            fast_ok, why = False, exc.message
        errors = list(reference.iter_errors(doc))
        ref_ok = not errors
        if not ref_ok:
            why += " | reference: " + "; ".join(
                f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3])
        accepted += fast_ok
        if fast_ok != ref_ok:
            mismatches.append((doc, fast_ok, ref_ok, why))
    return mismatches, accepted


def report(mismatches: list[tuple[Any, bool, bool, str]]) -> str:
    lines = [f"{len(mismatches)} documents get different verdicts; first ones:"]
    for doc, fast_ok, ref_ok, why in mismatches[:8]:
        lines.append(f"  fast={'accept' if fast_ok else 'reject'} "
                     f"reference={'accept' if ref_ok else 'reject'} doc={doc!r} ({why})")
    return "\n".join(lines)


def test_fixture_values_are_what_they_claim():
    check_definition(DEFINITION)
    types = {f["type"] for f in DEFINITION["fields"]}
    assert len(types) == 20
    for card in VALID["card"]:
        assert luhn(card.replace(" ", "").replace("-", "")), card
    assert not luhn("4111111111111112")
    fast = RecordValidator(DEFINITION, CONTEXT)
    reference = reference_validator(DEFINITION)
    for key, values in VALID.items():
        for value in values:
            doc = {"code": "AB", "level": "A", key: value}
            fast.validate(doc)  # raises when a "valid" sample is not
            assert reference.is_valid(doc), (key, value)


@pytest.mark.parametrize("key", sorted(TRICKY))
def test_each_tricky_value_gets_the_same_verdict(key):
    """One field at a time, so a disagreement names its field and value."""
    documents = [{"code": "AB", "level": "A", key: value} for value in TRICKY[key]]
    mismatches, _ = verdicts(documents, partial=False)
    assert not mismatches, report(mismatches)


def test_null_in_each_field_gets_the_same_verdict():
    """An empty optional field is null; a required one may not be (on create or PATCH)."""
    for partial in (False, True):
        documents = [{"code": "AB", "level": "A", key: None} for key in VALID]
        mismatches, _ = verdicts(documents, partial=partial)
        assert not mismatches, (f"partial={partial}: " + report(mismatches))


def test_randomized_corpus_create():
    rng = random.Random(SEED)
    documents = [make_document(rng, partial=False) for _ in range(DOCUMENTS)]
    mismatches, accepted = verdicts(documents, partial=False)
    # the corpus exercises both outcomes
    assert DOCUMENTS * 0.25 < accepted < DOCUMENTS * 0.75, accepted
    assert not mismatches, report(mismatches)


def test_randomized_corpus_patch():
    rng = random.Random(SEED + 1)
    documents = [make_document(rng, partial=True) for _ in range(DOCUMENTS)]
    mismatches, accepted = verdicts(documents, partial=True)
    assert DOCUMENTS * 0.25 < accepted < DOCUMENTS * 0.9, accepted
    assert not mismatches, report(mismatches)
