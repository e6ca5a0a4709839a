"""Fixtures of the analysis tests: the export tests' SQLite store of the bundled questionnaire."""

from tests.export.conftest import db, store, survey, url

__all__ = ["db", "store", "survey", "url"]
