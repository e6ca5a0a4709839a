"""Read a questionnaire file: now in `channels.survey_file` (shared with the web channel); this
module keeps the names the bot imports."""

from __future__ import annotations

from channels.survey_file import LoadedSurvey, load_or_exit, load_survey_file

__all__ = ["LoadedSurvey", "load_or_exit", "load_survey_file"]
