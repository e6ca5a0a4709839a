"""Fixtures of the deployment tests: those of the end-to-end tests (local Bot API server,
database, clock, survey)."""

import pytest

from tests.e2e.conftest import api, clock, database_url, loaded, survey

__all__ = ["api", "clock", "database_url", "loaded", "survey"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds and installs the package (deselect with -m 'not slow')"
    )
