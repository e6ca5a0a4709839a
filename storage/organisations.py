"""Organisations behind the responses: the SIREN of every `organisation_id` answer, how many
distinct organisations submitted, and those that submitted several responses.

Several responses from one organisation are legitimate (a lab director and a researcher) or not
(one person answering ten times): they are listed for staff to look at, never merged.
"""

from __future__ import annotations

import json
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, Text, cast, select

from dialogs.answers import siren_of
from dialogs.model import QuestionType, Survey
from storage.models import answers, responses
from storage.repository import Store


@dataclass(frozen=True, slots=True)
class Organisations:
    """The organisations of the submitted responses."""

    asked: bool = False
    """The questionnaire has an `organisation_id` question."""
    identified: int = 0
    """Submitted responses that gave an organisation number."""
    counts: dict[str, int] = field(default_factory=dict)
    """SIREN -> submitted responses giving it."""
    duplicates: list[tuple[str, list[str]]] = field(default_factory=list)
    """(SIREN, the receipt references of its responses) for every SIREN of several submitted
    responses, the most responses first."""

    @property
    def organisations(self) -> int:
        return len(self.counts)


def organisation_questions(survey: Survey) -> list[str]:
    return [q.id for q in survey.questions if q.type is QuestionType.ORGANISATION_ID]


def _submitted_organisation_answers(store: Store, ids: list[str], *columns: Any) -> Select[Any]:
    """`columns` and the JSON text of every answer to the questions `ids` of the submitted
    responses, in response order."""
    a, r = answers, responses
    return (
        select(*columns, cast(a.c.value, Text))
        .join(a, a.c.response_id == r.c.id)
        .where(
            r.c.survey_id == store.survey.id,
            r.c.status == "submitted",
            a.c.question_id.in_(ids),
        )
        .order_by(r.c.id)
    )


async def find_organisations(store: Store) -> Organisations:
    """Count the organisations of the submitted responses (one query over their answers to the
    `organisation_id` questions; a response naming one SIREN twice counts once)."""
    ids = organisation_questions(store.survey)
    if not ids:
        return Organisations()
    query = _submitted_organisation_answers(store, ids, responses.c.id, responses.c.reference)
    rows = await store.db.runner.read(lambda c: c.execute(query).all())
    by_siren: dict[str, dict[int, str]] = defaultdict(dict)
    identified: set[int] = set()
    for response_id, reference, raw in rows:
        siren = siren_of(json.loads(raw))
        if siren is None:
            continue
        identified.add(response_id)
        by_siren[siren][response_id] = reference or f"#{response_id}"
    counts = {siren: len(found) for siren, found in by_siren.items()}
    duplicates = sorted(
        ((siren, list(found.values())) for siren, found in by_siren.items() if len(found) > 1),
        key=lambda item: (-len(item[1]), item[0]),
    )
    return Organisations(True, len(identified), counts, duplicates)


async def submitted_sirens(store: Store) -> array[int]:
    """The SIREN of every submitted response that gives one, as integers (a response naming one
    SIREN twice gives it once), read as a stream: 8 bytes a response, so that an export's memory
    barely grows with the responses (the caller counts them, `bot.export.SirenCounts`)."""
    found: array[int] = array("q")
    ids = organisation_questions(store.survey)
    if not ids:
        return found
    query = _submitted_organisation_answers(store, ids, responses.c.id).execution_options(
        yield_per=5000
    )

    def read(connection: Connection) -> array[int]:
        current: int | None = None
        seen: set[str] = set()
        for response_id, raw in connection.execute(query):
            if response_id != current:
                current, seen = response_id, set()
            siren = siren_of(json.loads(raw))
            if siren is not None and siren not in seen:
                seen.add(siren)
                found.append(int(siren))
        return found

    return await store.db.runner.read(read)
