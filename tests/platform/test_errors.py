"""One error envelope for every status, and a corpus of malformed requests none of which
may produce a 5xx (API.md: "A 5xx is always a bug")."""

from __future__ import annotations

from typing import Any

import pytest

from app_platform import create_app
from app_platform.extensions import db

RECORDS = "/api/v1/apps/crm/entities/customer/records"
ENVELOPE_KEYS = {"code", "message", "details", "request_id"}


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def check_envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert isinstance(detail, dict) and {"path", "message"} <= set(detail), detail
    assert isinstance(error["request_id"], str) and error["request_id"]
    assert response.headers["X-Request-Id"] == error["request_id"]
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def send(client: Any, token: str | None, method: str, path: str, data: Any = None,
         content_type: str | None = "application/json",
         headers: dict[str, str] | None = None, **kw: Any) -> Any:
    all_headers = {"Authorization": f"Bearer {token}"} if token else {}
    all_headers.update(headers or {})
    if data is not None:
        kw["data"] = data
        if content_type:
            kw["content_type"] = content_type
    return client.open(path, method=method, headers=all_headers, **kw)


@pytest.fixture
def record_id(crm: Any) -> int:
    return expect(crm.post("/apps/crm/entities/customer/records", {"name": "甲"}), 201)["id"]


def test_400_malformed_json(crm, client):
    for data in ("{bad", '{"name": "x",}', "{'name': 'x'}", "", "\ufeff{}"):
        response = send(client, crm.token, "POST", RECORDS, data=data.encode())
        error = check_envelope(response, 400)
        assert error["code"] == "malformed_json", data


def test_401_403_404_405(crm, client, login, record_id):
    assert check_envelope(send(client, None, "GET", RECORDS), 401)["code"] == \
        "unauthenticated"
    outsider = login("outsider")
    assert check_envelope(send(client, outsider.token, "GET", RECORDS), 403)["code"] == \
        "forbidden"
    for path in ("/api/v1/apps/ghost", "/api/v1/apps/ghost/entities",
                 "/api/v1/apps/crm/entities/ghost", f"{RECORDS}/987654",
                 "/api/v1/nothing/here", "/api/v2/apps", "/api/", "/api/v1/"):
        assert check_envelope(send(client, crm.token, "GET", path), 404)["code"] == \
            "not_found", path
    for method, path in (("DELETE", "/api/v1/apps"), ("PUT", RECORDS),
                         ("POST", f"{RECORDS}/{record_id}"), ("PATCH", "/api/v1/apps/crm"),
                         ("PUT", "/api/v1/auth/login"), ("GET", "/api/v1/tokens")):
        error = check_envelope(send(client, crm.token, method, path), 405)
        assert error["code"] == "method_not_allowed", (method, path)


def test_409_conflicts(crm, client, record_id):
    response = send(client, crm.token, "POST", "/api/v1/apps",
                    data='{"key": "crm", "name": "again"}')
    check_envelope(response, 409)
    response = send(client, crm.token, "PATCH", f"{RECORDS}/{record_id}",
                    data='{"name": "x", "version": 5}')
    check_envelope(response, 409)


def test_413_body_too_large_with_small_limit(app, crm):
    config = {k: app.config[k] for k in ("TESTING", "SECRET_KEY", "PASSWORD_HASH",
                                          "DATABASE_URL")}
    small = create_app({**config, "MAX_CONTENT_LENGTH": 2048})
    try:
        client = small.test_client()
        big = ('{"name": "' + "x" * 4096 + '"}').encode()
        error = check_envelope(send(client, crm.token, "POST", RECORDS, data=big), 413)
        assert error["code"] == "too_large"
        fits = ('{"name": "' + "y" * 100 + '"}').encode()
        expect(send(client, crm.token, "POST", RECORDS, data=fits), 201)
        # the limit holds before authentication too
        check_envelope(send(client, None, "POST", "/api/v1/auth/login", data=big), 413)
    finally:
        with small.app_context():
            db.engine.dispose()


def test_413_over_ten_megabytes(crm, client):
    assert client.application.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
    big = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    error = check_envelope(send(client, crm.token, "POST", RECORDS, data=big), 413)
    assert error["code"] == "too_large"
    assert expect(crm.get("/apps/crm/entities/customer/records"), 200)["total"] == 0


def test_415_wrong_media_type(crm, client, record_id):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/csv",
                         "application/xml"):
        for method, path in (("POST", RECORDS), ("PATCH", f"{RECORDS}/{record_id}"),
                             ("POST", "/api/v1/apps")):
            response = send(client, crm.token, method, path, data=b'{"name": "x"}',
                            content_type=content_type)
            error = check_envelope(response, 415)
            assert error["code"] == "unsupported_media_type", (content_type, path)
    # a charset parameter is still JSON
    response = send(client, crm.token, "POST", RECORDS, data='{"name": "字符集"}'.encode(),
                    content_type="application/json; charset=utf-8")
    assert expect(response, 201)["name"] == "字符集"


def test_422_details_name_each_field(crm, client):
    response = send(client, crm.token, "POST", RECORDS,
                    data=b'{"limit": "abc", "level": "Z", "ghost": 1}')
    error = check_envelope(response, 422)
    assert error["code"] == "validation_error"
    assert sorted(d["path"] for d in error["details"]) == ["ghost", "level", "limit", "name"]


def test_request_id_is_echoed(crm, client):
    response = send(client, None, "GET", RECORDS, headers={"X-Request-Id": "trace-abc-123"})
    assert check_envelope(response, 401)["request_id"] == "trace-abc-123"
    response = send(client, None, "GET", RECORDS, headers={"X-Request-Id": "r" * 500})
    assert len(check_envelope(response, 401)["request_id"]) <= 64
    first = check_envelope(send(client, None, "GET", RECORDS), 401)["request_id"]
    second = check_envelope(send(client, None, "GET", RECORDS), 401)["request_id"]
    assert first != second


DEEP = 100_000
HUGE = "1" + "0" * 40
P63, P64 = str(2**63), str(2**64)
# (id, method, path, body bytes or None, extra headers); {rid} is an existing record
MALFORMED: list[tuple[str, str, str, bytes | None, dict[str, str]]] = [
    ("null-body", "POST", RECORDS, b"null", {}),
    ("array-body", "POST", RECORDS, b"[]", {}),
    ("array-of-records", "POST", RECORDS, b'[{"name": "x"}]', {}),
    ("string-body", "POST", RECORDS, b'"name"', {}),
    ("number-body", "POST", RECORDS, b"42", {}),
    ("bool-body", "POST", RECORDS, b"true", {}),
    ("patch-array", "PATCH", RECORDS + "/{rid}", b"[1, 2]", {}),
    ("patch-null", "PATCH", RECORDS + "/{rid}", b"null", {}),
    ("name-number", "POST", RECORDS, b'{"name": 123}', {}),
    ("name-object", "POST", RECORDS, b'{"name": {"a": 1}}', {}),
    ("name-array", "POST", RECORDS, b'{"name": ["x"]}', {}),
    ("name-1mb", "POST", RECORDS, b'{"name": "' + b"x" * 1_000_000 + b'"}', {}),
    ("money-bool", "POST", RECORDS, b'{"name": "x", "limit": true}', {}),
    ("money-object", "POST", RECORDS, b'{"name": "x", "limit": {"v": "1.00"}}', {}),
    ("money-huge-int", "POST", RECORDS, b'{"name": "x", "limit": ' + HUGE.encode() + b"}", {}),
    ("money-huge-exponent", "POST", RECORDS, b'{"name": "x", "limit": 1e400}', {}),
    ("money-huge-string", "POST", RECORDS, b'{"name": "x", "limit": "' + b"9" * 100 + b'"}',
     {}),
    ("nan", "POST", RECORDS, b'{"name": "x", "limit": NaN}', {}),
    ("infinity", "POST", RECORDS, b'{"name": "x", "limit": Infinity}', {}),
    ("minus-infinity", "POST", RECORDS, b"-Infinity", {}),
    ("deep-array", "POST", RECORDS, b"[" * DEEP + b"]" * DEEP, {}),
    ("deep-object", "POST", RECORDS, b'{"a":' * DEEP + b"1" + b"}" * DEEP, {}),
    ("deep-patch", "PATCH", RECORDS + "/{rid}", b'{"name": ' + b"[" * DEEP + b"]" * DEEP
     + b"}", {}),
    ("deep-login", "POST", "/api/v1/auth/login", b"[" * DEEP + b"]" * DEEP, {}),
    ("invalid-utf8", "POST", RECORDS, b'{"name": "\xff\xfe"}', {}),
    ("truncated-utf8", "POST", RECORDS, b'{"name": "\xe4\xb8"}', {}),
    ("lone-surrogate", "POST", RECORDS, b'{"name": "\\ud800"}', {}),
    ("nul-character", "POST", RECORDS, b'{"name": "a\\u0000b"}', {}),
    ("unknown-field", "POST", RECORDS, b'{"name": "x", "ghost": 1}', {}),
    ("empty-key", "POST", RECORDS, b'{"": 1}', {}),
    ("many-unknown-keys", "POST", RECORDS,
     ("{" + ",".join(f'"k{i}": {i}' for i in range(5000)) + "}").encode(), {}),
    ("relation-negative", "POST", RECORDS, b'{"name": "x", "owner_customer": -1}', {}),
    ("relation-zero", "POST", RECORDS, b'{"name": "x", "owner_customer": 0}', {}),
    ("relation-2^63", "POST", RECORDS,
     b'{"name": "x", "owner_customer": ' + P63.encode() + b"}", {}),
    ("relation-2^64", "POST", RECORDS,
     b'{"name": "x", "owner_customer": ' + P64.encode() + b"}", {}),
    ("relation-fraction", "POST", RECORDS, b'{"name": "x", "owner_customer": 1.5}', {}),
    ("relation-string", "POST", RECORDS, b'{"name": "x", "owner_customer": "1"}', {}),
    ("version-huge", "PATCH", RECORDS + "/{rid}", b'{"version": ' + HUGE.encode() + b"}", {}),
    ("version-negative", "PATCH", RECORDS + "/{rid}", b'{"version": -1}', {}),
    ("version-fraction", "PATCH", RECORDS + "/{rid}", b'{"version": 1.5}', {}),
    ("if-match-garbage", "PATCH", RECORDS + "/{rid}", b'{"name": "y"}', {"If-Match": "abc"}),
    ("if-match-huge", "PATCH", RECORDS + "/{rid}", b'{"name": "y"}', {"If-Match": "9" * 40}),
    ("if-match-superscript", "DELETE", RECORDS + "/{rid}", None, {"If-Match": "\u00b2"}),
    ("id-negative", "GET", RECORDS + "/-1", None, {}),
    ("id-zero", "GET", RECORDS + "/0", None, {}),
    ("id-text", "GET", RECORDS + "/abc", None, {}),
    ("id-2^63", "GET", RECORDS + "/" + P63, None, {}),
    ("id-2^64-patch", "PATCH", RECORDS + "/" + P64, b'{"name": "y"}', {}),
    ("id-40-digits-delete", "DELETE", RECORDS + "/" + HUGE, None, {}),
    ("audit-record-2^63", "GET", f"/api/v1/apps/crm/audit?entity=customer&record_id={P63}",
     None, {}),
    ("audit-record-superscript", "GET", "/api/v1/apps/crm/audit?record_id=%C2%B2", None, {}),
    ("filter-id-2^63", "GET", RECORDS + "?id=" + P63, None, {}),
    ("filter-id-gt-40-digits", "GET", RECORDS + "?id__gt=" + HUGE, None, {}),
    ("filter-relation-2^64", "GET", RECORDS + "?owner_customer=" + P64, None, {}),
    ("filter-money-40-digits", "GET", RECORDS + "?limit__gt=" + HUGE, None, {}),
    ("filter-nul", "GET", RECORDS + "?name=a%00b", None, {}),
    ("search-nul", "GET", RECORDS + "?q=a%00b", None, {}),
    ("offset-40-digits", "GET", RECORDS + "?offset=" + HUGE, None, {}),
    ("limit-superscript", "GET", RECORDS + "?limit=%C2%B2", None, {}),
    ("offset-superscript", "GET", RECORDS + "?offset=%C2%B2", None, {}),
    ("sort-only-dashes", "GET", RECORDS + "?sort=---", None, {}),
    ("in-600-values", "GET", RECORDS + "?name__in=" + ",".join(["a"] * 600), None, {}),
    ("login-array", "POST", "/api/v1/auth/login", b"[]", {}),
    ("login-numbers", "POST", "/api/v1/auth/login", b'{"username": 1, "password": 2}', {}),
    ("login-null", "POST", "/api/v1/auth/login", b"null", {}),
    ("app-array", "POST", "/api/v1/apps", b"[]", {}),
    ("app-null-key", "POST", "/api/v1/apps", b'{"key": null, "name": null}', {}),
    ("app-grants-array", "POST", "/api/v1/apps", b'{"key": "x", "name": "x", "grants": []}',
     {}),
    ("entity-fields-object", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": {}}', {}),
    ("entity-fields-numbers", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [1, 2]}', {}),
    ("entity-option-number", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [{"key": "s", "type": "select", "options": [{"value": 1}]}]}',
     {}),
    ("entity-bad-regex", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [{"key": "s", "type": "text", "pattern": "(["}]}', {}),
    ("entity-bad-default", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [{"key": "n", "type": "number", "default": "abc"}]}', {}),
    ("entity-subtable-nested", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [{"key": "s", "type": "subtable", "fields": '
     b'[{"key": "t", "type": "subtable", "fields": []}]}]}', {}),
    ("entity-permissions-array", "POST", "/api/v1/apps/crm/entities",
     b'{"key": "x", "fields": [], "permissions": []}', {}),
    ("entity-put-array", "PUT", "/api/v1/apps/crm/entities/customer", b"[]", {}),
    ("entity-put-null", "PUT", "/api/v1/apps/crm/entities/customer", b"null", {}),
    ("entity-put-version-string", "PUT", "/api/v1/apps/crm/entities/customer",
     b'{"key": "customer", "fields": [], "version": "1"}', {}),
    ("token-scopes-string", "POST", "/api/v1/tokens",
     b'{"name": "x", "scopes": "records:read"}', {}),
    ("token-null", "POST", "/api/v1/tokens", b"null", {}),
    ("token-revoke-2^64", "DELETE", "/api/v1/tokens/" + P64, None, {}),
    ("user-password-null", "POST", "/api/v1/users", b'{"username": "xy", "password": null}',
     {}),
    ("user-roles-string", "POST", "/api/v1/users",
     b'{"username": "xy", "password": "long-enough-1", "roles": "admin"}', {}),
    ("role-array", "POST", "/api/v1/roles", b"[]", {}),
    ("empty-json-body", "POST", RECORDS, b"", {}),
    ("bearer-non-ascii", "GET", RECORDS, None, {"Authorization": "Bearer 令牌"}),
]


@pytest.mark.parametrize(("method", "path", "data", "headers"),
                         [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_requests_never_5xx(crm, client, record_id, method, path, data, headers):
    path = path.replace("{rid}", str(record_id))
    response = send(client, crm.token, method, path, data=data, headers=headers)
    assert response.status_code < 500, (response.status_code, response.get_json())
    if response.status_code >= 400:
        check_envelope(response, response.status_code)
    # the existing record is untouched unless the request legitimately changed it
    after = expect(crm.get(f"/apps/crm/entities/customer/records/{record_id}"), 200)
    assert after["name"] in ("甲", "y")


def test_malformed_corpus_is_large_enough():
    assert len(MALFORMED) >= 30
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED)
