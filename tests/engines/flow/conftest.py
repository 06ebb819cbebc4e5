"""Fixtures of the flow engine tests: deployed fixtures, a directory, a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engines.flow.assignment import StaticDirectory
from engines.flow.deploy import deploy
from engines.flow.model import DeployedProcess
from engines.flow.runtime import FlowRuntime

DATA = Path(__file__).parent / "data"


def load(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory() -> StaticDirectory:
    return StaticDirectory(
        roles={"committee": ["c1", "c2", "c3"], "audit": ["aud1"]},
        department_heads={"retail": "head_retail"},
    )


@pytest.fixture
def runtime(clock: Clock, directory: StaticDirectory) -> FlowRuntime:
    return FlowRuntime(directory=directory, clock=clock)


@pytest.fixture(scope="session")
def read_fixture():
    """``read_fixture("x.bpmn")`` -> text of tests/engines/flow/data/x.bpmn."""
    return load


@pytest.fixture(scope="session")
def credit() -> DeployedProcess:
    return deploy(load("credit_approval.bpmn"))
