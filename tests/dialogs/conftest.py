"""Fixtures of the dialogs tests: the test questionnaire (see helpers.py) and the bundled one."""

from __future__ import annotations

import pytest

from dialogs import Survey
from tests.dialogs.helpers import BASE_YAML, bundled_survey, load


@pytest.fixture(scope="session")
def survey() -> Survey:
    """The test questionnaire: every question type, "other", optional questions, two branches."""
    return load(BASE_YAML)


@pytest.fixture(scope="session")
def bundled() -> Survey:
    """The consultation shipped in surveys/."""
    return bundled_survey()
