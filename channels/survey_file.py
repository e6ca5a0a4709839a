"""Read a questionnaire file from disk: its parsed survey and the hash of its bytes (every channel
reads it the same way)."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from dialogs import Survey, SurveyError, parse_survey


@dataclass(frozen=True)
class LoadedSurvey:
    survey: Survey
    path: Path
    file_hash: str


def load_or_exit(path: Path) -> LoadedSurvey:
    """For the command line: the survey, or exit naming every problem of the file."""
    try:
        return load_survey_file(path)
    except OSError as exc:
        raise SystemExit(f"consultbot: cannot read the survey file {path}: {exc.strerror}") from exc
    except SurveyError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"{problem}\n")
        raise SystemExit(
            f"consultbot: {len(exc.problems)} problem(s) in {path}; fix them and run "
            f"`consultbot check {path}`"
        ) from exc


def load_survey_file(path: Path) -> LoadedSurvey:
    """Parse the file at `path`; raises OSError or dialogs.SurveyError."""
    data = path.read_bytes()
    survey = parse_survey(data.decode("utf-8"), str(path))
    return LoadedSurvey(survey, path, hashlib.sha256(data).hexdigest())
