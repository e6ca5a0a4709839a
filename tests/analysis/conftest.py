"""Fixtures of the analysis tests: the export tests' SQLite store of the bundled questionnaire."""

from tests.export.conftest import engine, store, survey, url

__all__ = ["engine", "store", "survey", "url"]
