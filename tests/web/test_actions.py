"""The web form's button values for a long list: a page and a removal read back as the engine's
events, with their step; anything malformed or about another questionnaire is not an action."""

from __future__ import annotations

import pytest

from channels.survey_file import load_survey_file
from dialogs.events import Page, Remove
from tests.storage.helpers import BUNDLED
from web import actions

SURVEY = load_survey_file(BUNDLED).survey


def decode(value: str) -> object:
    return actions.decode(SURVEY, value, None, None)


def test_a_page_and_a_removal_read_back_as_events() -> None:
    assert decode(actions.page(7, "cluster_name", 6)) == Page("cluster_name", 6, 7)
    assert decode(actions.remove(7, "cluster_name", "aerospace_valley")) == Remove(
        "cluster_name", "aerospace_valley", 7
    )


@pytest.mark.parametrize(
    "value",
    [
        "p:7:cluster_name:-1",
        "p:7:cluster_name:two",
        "p:7:cluster_name:1234567890",
        "p:7:nowhere:1",
        "p:7:cluster_name",
        "p:x:cluster_name:1",
        "r:7:cluster_name",
        "r:7:cluster_name:a:b",
        "p:7:cluster_name:1:2",
    ],
)
def test_malformed_values_are_not_actions(value: str) -> None:
    assert decode(value) is None
