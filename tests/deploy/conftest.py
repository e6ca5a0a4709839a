"""Fixtures of the deployment tests: those of the end-to-end tests (local Bot API server,
database, clock, survey)."""

from tests.e2e.conftest import api, clock, database_url, loaded, survey

__all__ = ["api", "clock", "database_url", "loaded", "survey"]
