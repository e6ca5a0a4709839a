"""Prometheus metrics of a running bot, served at `/metrics` on a listener of their own
(`METRICS_LISTEN`, see `bot.runner`), in polling and webhook mode.

The counters live in the default registry of prometheus-client, one set per process: with
several bot processes, Prometheus scrapes each one and sums (`sum by (kind) (rate(...))`).
No label ever carries a user id or an answer, only a small fixed set of values.
"""

from __future__ import annotations

from aiogram.types import Update
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from dialogs.state import State
from storage.repository import Applied

UPDATES = Counter(
    "consultbot_updates_handled_total",
    "Updates handled by this process, by kind (message, callback_query, my_chat_member, other)",
    ["kind"],
)
UPDATE_LATENCY = Histogram(
    "consultbot_update_handling_seconds",
    "Time spent handling one update, from the dispatcher to the last reply",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ANSWERS = Counter(
    "consultbot_answers_stored_total",
    "Answers written to the database (a new answer or a changed one)",
)
SUBMISSIONS = Counter(
    "consultbot_submissions_total",
    "Responses submitted (first submission; a receipt shown again is not counted)",
)
REFUSALS = Counter(
    "consultbot_refusals_closed_total",
    "Submissions refused because the consultation had closed when they were written",
)
DELIVERIES = Counter(
    "consultbot_deliveries_total",
    "Broadcast and reminder deliveries by outcome (sent, blocked, retry, failed)",
    ["outcome"],
)

for _kind in ("message", "callback_query", "my_chat_member", "other"):
    UPDATES.labels(_kind)
for _outcome in ("sent", "blocked", "retry", "failed"):
    DELIVERIES.labels(_outcome)


def update_kind(update: Update) -> str:
    """The label of an update: the kinds the bot subscribes to, anything else as `other`."""
    if update.message is not None:
        return "message"
    if update.callback_query is not None:
        return "callback_query"
    if update.my_chat_member is not None:
        return "my_chat_member"
    return "other"


async def metrics_handler(request: web.Request) -> web.Response:
    """Serve the metrics of this process in Prometheus' text exposition format."""
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def count_applied(before: State | None, applied: Applied) -> None:
    """Count what one participant event stored: the answers it changed, a submission, or a
    submission refused after the closing date. `before` is the state the engine started from."""
    if applied.duplicate or applied.result is None:
        return
    old = before.answers if before is not None else {}
    new = applied.state.answers
    changed = sum(1 for qid, answer in new.items() if old.get(qid) != answer)
    if changed:
        ANSWERS.inc(changed)
    if applied.refused_closed:
        REFUSALS.inc()
    elif applied.result.output.submitted and (before is None or before.submitted_at is None):
        SUBMISSIONS.inc()  # the first submission only, not a receipt shown again
