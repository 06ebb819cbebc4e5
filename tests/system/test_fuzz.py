"""Fuzzing: schemathesis generates requests for every operation of the live
/api/v1/openapi.json (valid and invalid input, random and real path parameters),
authenticated as admin, against gunicorn on a schema of its own (the fuzzer creates and
deletes things). No answer may be a 5xx; every error must be the error envelope.
Case counts go to bench/results/fuzz.json. LOOM_FUZZ_EXAMPLES sets the examples per
operation and pass (10 by default: ~2,000+ cases in about two minutes on two cores)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import pytest
import requests
from _live import write_result
from syscheck import ENVELOPE_KEYS, expect

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

pytestmark = pytest.mark.system
MIN_CASES = 2000
SKIPPED = {("DELETE", "/tokens/{token_id}")}  # would revoke the fuzzer's own token
ENTITY = {"key": "customer", "label": "客户", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "limit", "type": "money", "currency": "CNY"},
    {"key": "level", "type": "select", "options": ["A", "B", "C"]},
    {"key": "card", "type": "card_number"}]}


@pytest.fixture(scope="module")
def fuzz_target(postgres_url: str, tmp_path_factory: pytest.TempPathFactory,
                make_deployment: Any) -> Any:
    live = make_deployment(postgres_url, tmp_path_factory.mktemp("fuzz"), workers=2)
    with live.api("admin") as admin:
        expect(admin.post("/apps", json={"key": "fz", "name": "模糊测试"}), 201)
        expect(admin.post("/apps/fz/entities", json=ENTITY), 201)
        record = expect(admin.post("/apps/fz/entities/customer/records",
                                   json={"name": "甲", "limit": "10.00"}), 201)
        token = admin.headers["Authorization"].split()[1]
    yield live, token, record["id"]
    live.server.stop()
    live.database.drop()


def _last_line(log_line: str) -> str:
    """The exception's last line (type and message) of a JSON log line."""
    try:
        entry = json.loads(log_line)
    except ValueError:
        return log_line[:200]
    return (entry.get("exception") or entry.get("message", "")).strip().splitlines()[-1]


def envelope_problem(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.headers.get('Content-Type')}"
    if not isinstance(body, dict) or set(body) != {"error"} or \
            not isinstance(body["error"], dict) or set(body["error"]) != ENVELOPE_KEYS:
        return f"not the envelope: {str(body)[:200]}"
    return None


def test_generated_requests_get_no_5xx_and_only_enveloped_errors(fuzz_target) -> None:
    live, token, record_id = fuzz_target
    auth = {"Authorization": f"Bearer {token}"}
    per_pass = int(os.environ.get("LOOM_FUZZ_EXAMPLES", "10"))
    schema = schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json", headers=auth)
    real = {"app": "fz", "entity": "customer", "id": record_id, "record_id": record_id}
    session = requests.Session()
    statuses: Counter[int] = Counter()
    per_operation: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    by_pass: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()

    def fuzz(operation: Any, label: str, mode: Any, path_parameters: dict | None) -> None:
        strategy = operation.as_strategy(generation_mode=mode,
                                         path_parameters=path_parameters)

        @settings(max_examples=per_pass, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(session=session, headers=auth, timeout=60)
            statuses[response.status_code] += 1
            per_operation[label] += 1
            kind = f"{mode.value}{'+real_ids' if path_parameters else ''}"
            passes[kind] += 1
            by_pass[f"{kind} {response.status_code}"] += 1
            if response.status_code >= 500:
                failures.append(f"{label}: {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400 and (problem := envelope_problem(response)):
                failures.append(f"{label}: {response.status_code} {problem}")

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        names = {p.name for p in operation.path_parameters}
        for mode in (schemathesis.GenerationMode.POSITIVE,
                     schemathesis.GenerationMode.NEGATIVE):
            fuzz(operation, label, mode, None)
        if names and operation.method.upper() != "DELETE" and names <= set(real):
            fuzz(operation, label, schemathesis.GenerationMode.POSITIVE,
                 {name: real[name] for name in names})

    cases = sum(statuses.values())
    exceptions = sorted({_last_line(line) for line in live.server.log_text().splitlines()
                         if '"level": "ERROR"' in line})
    five_xx = sum(n for status, n in statuses.items() if status >= 500)
    write_result("fuzz.json", {
        "cases": cases, "operations": len(per_operation), "examples_per_pass": per_pass,
        "seconds": round(time.monotonic() - started, 1), "server_errors_5xx": five_xx,
        "envelope_violations": len(failures) - five_xx, "passes": dict(passes),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "statuses_by_pass": dict(sorted(by_pass.items())),
        "cases_per_operation": dict(sorted(per_operation.items())),
        "failures": failures[:50], "server_exceptions": exceptions[:20]})
    assert failures == []
    assert cases >= MIN_CASES, f"only {cases} cases generated"
