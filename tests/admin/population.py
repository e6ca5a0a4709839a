"""Fill the database fast with participants in every segment (direct inserts, one transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert

from dialogs import Survey
from dialogs.state import Phase, State
from storage.models import answers, participants, responses
from storage.repository import Store

FIRST_ID = 10_000


@dataclass(frozen=True)
class Population:
    """Telegram ids by segment."""

    not_started: list[int]
    in_progress: list[int]
    submitted: list[int]

    @property
    def everyone(self) -> list[int]:
        return sorted(self.not_started + self.in_progress + self.submitted)


async def populate(
    store: Store,
    *,
    not_started: int,
    in_progress: int,
    submitted: int,
    now: datetime,
    first_id: int = FIRST_ID,
    language: str = "fr",
) -> Population:
    """Participants with no response, with a draft of one answer (current: the 2nd question),
    and with a submitted response of one answer."""
    await store.register_survey()
    survey: Survey = store.survey
    first = survey.questions[0]
    second = survey.questions[1]
    value: object = first.options[0].id if first.options else True
    ids = list(range(first_id, first_id + not_started + in_progress + submitted))
    groups = Population(
        ids[:not_started],
        ids[not_started : not_started + in_progress],
        ids[not_started + in_progress :],
    )

    def work(connection):  # type: ignore[no-untyped-def]
        rows = (
            connection.execute(
                insert(participants).returning(participants.c.id, sort_by_parameter_order=True),
                [
                    {"telegram_id": t, "language": language, "blocked": False, "created_at": now}
                    for t in ids
                ],
            )
            .scalars()
            .all()
        )
        by_tg = dict(zip(ids, rows, strict=True))
        entries = []
        for tg in groups.in_progress + groups.submitted:
            done = tg in groups.submitted
            state = State(
                language,
                phase=Phase.SUBMITTED if done else Phase.ANSWERING,
                current=None if done else second.id,
                history=(first.id,),
                step=2,
            ).to_json()
            entries.append(
                {
                    "participant_id": by_tg[tg],
                    "survey_id": survey.id,
                    "status": "submitted" if done else "draft",
                    "reference": f"R{tg}" if done else None,
                    "state": json.dumps(state, separators=(",", ":")),
                    "started_at": now - timedelta(days=1),
                    "submitted_at": now if done else None,
                    "updated_at": now,
                    "version": 2,
                }
            )
        if entries:
            response_ids = (
                connection.execute(
                    insert(responses).returning(responses.c.id, sort_by_parameter_order=True),
                    entries,
                )
                .scalars()
                .all()
            )
            connection.execute(
                insert(answers),
                [
                    {
                        "response_id": rid,
                        "question_id": first.id,
                        "value": value,
                        "other": None,
                        "answered_at": now - timedelta(days=1),
                    }
                    for rid in response_ids
                ],
            )

    await store.db.runner.write(work)
    return groups
