"""Synthetic, valid responses of a questionnaire, written through the storage layer's bulk path.

    python -m benchmarks.generate --n 10000 --database-url sqlite+aiosqlite:///bench/10k.db

Each response answers exactly the questions its participant would be shown (`show_if` is
respected: the answers are drawn question by question in file order, and every response is
checked against `dialogs.flow.visible_questions` and `missing_required`), with values that the
engine would accept (options of the question, scale points, numbers within bounds, the right
number of choices, rankings of exactly `top` options, "other" texts, skipped optional questions).
Free texts mix accents, emoji and the odd leading `-` or `=`, as real answers do.

The database is migrated first. Participants get Telegram ids from `--first-id` upwards (they must
not exist yet); the same `--seed` gives the same responses.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from dialogs import Answer, Phase, State, Survey, parse_survey
from dialogs.conditions import ConditionValue
from dialogs.flow import condition_value, missing_required, visible_questions
from dialogs.limits import OTHER_OPTION_ID
from dialogs.model import Question, QuestionType
from storage.database import Database
from storage.repository import NewResponse, ParticipantKey, Store, survey_file_hash
from storage.schema import upgrade

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).resolve().parent.parent / "surveys" / "poles-de-competitivite.yaml"
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEFAULT_FIRST_ID = 5_000_000_000

_WORDS = [
    "pôle",
    "innovation",
    "région",
    "entreprises",
    "réseau",
    "projets",
    "européens",
    "financement",
    "compétences",
    "transition",
    "écologique",
    "numérique",
    "filière",
    "PME",
    "ETI",
    "recherche",
    "formation",
    "territoire",
    "accompagnement",
    "visibilité",
    "cotisation",
    "démarches",
    "simplification",
    "coopération",
    "Île-de-France",
    "Bretagne",
    "Occitanie",
    "Auvergne-Rhône-Alpes",
    "industrie",
    "souveraineté",
    "marché",
    "startup",
    "laboratoire",
    "université",
    "énergie",
    "hydrogène",
    "santé",
    "agroalimentaire",
    "mer",
    "aéronautique",
]
_EXTRAS = ("🚀", "👍", "🌊", "€", "«", "»", "—", "…", "œ", "ç", "ß", "ü", "中文")
_OPENINGS = ("", "", "", "", "", "", "- ", "=", "+", "@", "Très bien : ")


def reference(index: int) -> str:
    """A unique receipt reference for the index-th response (a bijection on 40 bits)."""
    number = (index * 0x9E3779B1 + 0x5DEECE66D) % (1 << 40)
    code = "".join(REFERENCE_ALPHABET[(number >> (5 * k)) & 31] for k in range(8))
    return f"{code[:4]}-{code[4:]}"


def _text(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 40))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(_EXTRAS))
    text = rng.choice(_OPENINGS) + " ".join(words)
    if rng.random() < 0.1:
        text += "\n" + " ".join(rng.choice(_WORDS) for _ in range(5))
    while len(text) < low:
        text += " " + rng.choice(_WORDS)
    return text[:high].strip() if high else text


def _answer(question: Question, rng: random.Random, index: int) -> Answer:
    """A random answer the engine would accept for `question`."""
    qtype = question.type
    if not question.required and qtype not in (QuestionType.CONSENT,) and rng.random() < 0.35:
        return Answer(None)
    if qtype is QuestionType.CONSENT:
        return Answer(True)
    if qtype is QuestionType.SINGLE_CHOICE:
        option = rng.choice(question.choices()).id
        other = _text(rng, 1, 80) if option == OTHER_OPTION_ID else None
        return Answer(option, other)
    if qtype is QuestionType.MULTI_CHOICE:
        choices = question.choices()
        count = rng.randint(max(question.min_choices, 1), min(question.max_choices, len(choices)))
        picked = set(rng.sample([o.id for o in choices], count))
        value = tuple(o.id for o in choices if o.id in picked)
        other = _text(rng, 1, 80) if OTHER_OPTION_ID in picked else None
        return Answer(value, other)
    if qtype is QuestionType.RANKING:
        return Answer(tuple(rng.sample([o.id for o in question.choices()], question.top)))
    if qtype is QuestionType.SCALE:
        return Answer(rng.choice(question.scale_points()))
    if qtype is QuestionType.NUMBER:
        low = int(question.min if question.min is not None else 0)
        high = int(question.max if question.max is not None else 1_000_000)
        if question.integer or rng.random() < 0.7:
            return Answer(rng.randint(low, high))
        return Answer(round(rng.uniform(low, high), 2))
    if qtype is QuestionType.EMAIL:
        return Answer(f"participant{index}@example.org")
    if qtype is QuestionType.ORGANISATION_ID:
        return Answer(luhn_siren(index))
    return Answer(_text(rng, question.min_length, question.max_length or 500))


def luhn_siren(index: int) -> str:
    """A valid SIREN (Luhn check digit) made from `index`: one per participant."""
    body = f"{index % 100_000_000:08d}"
    for digit in "0123456789":
        candidate = body + digit
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one check digit always fits")


def synthetic_answers(survey: Survey, rng: random.Random, index: int = 0) -> dict[str, Answer]:
    """One valid set of answers: the questions shown, in file order, each answered."""
    answers: dict[str, Answer] = {}
    values: dict[str, ConditionValue] = {}
    for question in survey.questions:
        if question.show_if is not None and not question.show_if.evaluate(values):
            continue
        answer = _answer(question, rng, index)
        answers[question.id] = answer
        values[question.id] = condition_value(question, answer)
    shown = [q.id for q in visible_questions(survey, answers)]
    if shown != list(answers) or missing_required(survey, answers):
        raise AssertionError(f"generated answers do not follow the survey's flow: {answers}")
    return answers


def synthetic_responses(
    survey: Survey, n: int, *, seed: int = 1, first_id: int = DEFAULT_FIRST_ID
) -> Iterator[NewResponse]:
    """`n` submitted responses of new participants (Telegram ids from `first_id`)."""
    rng = random.Random(seed)
    window = (survey.closes_at - survey.opens_at).total_seconds()
    for index in range(n):
        answers = synthetic_answers(survey, rng, index)
        started = survey.opens_at + timedelta(seconds=rng.uniform(0, window * 0.95))
        submitted = min(
            started + timedelta(seconds=rng.uniform(120, 3600)),
            survey.closes_at - timedelta(seconds=1),
        )
        language = survey.languages[0] if rng.random() < 0.85 else survey.languages[-1]
        state = State(
            language=language,
            phase=Phase.SUBMITTED,
            answers=answers,
            step=len(answers) + 2,
            reference=reference(first_id + index),
            submitted_at=submitted,
        )
        yield NewResponse(ParticipantKey.telegram(first_id + index), state, started)


async def generate(
    url: str,
    n: int,
    *,
    survey_path: Path = BUNDLED,
    seed: int = 1,
    first_id: int = DEFAULT_FIRST_ID,
    batch_size: int = 2000,
) -> int:
    """Migrate the database at `url` and write `n` synthetic responses into it."""
    await upgrade(url)
    content = await asyncio.to_thread(survey_path.read_bytes)
    survey = parse_survey(
        content.decode("utf-8"),
        str(survey_path),
        lambda name: (survey_path.parent / name).read_text(encoding="utf-8"),
    )
    db = Database(url)
    try:
        store = Store(db, survey, file_hash=survey_file_hash(content))
        rows = synthetic_responses(survey, n, seed=seed, first_id=first_id)
        return await store.bulk_insert_responses(rows, batch_size=batch_size)
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, required=True, help="how many responses")
    parser.add_argument("--database-url", required=True, help="e.g. sqlite+aiosqlite:///x.db")
    parser.add_argument("--survey", type=Path, default=BUNDLED, help="the questionnaire file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first-id", type=int, default=DEFAULT_FIRST_ID)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    count = asyncio.run(
        generate(
            args.database_url,
            args.n,
            survey_path=args.survey,
            seed=args.seed,
            first_id=args.first_id,
        )
    )
    print(f"wrote {count} responses in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
