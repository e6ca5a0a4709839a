"""Settings of the whole test session, for pytest-xdist (`-n 2`): each worker gets a PostgreSQL
database of its own, next to `TEST_DATABASE_URL`'s, so that two workers never empty or migrate the
same database at once; the slow tests (bot processes, installs) are handed out first, so that
the last minutes are not one worker finishing a long test while the other has nothing left; and a
report holding a lone surrogate (tests of forged input log them) still travels from a worker to
the main process, which sends it as UTF-8."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator
from typing import Any

import pytest

from tests.postgres import worker_database


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get("TEST_DATABASE_URL")
    if not worker or not base:
        return
    url, drop = asyncio.run(worker_database(base, worker))
    os.environ["TEST_DATABASE_URL"] = url
    config.add_cleanup(lambda: asyncio.run(drop()))


def _utf8(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    report.sections = [(title, _utf8(content)) for title, content in report.sections]
    if report.longrepr is not None:
        text = str(report.longrepr)
        if _utf8(text) != text:
            report.longrepr = _utf8(text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Every worker collects the same list and sorts it the same way (a stable sort).
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
