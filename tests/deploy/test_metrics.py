"""`/healthz` and `/metrics` of the webhook server, and the metrics moving as a participant
answers and submits; the JSON logs of that run carry no answer text."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter, setup_logging
from dialogs import Survey
from dialogs.state import Phase
from tests.e2e.harness import (
    ManualClock,
    Participant,
    RecordingBotAPI,
    answer_plan,
    answer_until,
)
from tests.e2e.test_webhook import webhook_bot

pytestmark = pytest.mark.e2e


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition text, keyed by name and sorted labels."""
    values: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


async def scrape(http: ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "version=" in response.headers["Content-Type"]
        return samples(await response.text())


def value(metrics: Samples, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_healthz_and_metrics_move_when_a_participant_answers(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    async with webhook_bot(api, database_url, clock) as served, ClientSession() as http:
        async with http.get(f"{served.base}/healthz") as response:
            assert response.status == 200
            health = await response.json()
            assert health["status"] == "ok"
            assert health["in_flight"] == 0

        before = await scrape(http, served.metrics_base)
        p = Participant(api, 3001, running=served.running)
        await p.send("/start")
        await p.tap("J’accepte")
        middle = await scrape(http, served.metrics_base)
        assert (
            value(middle, "consultbot_updates_handled_total", kind="message")
            >= value(before, "consultbot_updates_handled_total", kind="message") + 1
        )
        assert (
            value(middle, "consultbot_updates_handled_total", kind="callback_query")
            >= value(before, "consultbot_updates_handled_total", kind="callback_query") + 1
        )
        assert (
            value(middle, "consultbot_answers_stored_total")
            >= value(before, "consultbot_answers_stored_total") + 1
        )
        assert (
            value(middle, "consultbot_update_handling_seconds_count")
            >= value(before, "consultbot_update_handling_seconds_count") + 2
        )

        store = served.running.ctx.store
        state = await answer_until(p, survey, lambda: store.load(p.key))
        assert state.phase is Phase.REVIEW
        await p.tap("Envoyer")
        assert (await store.load(p.key)).state.phase is Phase.SUBMITTED
        after = await scrape(http, served.metrics_base)
        assert (
            value(after, "consultbot_submissions_total")
            == value(middle, "consultbot_submissions_total") + 1
        )
        assert value(after, "consultbot_answers_stored_total") > value(
            middle, "consultbot_answers_stored_total"
        )
        assert value(after, "consultbot_refusals_closed_total") == value(
            before, "consultbot_refusals_closed_total"
        )
        for outcome in ("sent", "blocked", "retry", "failed"):
            assert ("consultbot_deliveries_total", (("outcome", outcome),)) in after


def test_json_lines_carry_the_update_context() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("consultbot.test")
    root = logging.getLogger()
    level = root.level
    try:
        setup_logging("INFO", "json", stream, force=True)
        from bot.logs import update_scope

        with update_scope(update_id=42, user=7):
            logger.info("handled %s", "it", extra={"duration_ms": 3})
        logger.info("outside")
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "consultbot":
                root.removeHandler(handler)
        root.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "handled it"
    assert first["level"] == "INFO"
    assert first["logger"] == "consultbot.test"
    assert first["update_id"] == 42 and first["user"] == 7 and first["duration_ms"] == 3
    assert first["time"].endswith("+00:00")
    assert "update_id" not in second


async def test_a_full_run_logs_no_answer_text(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        async with webhook_bot(api, database_url, clock) as served:
            p = Participant(api, 3002, running=served.running)
            await p.send("/start")
            await p.tap("J’accepte")
            store = served.running.ctx.store
            await answer_until(p, survey, lambda: store.load(p.key))
            await p.tap("Envoyer")
            stored = (await store.load(p.key)).state
            assert stored.phase is Phase.SUBMITTED
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert lines, "the run logged nothing at INFO"
    for line in lines:
        json.loads(line)
    # The free texts and the e-mail address (numbers like "1" are in every timestamp).
    typed = {t for q in survey.questions for t in answer_plan(q) if len(t) > 6}
    assert len(typed) >= 2, typed
    for text in typed:
        assert text not in stream.getvalue(), f"an answer was logged: {text!r}"
