"""An answer as a participant reads it back, worded the same in every channel (the bot's review
and the web page's thread and review): option labels in the participant's language, "other" with
its text, a ranking numbered, a scale out of its top, a number without a useless ".0"."""

from __future__ import annotations

from collections.abc import Sequence

from channels.i18n import t
from dialogs.limits import OTHER_OPTION_ID
from dialogs.model import Option, Question, QuestionType
from dialogs.state import Answer

CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTI_CHOICE, QuestionType.RANKING)


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def option_text(lang: str, question: Question, option: Option, fallback: str) -> str:
    """An option's label; the "other" choice in the bot's own words."""
    if option.id == OTHER_OPTION_ID and question.other:
        return t(lang, "button.other")
    return option.label.get(lang, fallback)


def answer_text(lang: str, question: Question, answer: Answer, fallback: str) -> str:
    """`answer` to `question` as the participant reads it back (`fallback`: the survey's default
    language, for a label missing in `lang`)."""
    value = answer.value
    if value is None:
        return t(lang, "answer.skipped")
    if question.type is QuestionType.CONSENT:
        return t(lang, "answer.consented")
    if question.type is QuestionType.SCALE:
        return f"{value} / {question.scale_points().stop - 1}"
    if question.type in CHOICE_TYPES:
        ids: Sequence[str] = value if isinstance(value, tuple) else (str(value),)
        labels = []
        for rank, option_id in enumerate(ids, start=1):
            option = question.option(option_id)
            label = option_text(lang, question, option, fallback) if option else option_id
            if option_id == OTHER_OPTION_ID and answer.other:
                sep = " : " if lang == "fr" else ": "
                label = f"{label}{sep}{answer.other}"
            labels.append(f"{rank}. {label}" if question.type is QuestionType.RANKING else label)
        return (" ; " if lang == "fr" else "; ").join(labels)
    if isinstance(value, float):
        return number_text(value)
    return str(value)
