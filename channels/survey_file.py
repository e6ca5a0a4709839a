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
    """Parse the file at `path` and the options files it names (relative to it); raises OSError
    or dialogs.SurveyError. The hash covers the options files too: a changed list is a changed
    questionnaire."""
    data = path.read_bytes()
    read: dict[str, bytes] = {}

    def read_file(name: str) -> str:
        content = (path.parent / name).read_bytes()
        read[name] = content
        return content.decode("utf-8")

    survey = parse_survey(data.decode("utf-8"), str(path), read_file)
    digest = hashlib.sha256(data)
    for name in sorted(read):
        digest.update(b"\0" + name.encode() + b"\0" + read[name])
    return LoadedSurvey(survey, path, digest.hexdigest())
