"""Load: 50 concurrent users through the record journey and approvals against gunicorn -w 4
(LOOM_LOAD_SECONDS, 15 s by default; bench/load.py runs 60 s). Zero errors, the database
matches what the clients were told, and /metrics counted every request across workers."""

from __future__ import annotations

import importlib
import os
import re
import time

import httpx
import pytest
from _live import write_result

pytestmark = pytest.mark.system
load = importlib.import_module("load")  # bench/load.py (conftest puts bench/ on sys.path)
CREATE = re.compile(r'loom_http_requests_total\{method="POST",endpoint="/api/v1/apps/<app_key>/'
                    r'entities/<entity_key>/records",status="201"\} (\d+)')


def created_count(url: str) -> int:
    match = CREATE.search(httpx.get(f"{url}/metrics", timeout=30).text)
    return int(match.group(1)) if match else 0


def test_fifty_users_zero_errors_and_the_database_matches(deployment, db_engine) -> None:
    seconds = float(os.environ.get("LOOM_LOAD_SECONDS", "15"))
    before = created_count(deployment.url)
    summary, ledger = load.run_load(deployment.url, "loadtest", users=50, seconds=seconds)
    check = load.check_database(db_engine, "loadtest", ledger)
    time.sleep(2.5)  # every worker writes its counters at least once a second
    counted = created_count(deployment.url) - before
    summary.update(workers=4, run="tests/system/test_load.py", database=check,
                   metrics_creates_counted=counted)
    write_result("load.json", summary)

    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["customers_created"] > 0 and summary["approvals_completed"] > 0
    assert check["customer_rows_match"] and check["customer_rows"] == len(ledger.customers)
    assert check["customer_create_audits"] == len(ledger.customers)
    assert check["instance_statuses"] == {"completed": len(ledger.instances)}
    # creates of customers and applications, summed over the four workers' files
    assert counted == len(ledger.customers) + len(ledger.instances)
