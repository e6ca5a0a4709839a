"""Prometheus counters of the web channel, served at its `/metrics` (names of their own: a process
that runs the bot and the web channel side by side exposes both sets)."""

from __future__ import annotations

from prometheus_client import Counter

from dialogs.state import State
from storage.repository import Applied

PARTICIPANTS = Counter(
    "consultbot_web_participants_total", "Web participants created by this process (open link)"
)
ANSWERS = Counter(
    "consultbot_web_answers_stored_total",
    "Answers written to the database from the web (a new answer or a changed one)",
)
SUBMISSIONS = Counter(
    "consultbot_web_submissions_total", "Responses submitted from the web (first submission)"
)
REFUSALS = Counter(
    "consultbot_web_refusals_closed_total",
    "Web submissions refused because the consultation had closed when they were written",
)
REFUSED = Counter(
    "consultbot_web_requests_refused_total",
    "Requests refused: csrf, bad_cookie, bad_link, too_large, rate_limited",
    ["reason"],
)
for _reason in ("csrf", "bad_cookie", "bad_link", "too_large", "rate_limited"):
    REFUSED.labels(_reason)


def count_applied(before: State | None, applied: Applied) -> None:
    """Count what one web action stored."""
    if applied.duplicate or applied.result is None:
        return
    old = before.answers if before is not None else {}
    changed = sum(1 for qid, answer in applied.state.answers.items() if old.get(qid) != answer)
    if changed:
        ANSWERS.inc(changed)
    if applied.refused_closed:
        REFUSALS.inc()
    elif applied.result.output.submitted and (before is None or before.submitted_at is None):
        SUBMISSIONS.inc()
