"""The questionnaire model and the dialogue state machine: pure Python, no Telegram, no database."""

from dialogs.engine import Result, current_screen, is_open, new_state, transition
from dialogs.loader import Problem, SurveyError, parse_survey
from dialogs.model import Question, QuestionType, Survey
from dialogs.state import Answer, Phase, State

__all__ = [
    "Answer",
    "Phase",
    "Problem",
    "Question",
    "QuestionType",
    "Result",
    "State",
    "Survey",
    "SurveyError",
    "current_screen",
    "is_open",
    "new_state",
    "parse_survey",
    "transition",
]
