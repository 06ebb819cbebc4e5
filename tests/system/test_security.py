"""Security against the live deployment: the permission matrix (role x endpoint family x
own/other record), hidden fields kept out of answers and exports, security headers on
every page, login lockout shared by all workers, token revocation seen by all workers,
and no full card number in the database, the server log or an export after a journey
that handles cards."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _live import PASSWORD, write_result
from syscheck import assert_envelope, card_numbers_in, expect, luhn_valid

pytestmark = pytest.mark.system
RESULTS: dict[str, Any] = {}
ROLES = ("admin", "designer", "member", "integrator", "outsider")
RECORDS = "/apps/sec/entities/customer/records"
CUSTOMER = {"key": "customer", "label": "客户", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "salary", "type": "money", "currency": "CNY", "permissions": {"member": "hidden"}},
    {"key": "level", "type": "select", "options": ["A", "B", "C"]}]}
APPROVAL = [{"id": "start", "type": "start"}, {"id": "check", "type": "approver",
                                               "settings": {"assignee": {"kind": "user",
                                                                         "value": "head"}}}]
SECRET_SALARY = "98765.43"


@pytest.fixture(scope="module")
def sec(deployment) -> Any:
    """App 'sec'; a client per role; for each role a record of its own, and records of
    member2 ('other')."""
    clients = {role: deployment.api(role) for role in ROLES}
    admin = clients["admin"]
    expect(admin.post("/apps", json={"key": "sec", "name": "安全"}), 201)
    expect(admin.post("/apps/sec/entities", json=CUSTOMER), 201)
    expect(admin.post("/apps/sec/processes", json={
        "key": "approval", "name": "审批", "entity": "customer", "nodes": APPROVAL}), 201)
    with deployment.api("member2") as member2:
        def other() -> int:  # member2 may not write the salary (hidden): admin does
            made = expect(member2.post(RECORDS, json={"name": "member2 的"}), 201)
            expect(admin.patch(f"{RECORDS}/{made['id']}", json={"salary": SECRET_SALARY}),
                   200)
            return made["id"]

        records: dict[str, dict[str, int]] = {}
        for role in ROLES:
            own = own_delete = own_flow = None
            if role != "outsider":
                make = clients[role]
                own, own_delete, own_flow = (expect(make.post(RECORDS, json={
                    "name": f"{role} {n}"}), 201)["id"] for n in range(3))
            records[role] = {"own": own, "own_delete": own_delete, "own_flow": own_flow,
                             "other": other(), "other_delete": other()}
    yield deployment, clients, records
    for client in clients.values():
        client.close()
    write_result("security.json", RESULTS)


ALL = dict.fromkeys(ROLES[:4], 200) | {"outsider": 403}
ADMIN_ONLY = {"admin": 201} | dict.fromkeys(ROLES[1:], 403)
DESIGNERS = {"admin": 201, "designer": 201} | dict.fromkeys(ROLES[2:], 403)


def matrix(role: str, ids: dict[str, int]) -> list[tuple[str, str, str, Any, int]]:
    """(family, method, path, body, expected status) for one role."""
    own, other = ids["own"], ids["other"]
    user_records = role != "outsider"
    rows = [
        ("apps.list", "GET", "/apps", None, 200),
        ("apps.read", "GET", "/apps/sec", None, ALL[role]),
        ("entities.read", "GET", "/apps/sec/entities/customer", None, ALL[role]),
        ("entities.design", "POST", "/apps/sec/entities",
         {"key": f"e_{role}", "fields": [{"key": "x", "type": "text"}]}, DESIGNERS[role]),
        ("processes.deploy", "POST", "/apps/sec/processes",
         {"key": f"p_{role}", "entity": "customer", "nodes": APPROVAL}, DESIGNERS[role]),
        ("records.list", "GET", RECORDS, None, ALL[role]),
        ("records.export", "GET", f"{RECORDS}/export?format=csv", None, ALL[role]),
        ("records.create", "POST", RECORDS, {"name": "新"}, 201 if user_records else 403),
        ("records.read_other", "GET", f"{RECORDS}/{other}", None, ALL[role]),
        ("records.update_other", "PATCH", f"{RECORDS}/{other}", {"level": "B"}, ALL[role]),
        ("records.delete_other", "DELETE", f"{RECORDS}/{ids['other_delete']}", None,
         {"admin": 204, "designer": 204}.get(role, 403)),
        ("audit.app", "GET", "/apps/sec/audit", None,
         {"admin": 200, "designer": 200}.get(role, 403)),
        ("audit.record_other", "GET", f"/apps/sec/audit?entity=customer&record_id={other}",
         None, ALL[role]),
        # whoever may read a record may start its approval
        ("flows.start_other", "POST", "/apps/sec/processes/approval/instances",
         {"record_id": other}, 201 if user_records else 403),
        ("users.list", "GET", "/users", None, 200),
        ("users.create", "POST", "/users",
         {"username": f"new_{role}", "password": PASSWORD, "roles": ["member"]},
         ADMIN_ONLY[role]),
        ("roles.create", "POST", "/roles", {"key": f"r_{role}", "name": "r"}, ADMIN_ONLY[role]),
        ("tokens.create", "POST", "/tokens", {"name": "t", "scopes": ["records:read"]},
         {"admin": 201, "integrator": 201}.get(role, 403)),
    ]
    if user_records:
        rows += [
            ("records.read_own", "GET", f"{RECORDS}/{own}", None, 200),
            ("records.update_own", "PATCH", f"{RECORDS}/{own}", {"level": "A"}, 200),
            ("records.delete_own", "DELETE", f"{RECORDS}/{ids['own_delete']}", None, 204),
            ("audit.record_own", "GET", f"/apps/sec/audit?entity=customer&record_id={own}",
             None, 200),
            ("flows.start_own", "POST", "/apps/sec/processes/approval/instances",
             {"record_id": ids["own_flow"]}, 201),
        ]
    return rows


def test_permission_matrix(sec) -> None:
    _, clients, records = sec
    mismatches, checked = [], 0
    for role in ROLES:
        for family, method, path, body, expected in matrix(role, records[role]):
            response = clients[role].request(method, path, json=body)
            checked += 1
            if response.status_code != expected:
                mismatches.append((role, family, response.status_code, expected,
                                   response.text[:200]))
            elif response.status_code >= 400:
                assert_envelope(response)
    RESULTS["permission_matrix"] = {"checks": checked, "mismatches": len(mismatches)}
    assert mismatches == []


def test_hidden_field_never_reaches_a_member(sec) -> None:
    _, clients, records = sec
    member, other = clients["member"], records["member"]["other"]
    assert SECRET_SALARY in clients["admin"].get(f"{RECORDS}/{other}").text  # it is there
    answers = [member.get(f"{RECORDS}/{other}"), member.get(RECORDS),
               member.get(RECORDS, params={"q": "member2"}),
               member.get(f"{RECORDS}/export", params={"format": "csv"}),
               member.get(RECORDS, params={"fields": "name,salary"}),
               member.get(RECORDS, params={"salary": SECRET_SALARY})]
    for response in answers:
        assert SECRET_SALARY not in response.text and "98765" not in response.text, (
            str(response.url), response.text[:300])
    # filtering on a hidden field would be an oracle for its value: refused or ignored
    probe = member.get(RECORDS, params={"salary__gte": "90000"})
    assert probe.status_code in (400, 403, 422) or probe.json()["total"] == member.get(
        RECORDS).json()["total"], probe.text[:300]


def test_hidden_field_stays_out_of_the_record_audit_trail(sec) -> None:
    """The audit trail of a record is readable by whoever reads the record; the changes
    it lists must not carry the fields hidden from the reader."""
    _, clients, records = sec
    other = records["member"]["other"]
    trail = clients["member"].get(f"/apps/sec/audit?entity=customer&record_id={other}")
    assert trail.status_code == 200
    leaked = [entry["id"] for entry in trail.json()["items"]
              if "salary" in (entry.get("changes") or {})]
    RESULTS["audit_hidden_field_leak"] = {"entries_with_hidden_field": len(leaked)}
    assert leaked == [], "hidden field 'salary' appears in the audit trail a member reads"


PARAMS = {"app_key": "sec", "entity_key": "customer", "key": "approval"}


def page_paths(record_id: int, instance_id: int, task_id: int) -> list[str]:
    """Every GET page of the app (its URL map, built in this process), filled in."""
    from app_platform import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    values = PARAMS | {"record_id": record_id, "instance_id": instance_id,
                       "task_id": task_id, "filename": "vendor/.stamp"}
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", str(values.get(name, "nope")), path)
        paths.append(path)
    return sorted(paths)


def browser_session(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
    form = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    done = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf, "next": "/"})
    assert done.status_code == 302, done.text[:300]
    return client


def test_security_headers_on_every_page(sec) -> None:
    deployment, clients, records = sec
    admin = clients["admin"]
    instance = expect(admin.post("/apps/sec/processes/approval/instances", json={
        "record_id": records["admin"]["own"]}), 201)
    paths = page_paths(records["admin"]["own"], instance["id"], instance["tasks"][0]["id"])
    paths += ["/api/v1/apps", "/api/v1/openapi.json", "/no/such/page", "/healthz"]
    problems = []
    browser = browser_session(deployment.url, "admin")
    try:
        for path in paths:
            response = browser.get(path)
            headers = response.headers
            csp = headers.get("Content-Security-Policy", "")
            directives = dict((part.strip().split(" ", 1) + [""])[:2]
                              for part in csp.split(";") if part.strip())
            script_src = directives.get("script-src", directives.get("default-src", ""))
            if "frame-ancestors" not in directives or "'unsafe-inline'" in script_src or \
                    not script_src or headers.get("X-Content-Type-Options") != "nosniff":
                problems.append((path, response.status_code, csp))
            if response.status_code >= 500:
                problems.append((path, response.status_code, "server error"))
            if "text/html" in headers.get("Content-Type", ""):
                inline = [tag for tag in re.findall(r"<script\b[^>]*>", response.text, re.I)
                          if "src=" not in tag and 'type="application/json"' not in tag]
                handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", response.text, re.I)
                if inline or handlers:
                    problems.append((path, "inline script", (inline + handlers)[:3]))
    finally:
        browser.close()
    RESULTS["security_headers"] = {"pages": len(paths), "problems": len(problems)}
    assert problems == []


def test_lockout_is_shared_by_all_workers(deployment) -> None:
    """Each attempt on a new connection (likely another worker): the count is in the
    database, so the sixth attempt is refused even with the right password."""
    def attempt(password: str) -> httpx.Response:
        return httpx.post(f"{deployment.url}/api/v1/auth/login", timeout=30,
                          json={"username": "locked", "password": password})

    failures = [attempt("wrong-password").status_code for _ in range(5)]
    assert failures == [401] * 5
    locked = attempt(PASSWORD)
    assert locked.status_code == 423 and assert_envelope(locked)["code"] == "locked"
    unknown = httpx.post(f"{deployment.url}/api/v1/auth/login", timeout=30,
                         json={"username": "no-such-user", "password": "wrong-password"})
    wrong = httpx.post(f"{deployment.url}/api/v1/auth/login", timeout=30,
                       json={"username": "member", "password": "wrong-password"})
    # the same answer for an unknown user and a wrong password: no user enumeration
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    RESULTS["lockout"] = {"failures_before_lock": 5, "then": 423}


def test_revoked_token_is_refused_by_every_worker(deployment) -> None:
    with deployment.api("integrator") as integrator:
        made = expect(integrator.post("/tokens", json={"name": "erp",
                                                       "scopes": ["records:read"]}), 201)
        def call() -> int:  # a new connection each time: spread over the workers
            return httpx.get(f"{deployment.url}/api/v1/auth/me", timeout=30, headers={
                "Authorization": f"Bearer {made['token']}"}).status_code

        assert [call() for _ in range(8)] == [200] * 8
        assert integrator.delete(f"/tokens/{made['id']}").status_code == 204
        after = [call() for _ in range(8)]
    assert after == [401] * 8
    RESULTS["token_revocation"] = {"before": 200, "after_revoke": sorted(set(after))}


CARDS = ["4111111111111111", "5500 0055 5555 5559", "3782-822463-10005", "6212345678901265"]
PAYMENT = {"key": "payment", "label": "付款", "fields": [
    {"key": "payer", "type": "text", "required": True},
    {"key": "card", "type": "card_number"},
    {"key": "amount", "type": "money", "currency": "CNY"}]}


def wait_for_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = expect(client.get(f"/jobs/{job_id}"), 200)
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


def test_no_full_card_number_in_database_logs_or_exports(sec, db_engine) -> None:
    deployment, clients, _ = sec
    assert all(luhn_valid(re.sub(r"\D", "", card)) for card in CARDS)  # real test cards
    assert card_numbers_in("x 4111111111111111 y") == ["4111111111111111"]  # scanner works
    admin = clients["admin"]
    expect(admin.post("/apps", json={"key": "cards", "name": "卡"}), 201)
    expect(admin.post("/apps/cards/entities", json=PAYMENT), 201)
    base = "/apps/cards/entities/payment/records"
    for n, card in enumerate(CARDS):
        created = expect(admin.post(base, json={"payer": f"付款人{n}", "card": card,
                                                "amount": "10.00"}), 201)
        assert created["card"]["last4"] == re.sub(r"\D", "", card)[-4:]
    csv = "payer,card,amount\n导入甲,4111111111111111,1.00\n导入乙,5500005555555559,2.00\n"
    job = expect(admin.post(f"{base}/import", files={"file": ("cards.csv", io.BytesIO(
        csv.encode()), "text/csv")}), 202)
    assert wait_for_job(admin, job["job_id"])["state"] == "done"
    # cards where they do not belong: a bad card, a filter, an unknown field
    expect(admin.post(base, json={"payer": "x", "card": "4111111111111112"}), 422)
    admin.get(base, params={"card": "4111111111111111"})
    admin.post(base, json={"payer": "x", "pan": "4111111111111111"})
    export = admin.get(f"{base}/export", params={"format": "csv"})
    assert export.status_code == 200 and export.text.count("\n") >= 6

    found: dict[str, list[str]] = {}
    with db_engine.connect() as conn:
        columns = conn.execute(sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'character', 'json', 'jsonb')")).all()
        for table, column in columns:
            values = conn.execute(sa.text(
                f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL'))
            hits = [hit for (value,) in values for hit in card_numbers_in(value, CARDS)]
            if hits:
                found[f"db:{table}.{column}"] = hits[:5]
    time.sleep(1.5)  # let the workers' log lines reach the file
    for name, text in (("server log", deployment.server.log_text()), ("export", export.text)):
        hits = card_numbers_in(text, CARDS)
        if hits:
            found[name] = hits[:5]
    RESULTS["card_scan"] = {"text_columns_scanned": len(columns), "cards_used": len(CARDS) + 2,
                            "findings": found}
    assert found == {}
