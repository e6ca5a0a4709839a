"""Read a questionnaire file from disk: its parsed survey and the hash of its bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from dialogs import Survey, parse_survey


@dataclass(frozen=True)
class LoadedSurvey:
    survey: Survey
    path: Path
    file_hash: str


def load_survey_file(path: Path) -> LoadedSurvey:
    """Parse the file at `path`; raises OSError or dialogs.SurveyError."""
    data = path.read_bytes()
    survey = parse_survey(data.decode("utf-8"), str(path))
    return LoadedSurvey(survey, path, hashlib.sha256(data).hexdigest())
