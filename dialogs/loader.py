"""Parse and validate a questionnaire file (YAML), reporting every problem with its place."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from dialogs.conditions import Condition, ConditionError, ConditionValue, parse_condition
from dialogs.limits import (
    MAX_BUTTON_LABEL,
    MAX_ID_LENGTH,
    MAX_LIST_LABEL,
    MAX_LIST_OPTIONS,
    MAX_OPTIONS,
    MAX_QUESTION_TEXT,
    MAX_SCALE_POINTS,
    MAX_TEXT_ANSWER,
    OTHER_OPTION_ID,
)
from dialogs.model import (
    CHOICE_TYPES,
    DraftsPolicy,
    Option,
    Question,
    QuestionType,
    Reminder,
    Retention,
    Section,
    Segment,
    Survey,
    TargetGroup,
    Targets,
)
from dialogs.options_file import parse_options_csv
from dialogs.texts import Text

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
OPTION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SURVEY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REMINDER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
DURATION_RE = re.compile(r"^(\d+)\s*([dhm])$")
DEFAULT_TEXT_MAX = 2000
MAX_ENUMERATION = 20_000
"""Combinations of earlier answers tried when proving that a `show_if` can be true."""

TOP_LEVEL_KEYS = {
    "id",
    "title",
    "description",
    "languages",
    "timezone",
    "opens_at",
    "closes_at",
    "estimated_minutes",
    "allow_amend",
    "privacy",
    "reminders",
    "retention",
    "targets",
    "sections",
}
RETENTION_KEYS = {"anonymise_at", "anonymise_after", "email_answers", "free_texts", "drafts"}
COMMON_KEYS = {"id", "type", "text", "help", "required", "show_if"}
TYPE_KEYS: dict[QuestionType, set[str]] = {
    QuestionType.SINGLE_CHOICE: {"options", "options_file", "search", "other"},
    QuestionType.MULTI_CHOICE: {"options", "options_file", "search", "other", "min", "max"},
    QuestionType.RANKING: {"options", "top"},
    QuestionType.SCALE: {"min", "max", "min_label", "max_label"},
    QuestionType.NUMBER: {"min", "max", "integer"},
    QuestionType.TEXT: {"min_length", "max_length", "multiline"},
    QuestionType.EMAIL: set(),
    QuestionType.ORGANISATION_ID: set(),
    QuestionType.CONSENT: {"accept_label", "decline_label"},
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a questionnaire file."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


class SurveyError(ValueError):
    """A questionnaire file that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


ReadFile = Callable[[str], str]
"""Reads a file named in the questionnaire (`options_file:`, relative to it) and returns its
text; raises OSError or UnicodeDecodeError when it cannot."""


def parse_survey(
    source: str, filename: str = "<survey>", read_file: ReadFile | None = None
) -> Survey:
    """Parse the text of a questionnaire file; raise SurveyError naming every problem.

    `read_file` gives the text of the files the questionnaire names (its options files); without
    it, a questionnaire that names one is refused."""
    return _Loader(filename, read_file).load(source)


def parse_duration(value: str) -> timedelta | None:
    """`7d`, `12h`, `30m` as a timedelta; None if malformed."""
    match = DURATION_RE.match(value.strip())
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "d": timedelta(days=amount),
        "h": timedelta(hours=amount),
        "m": timedelta(minutes=amount),
    }[unit]


class _Loader:
    def __init__(self, filename: str, read_file: ReadFile | None = None) -> None:
        self.file = filename
        self.read_file = read_file
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ("fr",)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where, message))

    def load(self, source: str) -> Survey:
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = (
                f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "file"
            )
            raise SurveyError(
                [Problem(self.file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
            ) from exc
        if not isinstance(data, dict):
            raise SurveyError([Problem(self.file, "file", "the top level must be a mapping")])
        survey = self.survey(data)
        if self.problems or survey is None:
            raise SurveyError(self.problems)
        return survey

    # -- top level ---------------------------------------------------------------------------

    def survey(self, data: dict[str, Any]) -> Survey | None:
        for key in sorted(set(data) - TOP_LEVEL_KEYS, key=str):
            self.problem(str(key), "unknown key")
        for key in ("id", "title", "languages", "opens_at", "closes_at", "sections"):
            if key not in data:
                self.problem(key, "required key is missing")
        languages = data.get("languages")
        if (
            isinstance(languages, list)
            and languages
            and all(isinstance(lang, str) and LANGUAGE_RE.match(lang) for lang in languages)
        ):
            if len(set(languages)) != len(languages):
                self.problem("languages", "a language is listed twice")
            self.languages = tuple(dict.fromkeys(languages))
        elif "languages" in data:
            self.problem("languages", "must be a non-empty list of two-letter codes, e.g. [fr, en]")
        survey_id = data.get("id")
        if "id" in data and not (isinstance(survey_id, str) and SURVEY_ID_RE.match(survey_id)):
            self.problem("id", "must be lower-case letters, digits and dashes")
        title = self.text(data.get("title"), "title", required=True)
        description = self.text(data.get("description"), "description")
        privacy = self.text(data.get("privacy"), "privacy")
        timezone = data.get("timezone", "UTC")
        if not isinstance(timezone, str) or not _zone_exists(timezone):
            self.problem("timezone", f"unknown time zone {timezone!r} (e.g. Europe/Paris)")
            timezone = "UTC"
        opens_at = self.instant(data.get("opens_at"), "opens_at")
        closes_at = self.instant(data.get("closes_at"), "closes_at")
        if opens_at is not None and closes_at is not None and closes_at <= opens_at:
            self.problem("closes_at", "must be after opens_at")
        minutes = data.get("estimated_minutes", 0)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
            self.problem("estimated_minutes", "must be a whole number of minutes")
            minutes = 0
        allow_amend = self.boolean(data.get("allow_amend", False), "allow_amend")
        sections = self.sections(data.get("sections"))
        reminders = self.reminders(
            data.get("reminders"), {q.id: q for s in sections for q in s.questions}
        )
        retention = self.retention(data.get("retention"), timezone, closes_at)
        targets = self.targets(
            data.get("targets"), {q.id: q for s in sections for q in s.questions}
        )
        if (
            self.problems
            or opens_at is None
            or closes_at is None
            or not isinstance(survey_id, str)
            or not sections
        ):
            return None
        return Survey(
            id=survey_id,
            title=title,
            languages=self.languages,
            timezone=timezone,
            opens_at=opens_at,
            closes_at=closes_at,
            sections=sections,
            description=description,
            privacy=privacy,
            estimated_minutes=minutes,
            allow_amend=allow_amend,
            reminders=reminders,
            retention=retention,
            targets=targets,
        )

    def targets(self, data: Any, questions: Mapping[str, Question]) -> Targets | None:
        """The `targets:` block: `question` (a single choice) and `groups`, each with `id`,
        `label`, `options` and either `expected` (a count) or `share` (0 to 1)."""
        if data is None:
            return None
        where = "targets"
        if not isinstance(data, dict):
            self.problem(where, "must be a mapping with question and groups")
            return None
        for key in sorted(set(data) - {"question", "groups"}, key=str):
            self.problem(where, f"unknown key {key!r}")
        question_id = data.get("question")
        question = questions.get(question_id) if isinstance(question_id, str) else None
        if question is None:
            self.problem(where, f"question: {question_id!r} is not a question of the survey")
            return None
        if question.type is not QuestionType.SINGLE_CHOICE:
            self.problem(where, f"question: {question_id} must be a single_choice question")
            return None
        raw_groups = data.get("groups")
        if not isinstance(raw_groups, list) or not raw_groups:
            self.problem(where, "groups must be a non-empty list")
            return None
        option_ids = [o.id for o in question.choices()]
        taken: dict[str, str] = {}
        groups: list[TargetGroup] = []
        for position, raw in enumerate(raw_groups, start=1):
            place = f"{where}: group {position}"
            if not isinstance(raw, dict):
                self.problem(place, "must be a mapping with id, label, options, expected or share")
                continue
            group_id = raw.get("id")
            if not isinstance(group_id, str) or not OPTION_ID_RE.match(group_id):
                self.problem(place, "id must be lower-case letters, digits and '_'")
                continue
            place = f"{where}: group {group_id}"
            for key in sorted(set(raw) - {"id", "label", "options", "expected", "share"}, key=str):
                self.problem(place, f"unknown key {key!r}")
            label = self.text(raw.get("label", group_id), f"{place}: label")
            options = raw.get("options")
            if not isinstance(options, list) or not options:
                self.problem(place, "options must be a non-empty list of option ids")
                continue
            for option in options:
                if not isinstance(option, str) or option not in option_ids:
                    self.problem(
                        place,
                        f"{option!r} is not an option of {question_id} "
                        f"(options: {', '.join(option_ids)})",
                    )
                elif option in taken:
                    self.problem(place, f"{option} is already in group {taken[option]}")
                else:
                    taken[option] = group_id
            expected, share = raw.get("expected"), raw.get("share")
            if (expected is None) == (share is None):
                self.problem(place, "give expected (a count) or share (0 to 1), one of them")
                continue
            if expected is not None and (
                not isinstance(expected, int) or isinstance(expected, bool) or expected <= 0
            ):
                self.problem(place, "expected must be a whole number above 0")
                continue
            if share is not None and (
                isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1
            ):
                self.problem(place, "share must be a number above 0 and at most 1")
                continue
            groups.append(
                TargetGroup(
                    group_id,
                    label,
                    tuple(str(o) for o in options),
                    expected,
                    float(share) if share is not None else None,
                )
            )
        if len({g.expected is None for g in groups}) > 1:
            self.problem(where, "give every group an expected count, or every group a share")
        shares = sum(g.share or 0 for g in groups)
        if shares > 1.0001:
            self.problem(where, f"the shares add up to {shares:g}, more than 1")
        if len({g.id for g in groups}) != len(groups):
            self.problem(where, "a group id is used twice")
        return Targets(question.id, tuple(groups)) if groups else None

    def retention(self, data: Any, timezone: str, closes_at: datetime | None) -> Retention | None:
        """The `retention:` block (see `Retention`); None when the file has none."""
        if data is None:
            return None
        if not isinstance(data, dict):
            self.problem("retention", "must be a mapping (anonymise_at or anonymise_after, ...)")
            return None
        for key in sorted(set(data) - RETENTION_KEYS, key=str):
            self.problem(f"retention: {key}", "unknown key")
        at: datetime | None = None
        after: timedelta | None = None
        if ("anonymise_at" in data) == ("anonymise_after" in data):
            self.problem(
                "retention",
                "give exactly one of anonymise_at (a date, e.g. 2022-12-31) and anonymise_after "
                "(a delay after closes_at, e.g. 90d)",
            )
        elif "anonymise_at" in data:
            at = self.retention_moment(data["anonymise_at"], timezone)
        else:
            raw_after = data["anonymise_after"]
            after = parse_duration(raw_after) if isinstance(raw_after, str) else None
            if after is None:
                self.problem(
                    "retention: anonymise_after",
                    "must be a delay after closes_at such as 90d, 12h or 30m",
                )
        retention = Retention(
            anonymise_at=at,
            anonymise_after=after,
            email_answers=self.boolean(data.get("email_answers", True), "retention: email_answers"),
            free_texts=self.boolean(data.get("free_texts", False), "retention: free_texts"),
            drafts=self.drafts_policy(data.get("drafts", DraftsPolicy.KEEP.value)),
        )
        if at is None and after is None:
            return None
        if closes_at is not None and retention.moment(closes_at) < closes_at:
            field_name = "anonymise_at" if at is not None else "anonymise_after"
            self.problem(
                f"retention: {field_name}",
                "must not come before closes_at: anonymising while the consultation is open "
                "would cut participants off from their answers",
            )
        return retention

    def retention_moment(self, data: Any, timezone: str) -> datetime | None:
        """`anonymise_at`: a date-time with its offset (like opens_at), or a date: the data is
        kept through that day and anonymised at the midnight that ends it, in `timezone`."""
        where = "retention: anonymise_at"
        day: date | None = None
        if isinstance(data, date) and not isinstance(data, datetime):
            day = data
        elif isinstance(data, str) and len(data.strip()) == 10:
            try:
                day = date.fromisoformat(data.strip())
            except ValueError:
                day = None
        if day is not None:
            return datetime.combine(day + timedelta(days=1), time(), ZoneInfo(timezone))
        if isinstance(data, datetime | str):
            return self.instant(data, where)
        self.problem(where, "must be a date (2022-12-31) or an ISO 8601 date-time with an offset")
        return None

    def drafts_policy(self, data: Any) -> DraftsPolicy:
        try:
            return DraftsPolicy(data)
        except ValueError:
            names = " or ".join(p.value for p in DraftsPolicy)
            self.problem("retention: drafts", f"must be {names}, not {data!r}")
            return DraftsPolicy.KEEP

    def sections(self, data: Any) -> tuple[Section, ...]:
        if not isinstance(data, list) or not data:
            if data is not None:
                self.problem("sections", "must be a non-empty list")
            return ()
        sections: list[Section] = []
        seen_sections: set[str] = set()
        earlier: dict[str, Question] = {}
        all_ids = _all_question_ids(data)
        index = 0
        for position, raw in enumerate(data, start=1):
            where = f"section {position}"
            if not isinstance(raw, dict):
                self.problem(where, "must be a mapping with id, title and questions")
                continue
            section_id = raw.get("id")
            if not isinstance(section_id, str) or not ID_RE.match(section_id):
                self.problem(where, "id must be lower-case letters, digits and underscores")
                section_id = f"section_{position}"
            elif section_id in seen_sections:
                self.problem(f"section {section_id}", "duplicate section id")
            seen_sections.add(section_id)
            where = f"section {section_id}"
            for key in sorted(set(raw) - {"id", "title", "questions"}, key=str):
                self.problem(where, f"unknown key {key!r}")
            title = self.text(raw.get("title"), f"{where}: title", required=True)
            questions_data = raw.get("questions")
            if not isinstance(questions_data, list) or not questions_data:
                self.problem(where, "questions must be a non-empty list")
                continue
            questions: list[Question] = []
            for q_position, q_raw in enumerate(questions_data, start=1):
                question = self.question(q_raw, section_id, q_position, index, earlier, all_ids)
                if question is not None:
                    questions.append(question)
                    earlier[question.id] = question
                index += 1
            sections.append(Section(section_id, title, tuple(questions)))
        return tuple(sections)

    def reminders(self, data: Any, questions: Mapping[str, Question]) -> tuple[Reminder, ...]:
        if data is None:
            return ()
        if not isinstance(data, list):
            self.problem("reminders", "must be a list")
            return ()
        reminders: list[Reminder] = []
        seen: set[str] = set()
        for position, raw in enumerate(data, start=1):
            where = f"reminder {position}"
            if not isinstance(raw, dict):
                self.problem(where, "must be a mapping with id, before_close, segment and text")
                continue
            reminder_id = raw.get("id")
            if not isinstance(reminder_id, str) or not REMINDER_ID_RE.match(reminder_id):
                self.problem(where, "id must be lower-case letters, digits, '-' and '_'")
                continue
            where = f"reminder {reminder_id}"
            if reminder_id in seen:
                self.problem(where, "duplicate reminder id")
            seen.add(reminder_id)
            for key in sorted(
                set(raw) - {"id", "before_close", "segment", "text", "where"}, key=str
            ):
                self.problem(where, f"unknown key {key!r}")
            before = raw.get("before_close")
            delta = parse_duration(before) if isinstance(before, str) else None
            if delta is None:
                self.problem(where, "before_close must be a duration such as 7d, 12h or 30m")
                delta = timedelta(0)
            try:
                segment = Segment(raw.get("segment", "in-progress"))
            except ValueError:
                names = ", ".join(s.value for s in Segment)
                self.problem(where, f"segment must be one of {names}")
                segment = Segment.IN_PROGRESS
            text = self.text(raw.get("text"), f"{where}: text", required=True)
            condition = None
            if "where" in raw:
                if not isinstance(raw["where"], str):
                    self.problem(where, 'where must be a condition, e.g. actor_type == "research"')
                elif questions:
                    try:
                        condition = parse_where(raw["where"], questions)
                    except ValueError as exc:
                        self.problem(where, f"where: {exc}")
            reminders.append(Reminder(reminder_id, delta, segment, text, condition))
        return tuple(reminders)

    # -- questions ---------------------------------------------------------------------------

    def question(
        self,
        raw: Any,
        section_id: str,
        position: int,
        index: int,
        earlier: Mapping[str, Question],
        all_ids: frozenset[str],
    ) -> Question | None:
        where = f"section {section_id}, question {position}"
        if not isinstance(raw, dict):
            self.problem(where, "must be a mapping")
            return None
        question_id = raw.get("id")
        if not isinstance(question_id, str) or not ID_RE.match(question_id):
            self.problem(where, "id must be lower-case letters, digits and underscores")
            return None
        where = f"question {question_id}"
        if len(question_id) > MAX_ID_LENGTH:
            self.problem(where, f"id longer than {MAX_ID_LENGTH} characters")
        if question_id in earlier:
            self.problem(where, "duplicate question id")
            return None
        try:
            qtype = QuestionType(str(raw.get("type")))
        except ValueError:
            names = ", ".join(t.value for t in QuestionType)
            self.problem(where, f"type must be one of {names}")
            return None
        for key in sorted(set(raw) - COMMON_KEYS - TYPE_KEYS[qtype], key=str):
            self.problem(where, f"unknown key {key!r} for a {qtype.value} question")
        text = self.text(raw.get("text"), f"{where}: text", required=True, limit=MAX_QUESTION_TEXT)
        help_text = self.text(raw.get("help"), f"{where}: help", limit=MAX_QUESTION_TEXT)
        required = self.boolean(raw.get("required", True), f"{where}: required")
        fields: dict[str, Any] = {}
        if qtype in CHOICE_TYPES:
            fields.update(self.choice_fields(raw, qtype, where))
        elif qtype is QuestionType.SCALE:
            fields.update(self.scale_fields(raw, where))
        elif qtype is QuestionType.NUMBER:
            fields.update(self.number_fields(raw, where))
        elif qtype is QuestionType.TEXT:
            fields.update(self.text_fields(raw, where))
        elif qtype is QuestionType.CONSENT:
            for key in ("accept_label", "decline_label"):
                fields[key] = self.text(raw.get(key), f"{where}: {key}", limit=MAX_BUTTON_LABEL)
            if not required:
                self.problem(where, "a consent question is always required")
        question = Question(
            id=question_id,
            type=qtype,
            text=text,
            section_id=section_id,
            index=index,
            help=help_text,
            required=required,
            **fields,
        )
        show_if = raw.get("show_if")
        if show_if is not None:
            condition = self.condition(show_if, where, question_id, earlier, all_ids)
            question = _with_condition(question, condition)
        return question

    def choice_fields(self, raw: dict[str, Any], qtype: QuestionType, where: str) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        other = (
            self.boolean(raw.get("other", False), f"{where}: other") if "other" in raw else False
        )
        fields["other"] = other
        if qtype is QuestionType.RANKING:
            options = self.options(raw.get("options"), where, other, limit=MAX_OPTIONS)
        else:
            options = self.list_options(raw, where, other)
        fields["options"] = options
        count = len(options) + (1 if other else 0)
        if qtype is not QuestionType.RANKING:
            search = raw.get("search")
            fields["searchable"] = (
                self.boolean(search, f"{where}: search")
                if search is not None
                else count > MAX_OPTIONS
            )
        if qtype is QuestionType.MULTI_CHOICE:
            low = self.integer(raw.get("min"), f"{where}: min")
            high = self.integer(raw.get("max"), f"{where}: max")
            if low is not None and not 0 <= low <= count:
                self.problem(where, f"min must be between 0 and the number of options ({count})")
            if high is not None and not 1 <= high <= count:
                self.problem(where, f"max must be between 1 and the number of options ({count})")
            if low is not None and high is not None and low > high:
                self.problem(where, "min is greater than max")
            fields["min"], fields["max"] = low, high
        elif qtype is QuestionType.RANKING:
            top = self.integer(raw.get("top"), f"{where}: top")
            if top is None:
                top = min(3, len(options))
            elif not 1 <= top <= len(options):
                self.problem(where, f"top must be between 1 and the number of options ({count})")
            fields["top"] = top
        return fields

    def list_options(self, raw: dict[str, Any], where: str, other: bool) -> tuple[Option, ...]:
        """The options of a single or multi choice: inline, or from its `options_file`."""
        name = raw.get("options_file")
        if name is None:
            return self.options(raw.get("options"), where, other, limit=MAX_LIST_OPTIONS)
        if "options" in raw:
            self.problem(where, "give either options or options_file, not both")
        if not isinstance(name, str) or not name.strip():
            self.problem(where, "options_file must be a path to a CSV file, e.g. data/poles.csv")
            return ()
        if self.read_file is None:
            self.problem(where, f"options_file {name}: no file can be read here")
            return ()
        try:
            text = self.read_file(name)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problem(where, f"options_file {name}: cannot be read ({reason})")
            return ()
        options, problems = parse_options_csv(text, self.languages, other=other)
        for problem in problems:
            place = f"row {problem.row}" if problem.row else "file"
            self.problem(f"{where}: {name}, {place}", problem.message)
        if not problems and len(options) + other < 2:
            self.problem(f"{where}: {name}", "a choice needs at least two options")
        return options

    def options(self, data: Any, where: str, other: bool, *, limit: int) -> tuple[Option, ...]:
        if not isinstance(data, list) or len(data) < 2:
            self.problem(where, "options must be a list of at least two options")
            return ()
        count = len(data) + (1 if other else 0)
        if count > limit:
            why = "do not fit a phone keyboard" if limit == MAX_OPTIONS else "are too many"
            self.problem(where, f"{count} choices (with other) {why}: at most {limit}")
        label_limit = MAX_BUTTON_LABEL if count <= MAX_OPTIONS else MAX_LIST_LABEL
        options: list[Option] = []
        seen: set[str] = set()
        for position, raw in enumerate(data, start=1):
            if not isinstance(raw, dict) or "id" not in raw or "label" not in raw:
                self.problem(f"{where}, option {position}", "must be a mapping with id and label")
                continue
            option_id = raw["id"]
            if isinstance(option_id, int) and not isinstance(option_id, bool):
                option_id = str(option_id)
            if not isinstance(option_id, str) or not OPTION_ID_RE.match(option_id):
                self.problem(
                    f"{where}, option {position}", "id must be lower-case letters, digits and '_'"
                )
                continue
            o_where = f"{where}, option {option_id}"
            if len(option_id) > MAX_ID_LENGTH:
                self.problem(o_where, f"id longer than {MAX_ID_LENGTH} characters")
            if option_id in seen:
                self.problem(o_where, "duplicate option id")
            if other and option_id == OTHER_OPTION_ID:
                self.problem(o_where, "the id 'other' is reserved for `other: true`")
            seen.add(option_id)
            for key in sorted(set(raw) - {"id", "label", "group", "synonyms"}, key=str):
                self.problem(o_where, f"unknown key {key!r}")
            label = self.text(raw["label"], f"{o_where}: label", required=True, limit=label_limit)
            group = self.text(raw.get("group"), f"{o_where}: group", limit=label_limit)
            synonyms = raw.get("synonyms", [])
            if not isinstance(synonyms, list) or not all(isinstance(x, str) for x in synonyms):
                self.problem(o_where, "synonyms must be a list of strings")
                synonyms = []
            options.append(Option(option_id, label, group, tuple(synonyms)))
        return tuple(options)

    def scale_fields(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        low = self.integer(raw.get("min"), f"{where}: min")
        high = self.integer(raw.get("max"), f"{where}: max")
        if low is None or high is None:
            self.problem(where, "a scale needs integer min and max")
            low, high = 1, 5
        elif high <= low:
            self.problem(where, "max must be greater than min")
        elif high - low + 1 > MAX_SCALE_POINTS:
            self.problem(where, f"a scale has at most {MAX_SCALE_POINTS} points (e.g. 0–10)")
        return {
            "min": low,
            "max": high,
            "min_label": self.text(
                raw.get("min_label"), f"{where}: min_label", limit=MAX_BUTTON_LABEL
            ),
            "max_label": self.text(
                raw.get("max_label"), f"{where}: max_label", limit=MAX_BUTTON_LABEL
            ),
        }

    def number_fields(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        integer = self.boolean(raw.get("integer", False), f"{where}: integer")
        bounds: list[float | None] = []
        for key in ("min", "max"):
            value = raw.get(key)
            if value is None:
                bounds.append(None)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                bounds.append(value)
            else:
                self.problem(where, f"{key} must be a number")
                bounds.append(None)
        low, high = bounds
        if low is not None and high is not None and low > high:
            self.problem(where, "min is greater than max")
        return {"min": low, "max": high, "integer": integer}

    def text_fields(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        low = self.integer(raw.get("min_length"), f"{where}: min_length")
        high = self.integer(raw.get("max_length"), f"{where}: max_length")
        low = 0 if low is None else low
        high = DEFAULT_TEXT_MAX if high is None else high
        if high > MAX_TEXT_ANSWER:
            self.problem(where, f"max_length must be at most {MAX_TEXT_ANSWER}")
        if not 0 <= low <= high or high < 1:
            self.problem(where, "need 0 <= min_length <= max_length and max_length >= 1")
        multiline = self.boolean(raw.get("multiline", False), f"{where}: multiline")
        return {"min_length": low, "max_length": high, "multiline": multiline}

    def condition(
        self,
        source: Any,
        where: str,
        question_id: str,
        earlier: Mapping[str, Question],
        all_ids: frozenset[str],
    ) -> Condition | None:
        if not isinstance(source, str) or not source.strip():
            self.problem(where, "show_if must be a non-empty string")
            return None
        try:
            condition = parse_condition(source)
        except ConditionError as exc:
            self.problem(where, f"show_if: {exc.message} at column {exc.position + 1}: {source}")
            return None
        ok = True
        for name in sorted(condition.references()):
            if name == question_id:
                self.problem(where, f"show_if refers to the question itself ({name})")
                ok = False
            elif name not in earlier:
                kind = "a later question" if name in all_ids else "an unknown question"
                self.problem(where, f"show_if refers to {kind}: {name}")
                ok = False
        if not ok:
            return None
        for name, literal, position in condition.compared_literals():
            message = _literal_problem(earlier[name], literal)
            if message is not None:
                self.problem(where, f"show_if column {position + 1}: {message}")
                ok = False
        for function, name, measured, position in condition.measures():
            message = _measure_problem(function, earlier[name], measured)
            if message is not None:
                self.problem(where, f"show_if column {position + 1}: {message}")
                ok = False
        if ok and not _can_be_true(condition, earlier):
            self.problem(
                where, f"show_if can never be true, so the question is never shown: {source}"
            )
        return condition

    # -- values ------------------------------------------------------------------------------

    def text(self, data: Any, where: str, *, required: bool = False, limit: int = 0) -> Text:
        if data is None:
            if required:
                self.problem(where, "a text is required")
            return Text()
        if isinstance(data, str):
            values = {language: data for language in self.languages}
        elif isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            values = {str(k): v for k, v in data.items()}
            for language in self.languages:
                if not values.get(language, "").strip():
                    self.problem(where, f"missing the {language!r} text")
            for language in sorted(set(values) - set(self.languages)):
                self.problem(where, f"text in {language!r}, which is not in languages")
        else:
            self.problem(where, "must be a string or a map of languages to strings")
            return Text()
        if required and not any(v.strip() for v in values.values()):
            self.problem(where, "a text is required")
        if limit:
            for language, value in values.items():
                if len(value) > limit:
                    self.problem(
                        where, f"{language!r} text is {len(value)} characters, more than {limit}"
                    )
        return Text(values)

    def instant(self, data: Any, where: str) -> datetime | None:
        if data is None:
            return None
        value: datetime | None = None
        if isinstance(data, datetime):
            value = data
        elif isinstance(data, str):
            try:
                value = datetime.fromisoformat(data)
            except ValueError:
                value = None
        if value is None:
            self.problem(where, "must be an ISO 8601 date-time, e.g. 2022-03-08T00:00:00+01:00")
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.problem(where, "must carry a UTC offset, e.g. +01:00")
            return None
        return value

    def boolean(self, data: Any, where: str) -> bool:
        if isinstance(data, bool):
            return data
        self.problem(where, "must be true or false")
        return False

    def integer(self, data: Any, where: str) -> int | None:
        if data is None:
            return None
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        self.problem(where, "must be a whole number")
        return None


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _all_question_ids(sections: list[Any]) -> frozenset[str]:
    ids: set[str] = set()
    for section in sections:
        if isinstance(section, dict) and isinstance(section.get("questions"), list):
            for question in section["questions"]:
                if isinstance(question, dict) and isinstance(question.get("id"), str):
                    ids.add(question["id"])
    return frozenset(ids)


CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
"""Quotes that phones put in place of straight ones; a `where` typed in Telegram gets them."""


def parse_where(source: str, questions: Mapping[str, Question]) -> Condition:
    """A `where` condition (broadcasts, reminders): the `show_if` language over any question of
    the survey. Raises ValueError with a message that says what is wrong."""
    text = " ".join(source.translate(CURLY_QUOTES).split())
    if not text:
        raise ValueError("the condition is empty")
    try:
        condition = parse_condition(text)
    except ConditionError as exc:
        raise ValueError(f"{exc.message} at column {exc.position + 1}: {text}") from exc
    problems = [
        f"{name} is not a question of the survey"
        for name in sorted(condition.references())
        if name not in questions
    ]
    if not problems:
        for name, literal, position in condition.compared_literals():
            message = _literal_problem(questions[name], literal)
            if message is not None:
                problems.append(f"column {position + 1}: {message}")
    if not problems and not _can_be_true(condition, questions):
        problems.append(f"no answers can make it true: {text}")
    if problems:
        raise ValueError("; ".join(problems))
    return condition


def _with_condition(question: Question, condition: Condition | None) -> Question:
    from dataclasses import replace

    return replace(question, show_if=condition)


def _literal_problem(question: Question, literal: str | int | float | bool) -> str | None:
    """Why `literal` can never equal an answer of `question`, or None if it can."""
    qtype = question.type
    if qtype in CHOICE_TYPES:
        ids = [o.id for o in question.choices()]
        if not isinstance(literal, str) or literal not in ids:
            named = ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
            return f"{literal!r} is not an option of {question.id} (options: {named})"
    elif qtype in (QuestionType.SCALE, QuestionType.NUMBER):
        if isinstance(literal, bool) or not isinstance(literal, int | float):
            return f"{question.id} is a number; compare it with a number, not {literal!r}"
    elif qtype is QuestionType.CONSENT:
        if not isinstance(literal, bool):
            return f"{question.id} is a consent; compare it with true or false"
    elif not isinstance(literal, str):
        return f"{question.id} is a text; compare it with a string, not {literal!r}"
    return None


def _measure_problem(
    function: str, question: Question, literal: str | int | float | bool | None
) -> str | None:
    """Why ``count(question)`` / ``length(question)`` makes no sense, or None if it does."""
    if function == "count" and question.type not in CHOICE_TYPES:
        return f"count() counts the options chosen, but {question.id} is a {question.type.value}"
    if function == "length" and question.type not in (QuestionType.TEXT, QuestionType.EMAIL):
        return f"length() measures a text, but {question.id} is a {question.type.value}"
    if literal is not None and (isinstance(literal, bool) or not isinstance(literal, int | float)):
        return f"{function}({question.id}) is a number; compare it with a number, not {literal!r}"
    return None


def _candidates(question: Question, literals: Iterable[Any]) -> list[ConditionValue]:
    """Answers of `question` worth trying when looking for one that makes a condition true."""
    values: list[ConditionValue] = [None]
    qtype = question.type
    if qtype is QuestionType.SINGLE_CHOICE:
        values += [o.id for o in question.choices()]
    elif qtype in (QuestionType.MULTI_CHOICE, QuestionType.RANKING):
        ids = [o.id for o in question.choices()]
        values += [frozenset(), frozenset(ids)] + [frozenset({i}) for i in ids]
        values += [frozenset(ids[:size]) for size in range(2, len(ids))]
        if qtype is QuestionType.RANKING:
            values = [None, *(tuple(ids[:size]) for size in range(1, question.top + 1))]
            values += [(i,) for i in ids[1:]]
    elif qtype is QuestionType.CONSENT:
        values += [True]
    elif qtype is QuestionType.SCALE:
        values += list(question.scale_points())
    elif qtype is QuestionType.NUMBER:
        numbers: set[float] = set()
        for literal in literals:
            if isinstance(literal, int | float) and not isinstance(literal, bool):
                numbers.update({literal - 1, literal - 0.5, literal, literal + 0.5, literal + 1})
        for bound in (question.min, question.max):
            if bound is not None:
                numbers.add(bound)
        numbers.add(0)
        values += sorted(
            n
            for n in numbers
            if (question.min is None or n >= question.min)
            and (question.max is None or n <= question.max)
            and (not question.integer or float(n).is_integer())
        )
    else:
        values += ["", "x"] + [lit for lit in literals if isinstance(lit, str)]
        lengths = {
            int(lit) + step
            for lit in literals
            if isinstance(lit, int | float) and not isinstance(lit, bool)
            for step in (-1, 0, 1)
        }
        values += ["x" * size for size in sorted(lengths) if 1 < size <= MAX_TEXT_ANSWER]
    return values


def _can_be_true(condition: Condition, earlier: Mapping[str, Question]) -> bool:
    """Whether some answers to the questions `condition` names make it true.

    Tries the interesting answers of each referenced question; gives the benefit of the doubt
    when there are too many combinations to try.
    """
    names = sorted(condition.references())
    literals: dict[str, list[Any]] = {name: [] for name in names}
    for name, literal, _ in condition.compared_literals():
        literals[name].append(literal)
    for _, name, measured, _ in condition.measures():
        if measured is not None:
            literals[name].append(measured)
    domains = [_candidates(earlier[name], literals[name]) for name in names]
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > MAX_ENUMERATION:
        return True
    combos: Iterator[tuple[ConditionValue, ...]] = itertools.product(*domains)
    return any(condition.evaluate(dict(zip(names, combo, strict=True))) for combo in combos)
