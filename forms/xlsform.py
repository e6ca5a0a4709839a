"""Translate the rows of an XLSForm (sheets ``survey``, ``choices``, ``settings``) into a
consultbot questionnaire (the mapping a questionnaire YAML file holds).

Pure: the sheets come in as `Sheet` values (see `forms.workbook` for reading a workbook), an
external list (``select_one_from_file``) through the `load_file` callable; the result says what
was translated, from which row, and what was left out or could not run in a chat.
A form that cannot be translated at all raises `FormError` naming the sheet and the row.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import yaml

from dialogs.conditions import ConditionError, parse_condition
from dialogs.limits import (
    MAX_BUTTON_LABEL,
    MAX_ID_LENGTH,
    MAX_OPTIONS,
    MAX_QUESTION_TEXT,
    MAX_SCALE_POINTS,
    MAX_TEXT_ANSWER,
    OTHER_OPTION_ID,
)
from dialogs.loader import SurveyError, parse_survey
from forms.xpath import Field, Untranslatable, references, translate_relevant

OnUnsupported = Literal["keep", "skip", "fail"]
IncompleteLanguages = Literal["drop", "fill"]

MINUTES_PER_QUESTIONS: Final = 2
"""The time announced to participants: a minute for every two questions (rounded up)."""
MAX_LONG_LIST: Final = 500
"""Options of a long list (the questionnaire format's limit)."""

TRUE_WORDS: Final = frozenset({"yes", "true", "1", "true()", "oui", "y"})
FALSE_WORDS: Final = frozenset({"no", "false", "0", "false()", "non", "n"})
METADATA_TYPES: Final = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "instanceid",
    }
)
UNSUPPORTED_TYPES: Final = {
    "calculate": "a calculation",
    "geopoint": "a GPS position",
    "geotrace": "a GPS line",
    "geoshape": "a GPS shape",
    "image": "a photo",
    "audio": "a sound recording",
    "video": "a video",
    "file": "a file upload",
    "background-audio": "a background recording",
    "barcode": "a barcode scan",
    "date": "a date",
    "time": "a time of day",
    "datetime": "a date and time",
    "hidden": "a hidden field",
    "xml-external": "an external XML file",
    "csv-external": "an external CSV file",
    "osm": "an OpenStreetMap feature",
    "select_one_external": "a list filtered from an external file",
    "select_multiple_external": "a list filtered from an external file",
}
TYPE_ALIASES: Final = {
    "begin group": "begin_group",
    "end group": "end_group",
    "begin repeat": "begin_repeat",
    "end repeat": "end_repeat",
    "select one": "select_one",
    "select multiple": "select_multiple",
    "select all that apply": "select_multiple",
    "select one from file": "select_one_from_file",
    "select multiple from file": "select_multiple_from_file",
    "int": "integer",
    "string": "text",
    "trigger": "acknowledge",
    "gps": "geopoint",
    "location": "geopoint",
    "photo": "image",
    "imei": "deviceid",
    "phone number": "phonenumber",
}
SELECT_TYPES: Final = frozenset(
    {
        "select_one",
        "select_multiple",
        "rank",
        "select_one_from_file",
        "select_multiple_from_file",
    }
)
PLAIN_TYPES: Final = frozenset({"text", "integer", "decimal", "range", "note", "acknowledge"})
STRUCTURE_TYPES: Final = frozenset({"begin_group", "end_group", "begin_repeat", "end_repeat"})
RESERVED_NAMES: Final = frozenset({"and", "or", "not", "in", "true", "false"})
LANGUAGE_NAMES: Final = {
    "english": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "portuguese": "pt",
    "português": "pt",
    "german": "de",
    "deutsch": "de",
    "italian": "it",
    "italiano": "it",
    "dutch": "nl",
    "arabic": "ar",
    "swahili": "sw",
    "russian": "ru",
    "ukrainian": "uk",
    "polish": "pl",
    "chinese": "zh",
    "hindi": "hi",
    "bengali": "bn",
    "hausa": "ha",
    "amharic": "am",
    "turkish": "tr",
    "romanian": "ro",
    "greek": "el",
    "breton": "br",
    "occitan": "oc",
    "catalan": "ca",
    "basque": "eu",
    "wolof": "wo",
    "lingala": "ln",
    "malagasy": "mg",
}
_LANGUAGE_CODE: Final = re.compile(r"\(\s*([A-Za-z]{2})(?:[-_][A-Za-z0-9]+)?\s*\)\s*$")
_PARAMETER: Final = re.compile(r"([a-z_]+)\s*=\s*(-?[0-9.]+)")
_BOUND: Final = re.compile(
    r"^\s*(?P<left>\.|-?\d+(?:\.\d+)?)\s*(?P<op><=|>=|<|>)\s*(?P<right>\.|-?\d+(?:\.\d+)?)\s*$"
)
_LENGTH_BOUND: Final = re.compile(
    r"^\s*string-length\(\s*\.\s*\)\s*(?P<op><=|>=|<|>)\s*(?P<n>\d+)\s*$"
)
_COUNT_BOUND: Final = re.compile(
    r"^\s*count-selected\(\s*\.\s*\)\s*(?P<op><=|>=|<|>|=)\s*(?P<n>\d+)\s*$"
)
_HTML_TAG: Final = re.compile(r"</?[A-Za-z][^<>]*>")


class FormError(ValueError):
    """A spreadsheet that cannot be imported: one problem, with its sheet and row."""

    def __init__(self, sheet: str | None, row: int | None, message: str) -> None:
        self.sheet = sheet
        self.row = row
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.sheet is None:
            return self.message
        where = f"sheet {self.sheet!r}" + (f", row {self.row}" if self.row is not None else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Row:
    """One spreadsheet row: its number as Excel shows it and its cells by (lower-case) column."""

    number: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Issue:
    """Something of the form that was left out or changed, with where it comes from."""

    sheet: str
    row: int | None
    name: str
    what: str
    action: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row is not None else self.sheet
        named = f" {self.name!r}" if self.name else ""
        return f"{where}{named}: {self.what} — {self.action}"


@dataclass(frozen=True)
class ImportOptions:
    opens_at: datetime
    closes_at: datetime
    survey_id: str | None = None
    source_name: str = "form"
    timezone: str = "Europe/Paris"
    default_language: str = "fr"
    on_unsupported: OnUnsupported = "keep"
    incomplete_languages: IncompleteLanguages = "fill"


@dataclass
class ImportResult:
    questionnaire: dict[str, Any]
    question_rows: dict[str, int] = field(default_factory=dict)
    """Question id -> its row in the survey sheet."""
    section_rows: dict[str, int] = field(default_factory=dict)
    option_files: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """CSV files to write beside the questionnaire (``options_file``): name -> rows."""
    unsupported: list[Issue] = field(default_factory=list)
    """What cannot run in a chat, and `relevant`s that could not be translated."""
    notes: list[Issue] = field(default_factory=list)
    """What was left out or adapted on the way (metadata, shortened labels, renamed ids...)."""
    languages: tuple[str, ...] = ()
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    """Language -> where its texts are missing ("survey row 4", ...)."""
    dropped_languages: tuple[str, ...] = ()
    long_lists: list[str] = field(default_factory=list)
    """Question ids whose options need the long-list format (> 14 options or a file)."""

    def counts(self) -> Counter[str]:
        return Counter(
            question["type"]
            for section in self.questionnaire["sections"]
            for question in section["questions"]
        )


def translate(
    sheets: Mapping[str, Sheet],
    options: ImportOptions,
    load_file: Callable[[str], Sequence[Mapping[str, str]] | None] = lambda name: None,
) -> ImportResult:
    """The questionnaire of an XLSForm; raises `FormError` for a form that cannot be imported."""
    return _Translation(sheets, options, load_file).run()


# -- helpers ------------------------------------------------------------------------------------


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")


def slug(
    value: str, *, first: str = "[a-z]", prefix: str = "q_", limit: int = MAX_ID_LENGTH
) -> str:
    """`value` as an id: lower-case letters, digits and ``_``, starting as `first` says."""
    text = re.sub(r"[^a-z0-9_]+", "_", _ascii(value).lower()).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text or not re.match(first, text):
        text = prefix + text
    return text[:limit].rstrip("_") or prefix.rstrip("_")


def _unique(
    base: str,
    taken: set[str],
    limit: int = MAX_ID_LENGTH,
    reserved: frozenset[str] = RESERVED_NAMES,
) -> str:
    candidate = base
    number = 2
    while candidate in taken or candidate in reserved:
        suffix = f"_{number}"
        candidate = base[: limit - len(suffix)] + suffix
        number += 1
    taken.add(candidate)
    return candidate


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@dataclass
class _Choice:
    row: int
    name: str
    labels: dict[str, str]
    extra: dict[str, str]


@dataclass
class _Group:
    name: str
    row: int
    labels: dict[str, str]
    condition: str | None
    skip: bool
    repeat: bool


@dataclass
class _Section:
    id: str
    title: dict[str, str]
    row: int
    questions: list[dict[str, Any]] = field(default_factory=list)


class _Translation:
    def __init__(
        self,
        sheets: Mapping[str, Sheet],
        options: ImportOptions,
        load_file: Callable[[str], Sequence[Mapping[str, str]] | None],
    ) -> None:
        self.sheets = {name.strip().lower(): sheet for name, sheet in sheets.items()}
        self.options = options
        self.load_file = load_file
        self.result = ImportResult(questionnaire={})
        self.fields: dict[str, Row] = {}
        self.known: dict[str, Field] = {}
        self.question_ids: set[str] = set()
        self.section_ids: set[str] = set()
        self.lists: dict[str, list[_Choice]] = {}
        self.list_rows: dict[str, int] = {}
        self.language_columns: dict[str, str] = {}
        """Language code -> the suffix of its columns ("" for plain label/hint)."""
        self.languages: list[str] = []
        self.missing: dict[str, list[str]] = {}
        self.pending_notes: list[tuple[Row, dict[str, str]]] = []
        self.plain_language = options.default_language
        self.original: dict[str, str] = {}
        self.html_rows: dict[str, None] = {}
        """Question id -> its name in the form."""

    # -- issues ---------------------------------------------------------------------------------

    def unsupported(self, row: Row | None, what: str, action: str, sheet: str = "survey") -> None:
        name = row.get("name") if row is not None else ""
        number = row.number if row is not None else None
        self.result.unsupported.append(Issue(sheet, number, name, what, action))

    def note(self, row: Row | None, what: str, action: str, sheet: str = "survey") -> None:
        name = row.get("name") if row is not None else ""
        number = row.number if row is not None else None
        self.result.notes.append(Issue(sheet, number, name, what, action))

    # -- whole form -----------------------------------------------------------------------------

    def run(self) -> ImportResult:
        survey = self.sheets.get("survey")
        if survey is None:
            names = ", ".join(repr(s.name) for s in self.sheets.values()) or "none"
            raise FormError(None, None, f"the workbook has no 'survey' sheet (its sheets: {names})")
        if "type" not in survey.columns:
            raise FormError(survey.name, 1, "the first row has no 'type' column")
        if "name" not in survey.columns:
            raise FormError(survey.name, 1, "the first row has no 'name' column")
        if not any(row.get("type") for row in survey.rows):
            raise FormError(survey.name, None, "the sheet has no question")
        settings = self.settings()
        self.detect_languages(settings)
        self.read_choices()
        self.index_fields(survey)
        sections = self.walk(survey)
        for row, _ in self.pending_notes:
            self.note(row, "a note after the last question", "left out")
        if self.html_rows:
            places = ", ".join(self.html_rows)
            self.note(None, f"HTML formatting in the texts of {places}", "removed")
        sections = [s for s in sections if s.questions]
        if not sections:
            raise FormError(survey.name, None, "no question of the form can be asked in a chat")
        self.finish_languages(sections)
        data: dict[str, Any] = {
            "id": self.survey_id(settings),
            "title": self.title(settings),
            "languages": list(self.languages),
            "timezone": self.options.timezone,
            "opens_at": self.options.opens_at.isoformat(),
            "closes_at": self.options.closes_at.isoformat(),
            "sections": [
                {
                    "id": s.id,
                    "title": self.text(s.title),
                    "questions": [self.finish(q) for q in s.questions],
                }
                for s in sections
            ],
        }
        for name, rows in self.result.option_files.items():
            self.result.option_files[name] = [self.csv_row(r) for r in rows]
        self.settle(data)
        if not data["sections"]:
            raise FormError(survey.name, None, "no question of the form can be asked in a chat")
        sections = [s for s in sections if any(d["id"] == s.id for d in data["sections"])]
        count = sum(len(s["questions"]) for s in data["sections"])
        data["estimated_minutes"] = max(1, -(-count // MINUTES_PER_QUESTIONS))
        self.result.questionnaire = data
        self.result.section_rows = {s.id: s.row for s in sections}
        self.result.languages = tuple(self.languages)
        return self.result

    def settle(self, data: dict[str, Any]) -> None:
        """Load the questionnaire as `consultbot check` does; a `show_if` it refuses (one that
        can never be true, say) is handled as an untranslatable `relevant`. A `show_if` naming a
        long list is left alone: the loader of this branch does not know long lists yet."""
        skip = self.options.on_unsupported == "skip"
        for _ in range(20):
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
            try:
                parse_survey(text, "imported")
            except SurveyError as exc:
                problems = exc.problems
            else:
                return
            changed = False
            for problem in problems:
                match = re.match(r"question ([a-z0-9_]+)$", problem.where)
                if match is None or "show_if" not in problem.message:
                    continue
                question_id = match.group(1)
                for section in data["sections"]:
                    for question in list(section["questions"]):
                        if question["id"] != question_id or "show_if" not in question:
                            continue
                        names = parse_condition(question["show_if"]).references()
                        if names & set(self.result.long_lists):
                            continue  # a long list: checked once the format is known
                        row = self.result.question_rows.get(question_id)
                        action = "question left out" if skip else "question kept unconditional"
                        self.result.unsupported.append(
                            Issue(
                                "survey",
                                row,
                                self.original.get(question_id, question_id),
                                f"its condition {question['show_if']!r}: {problem.message}",
                                action,
                            )
                        )
                        if skip:
                            section["questions"].remove(question)
                            self.result.question_rows.pop(question_id, None)
                        else:
                            del question["show_if"]
                        changed = True
            data["sections"] = [s for s in data["sections"] if s["questions"]]
            if not changed:
                return

    def finish(self, question: dict[str, Any]) -> dict[str, Any]:
        """The question as the file holds it: its texts in the languages kept, keys in order."""
        done: dict[str, Any] = {"id": question["id"], "type": question["type"]}
        done["text"] = self.text(question["_text"])
        if "_help" in question:
            done["help"] = self.text(question["_help"])
        for key in ("required", "show_if"):
            if key in question:
                done[key] = question[key]
        if "options" in question:
            done["options"] = [
                {"id": o["id"], "label": self.text(o["_label"])} for o in question["options"]
            ]
        for key, value in question.items():
            if key not in done and not key.startswith("_") and key != "options":
                done[key] = value
        return done

    def csv_row(self, row: Mapping[str, str]) -> dict[str, str]:
        labels = {code: row.get(f"_label_{code}", "") for code in self.languages}
        default = labels[self.languages[0]]
        if len(self.languages) == 1:
            return {"id": row["id"], "label": default}
        return {"id": row["id"], **{f"label_{c}": t or default for c, t in labels.items()}}

    def settings(self) -> dict[str, str]:
        sheet = self.sheets.get("settings")
        if sheet is None or not sheet.rows:
            return {}
        return {column: sheet.rows[0].get(column) for column in sheet.columns}

    def survey_id(self, settings: Mapping[str, str]) -> str:
        raw = self.options.survey_id or settings.get("form_id") or self.options.source_name
        text = re.sub(r"[^a-z0-9-]+", "-", _ascii(raw).lower()).strip("-")
        return re.sub(r"-+", "-", text) or "imported-form"

    def title(self, settings: Mapping[str, str]) -> str | dict[str, str]:
        titles = {
            code: settings.get(f"form_title{suffix}", "")
            for code, suffix in self.language_columns.items()
        }
        titles = {code: text for code, text in titles.items() if text}
        plain = settings.get("form_title") or self.options.source_name
        if not titles:
            return plain
        return self.text({code: titles.get(code, plain) for code in self.languages})

    # -- languages ------------------------------------------------------------------------------

    def detect_languages(self, settings: Mapping[str, str]) -> None:
        columns = list(self.sheets["survey"].columns)
        if "choices" in self.sheets:
            columns += self.sheets["choices"].columns
        default = self.language_code(settings.get("default_language", "")) or (
            self.options.default_language
        )
        found: dict[str, str] = {}
        unnamed: set[str] = set()
        for column in columns:
            if not column.startswith(("label::", "hint::")):
                continue
            suffix = column[column.index("::") :]
            spec = suffix[2:]
            code = self.language_code(spec)
            if code is None:
                if spec.strip().lower() == "default":
                    code = default
                elif spec not in unnamed:
                    unnamed.add(spec)
                    self.note(
                        Row(1, {}),
                        f"column {column!r}: language {spec!r} has no two-letter code",
                        f"left out; name it like label::{spec.strip()} (xx)",
                    )
                    continue
                else:
                    continue
            if code in found and found[code] != suffix:
                continue
            found[code] = suffix
        if "label" in columns or not found:
            if default in found:
                found = {default: found[default], **found}
            self.plain_language = default
        else:
            self.plain_language = default if default in found else next(iter(found))
        self.language_columns = found
        order = [self.plain_language, *[code for code in found if code != self.plain_language]]
        self.languages = order

    def language_code(self, spec: str) -> str | None:
        spec = spec.strip()
        if not spec:
            return None
        match = _LANGUAGE_CODE.search(spec)
        if match is not None:
            return match.group(1).lower()
        if re.fullmatch(r"[A-Za-z]{2}", spec):
            return spec.lower()
        return LANGUAGE_NAMES.get(spec.lower())

    def labels(self, row: Row, column: str = "label", sheet: str = "survey") -> dict[str, str]:
        """The texts of `column` in each language ("" where the cell is empty)."""
        texts: dict[str, str] = {}
        for code in self.languages:
            suffix = self.language_columns.get(code)
            value = row.get(column + suffix) if suffix is not None else ""
            if not value and code == self.plain_language:
                value = row.get(column)
            if _HTML_TAG.search(value):
                value = re.sub(r" {2,}", " ", _HTML_TAG.sub("", value)).strip()
                self.html_rows[f"{sheet} row {row.number}"] = None
            texts[code] = value
        return texts

    def fill(self, texts: dict[str, str], where: str) -> dict[str, str]:
        """`texts` with every language; records which languages miss the text."""
        if not any(texts.values()):
            return texts
        default = self.languages[0]
        for code in self.languages:
            if not texts.get(code):
                self.missing.setdefault(code, []).append(where)
        if not texts.get(default):
            texts[default] = next(v for v in texts.values() if v)
        return texts

    def finish_languages(self, sections: list[_Section]) -> None:
        default = self.languages[0]
        incomplete = {code: places for code, places in self.missing.items() if code != default}
        self.result.incomplete = incomplete
        if default in self.missing:
            places = self.missing[default]
            self.note(
                None,
                f"{len(places)} text(s) missing in the default language {default} "
                f"({', '.join(places[:5])})",
                "taken from another language",
            )
        if self.options.incomplete_languages == "drop" and incomplete:
            self.result.dropped_languages = tuple(incomplete)
            self.languages = [code for code in self.languages if code not in incomplete]

    def text(self, texts: Mapping[str, str]) -> str | dict[str, str]:
        """A text of the questionnaire: one string, or a map of the languages kept."""
        default = self.languages[0]
        values = {code: texts.get(code) or texts.get(default, "") for code in self.languages}
        if len(set(values.values())) == 1:
            return values[default]
        return values

    # -- choices --------------------------------------------------------------------------------

    def read_choices(self) -> None:
        sheet = self.sheets.get("choices")
        if sheet is None:
            return
        list_column = "list_name" if "list_name" in sheet.columns else "list name"
        for row in sheet.rows:
            list_name = row.get(list_column)
            name = row.get("name")
            if not list_name and not name:
                continue
            if not list_name:
                raise FormError(sheet.name, row.number, f"choice {name!r} has no list_name")
            if not name:
                raise FormError(
                    sheet.name, row.number, f"a choice of list {list_name!r} has no name"
                )
            choices = self.lists.setdefault(list_name, [])
            self.list_rows.setdefault(list_name, row.number)
            for earlier in choices:
                if earlier.name == name:
                    raise FormError(
                        sheet.name,
                        row.number,
                        f"duplicate choice {name!r} in list {list_name!r} (also row {earlier.row})",
                    )
            labels = self.fill(self.labels(row, sheet="choices"), f"choices row {row.number}")
            if not any(labels.values()):
                labels = {code: name for code in self.languages}
            extra = {
                column: row.get(column)
                for column in sheet.columns
                if column not in ("name", list_column) and not column.startswith("label")
            }
            choices.append(_Choice(row.number, name, labels, extra))

    # -- survey rows ----------------------------------------------------------------------------

    def kind(self, row: Row, sheet: Sheet) -> tuple[str, str, bool]:
        """(base type, list or file name, or_other) of a row's ``type`` cell."""
        raw = " ".join(row.get("type").split())
        lowered = raw.lower()
        or_other = False
        if lowered.endswith(" or_other"):
            or_other = True
            raw = raw[: -len(" or_other")].strip()
            lowered = raw.lower()
        for alias, base in sorted(TYPE_ALIASES.items(), key=lambda item: -len(item[0])):
            if lowered == alias or lowered.startswith(alias + " "):
                return base, raw[len(alias) :].strip(), or_other
        head, _, rest = raw.partition(" ")
        base = head.lower()
        if base in SELECT_TYPES:
            if not rest.strip():
                raise FormError(
                    sheet.name, row.number, f"{base} needs a list name, e.g. '{base} yes_no'"
                )
            return base, rest.strip(), or_other
        if rest.strip() and base not in UNSUPPORTED_TYPES:
            raise FormError(sheet.name, row.number, f"unknown question type {raw!r}")
        known = PLAIN_TYPES | STRUCTURE_TYPES | set(UNSUPPORTED_TYPES) | METADATA_TYPES
        if base not in known:
            raise FormError(sheet.name, row.number, f"unknown question type {raw!r}")
        return base, rest.strip(), or_other

    def index_fields(self, sheet: Sheet) -> None:
        for row in sheet.rows:
            if not row.get("type"):
                continue
            base, argument, _ = self.kind(row, sheet)
            name = row.get("name")
            if base in ("end_group", "end_repeat"):
                continue
            if not name:
                if base == "note":
                    continue
                raise FormError(sheet.name, row.number, f"a {base} row has no name")
            if name in self.fields:
                raise FormError(
                    sheet.name,
                    row.number,
                    f"duplicate name {name!r} (also row {self.fields[name].number})",
                )
            self.fields[name] = row
            if base in ("select_one", "select_multiple", "rank") and argument not in self.lists:
                raise FormError(
                    sheet.name,
                    row.number,
                    f"{base} {argument}: the 'choices' sheet has no list {argument!r}",
                )
        for row in sheet.rows:
            for column in ("relevant", "choice_filter"):
                for name in references(row.get(column)):
                    if name not in self.fields:
                        raise FormError(
                            sheet.name,
                            row.number,
                            f"{column} names an unknown field ${{{name}}}",
                        )

    def walk(self, sheet: Sheet) -> list[_Section]:
        sections: list[_Section] = []
        groups: list[_Group] = []
        current: _Section | None = None
        for row in sheet.rows:
            if not row.get("type"):
                continue
            base, argument, or_other = self.kind(row, sheet)
            if base in ("begin_group", "begin_repeat"):
                groups.append(self.open_group(row, base, groups))
                current = None
                continue
            if base in ("end_group", "end_repeat"):
                if not groups:
                    raise FormError(sheet.name, row.number, f"{base} without a begin")
                opened = groups.pop()
                if opened.repeat != (base == "end_repeat"):
                    raise FormError(
                        sheet.name,
                        row.number,
                        f"{base} closes the {'repeat' if opened.repeat else 'group'} "
                        f"{opened.name!r} of row {opened.row}",
                    )
                current = None
                continue
            if any(group.skip for group in groups):
                if base not in METADATA_TYPES:
                    self.note(row, "inside a group or repeat left out", "left out")
                continue
            if base in METADATA_TYPES:
                self.note(row, f"metadata field '{base}' (recorded by ODK itself)", "left out")
                continue
            if base in UNSUPPORTED_TYPES:
                self.unsupported(
                    row, f"{base}: {UNSUPPORTED_TYPES[base]} cannot be asked in a chat", "left out"
                )
                continue
            if base == "note":
                self.add_note(row, groups)
                continue
            question = self.question(row, base, argument, or_other)
            if question is None:
                continue
            condition = self.condition(row, groups)
            if condition is False:
                continue
            if condition:
                question["show_if"] = condition
            self.merge_notes(question)
            if current is None:
                current = self.new_section(row, groups)
                sections.append(current)
            current.questions.append(question)
            self.result.question_rows[question["id"]] = row.number
            self.known[row.get("name")] = self.field_of(question)
        if groups:
            opened = groups[-1]
            raise FormError(
                sheet.name,
                opened.row,
                f"{'begin_repeat' if opened.repeat else 'begin_group'} {opened.name!r} is "
                "never closed",
            )
        return sections

    def open_group(self, row: Row, base: str, groups: list[_Group]) -> _Group:
        repeat = base == "begin_repeat"
        skip = False
        if repeat:
            action = (
                "left out" if self.options.on_unsupported == "skip" else "its questions asked once"
            )
            self.unsupported(row, "repeat: a repeated group cannot run in a chat", action)
            skip = self.options.on_unsupported == "skip"
        condition: str | None = None
        source = row.get("relevant")
        if source and not skip:
            try:
                condition = self.translated(source, row)
            except Untranslatable as exc:
                skip = self.untranslated(row, source, str(exc), group=True)
        return _Group(
            row.get("name"),
            row.number,
            self.fill(self.labels(row), f"survey row {row.number}"),
            condition,
            skip,
            repeat,
        )

    def new_section(self, row: Row, groups: list[_Group]) -> _Section:
        titled = [g for g in groups if any(g.labels.values())]
        if titled:
            title = {
                code: " › ".join(g.labels.get(code) or g.labels[self.languages[0]] for g in titled)
                for code in self.languages
            }
            base = groups[-1].name
        else:
            settings_title = self.title(self.settings())
            if isinstance(settings_title, str):
                title = {code: settings_title for code in self.languages}
            else:
                title = dict(settings_title)
            base = groups[-1].name if groups else "general"
        section_id = _unique(slug(base or "section", prefix="s_"), self.section_ids)
        return _Section(section_id, title, groups[-1].row if groups else row.number)

    # -- notes ----------------------------------------------------------------------------------

    def add_note(self, row: Row, groups: list[_Group]) -> None:
        texts = self.fill(self.labels(row), f"survey row {row.number}")
        if not any(texts.values()):
            self.note(row, "a note without a label", "left out")
            return
        if row.get("relevant"):
            if self.options.on_unsupported == "skip":
                self.unsupported(row, "a note shown under a condition", "left out")
                return
            self.unsupported(row, "a note shown under a condition", "shown with the next question")
        self.pending_notes.append((row, texts))

    def merge_notes(self, question: dict[str, Any]) -> None:
        if not self.pending_notes:
            return
        notes = self.pending_notes
        self.pending_notes = []
        texts = question["_text"]
        merged = {
            code: "\n\n".join([*(n.get(code) or n[self.languages[0]] for _, n in notes), text])
            for code, text in texts.items()
        }
        if any(len(value) > MAX_QUESTION_TEXT for value in merged.values()):
            merged = {code: _shorten(value, MAX_QUESTION_TEXT) for code, value in merged.items()}
            self.note(
                notes[0][0],
                f"note and question {question['id']!r} longer than {MAX_QUESTION_TEXT} characters",
                "shortened",
            )
        question["_text"] = merged
        for row, _ in notes:
            self.note(row, f"note shown before question {question['id']!r}", "merged")

    # -- conditions -----------------------------------------------------------------------------

    def lookup(self, name: str) -> Field | None:
        return self.known.get(name)

    def translated(self, source: str, row: Row) -> str:
        condition = translate_relevant(source, self.lookup)
        try:
            parse_condition(condition)
        except ConditionError as exc:
            raise Untranslatable(f"the translation is not a valid show_if ({exc.message})") from exc
        return condition

    def untranslated(self, row: Row, source: str, reason: str, *, group: bool = False) -> bool:
        """Report a `relevant` that cannot be translated; True if what it guards is left out."""
        skip = self.options.on_unsupported == "skip"
        if group:
            action = (
                "the group's questions left out"
                if skip
                else "the group's questions kept unconditional"
            )
        else:
            action = "question left out" if skip else "question kept unconditional"
        self.unsupported(row, f"relevant {source!r} cannot be translated: {reason}", action)
        return skip

    def condition(self, row: Row, groups: list[_Group]) -> str | bool:
        """The show_if of a question ("" for none), or False if the question is left out."""
        parts = [g.condition for g in groups if g.condition]
        source = row.get("relevant")
        if source:
            try:
                parts.append(self.translated(source, row))
            except Untranslatable as exc:
                if self.untranslated(row, source, str(exc)):
                    return False
        if len(parts) <= 1:
            return parts[0] if parts else ""
        combined = " and ".join(f"({part})" for part in parts)
        try:
            parse_condition(combined)
        except ConditionError as exc:
            if self.untranslated(row, source or "(its groups')", exc.message):
                return False
            return parts[-1]
        return combined

    def field_of(self, question: dict[str, Any]) -> Field:
        return Field(question["id"], question["type"], question.get("_options_by_name", {}))

    # -- questions ------------------------------------------------------------------------------

    def question(self, row: Row, base: str, argument: str, or_other: bool) -> dict[str, Any] | None:
        name = row.get("name")
        question_id = _unique(slug(name), self.question_ids)
        self.original[question_id] = name
        if question_id != name:
            self.note(row, f"name {name!r} is not a valid question id", f"renamed {question_id!r}")
        texts = self.fill(self.labels(row), f"survey row {row.number}")
        if not any(texts.values()):
            texts = {code: name for code in self.languages}
            self.note(row, "a question without a label", "its name is used as its text")
        shown = sorted({field for value in texts.values() for field in references(value)})
        if shown:
            fields = ", ".join(f"${{{field}}}" for field in shown)
            self.note(row, f"the label shows the answer of {fields}", "shown as written")
        if any(len(value) > MAX_QUESTION_TEXT for value in texts.values()):
            texts = {code: _shorten(value, MAX_QUESTION_TEXT) for code, value in texts.items()}
            self.note(row, f"label longer than {MAX_QUESTION_TEXT} characters", "shortened")
        question: dict[str, Any] = {"id": question_id, "_text": texts}
        hints = self.fill(self.labels(row, "hint"), f"survey row {row.number} (hint)")
        required_cell = row.get("required").lower()
        required = required_cell in TRUE_WORDS
        if required_cell and not required and required_cell not in FALSE_WORDS:
            self.note(row, f"required only when {row.get('required')!r}", "optional")
        if base == "acknowledge":
            question["type"] = "consent"
        elif base in ("select_one", "select_multiple", "rank"):
            if not self.choice_question(question, row, base, argument, or_other):
                return None
        elif base in ("select_one_from_file", "select_multiple_from_file"):
            if not self.file_question(question, row, base, argument):
                return None
        elif base in ("integer", "decimal"):
            question["type"] = "number"
            if base == "integer":
                question["integer"] = True
            self.number_bounds(question, row, base == "integer")
        elif base == "range":
            self.range_question(question, row)
        elif base == "text":
            question["type"] = "text"
            if "multiline" in row.get("appearance").lower():
                question["multiline"] = True
            self.text_bounds(question, row)
        else:  # pragma: no cover - kind() only lets the types above through
            raise FormError("survey", row.number, f"unexpected type {base!r}")
        if any(hints.values()):
            question["_help"] = {
                code: _shorten(text, MAX_QUESTION_TEXT) for code, text in hints.items()
            }
        if not required and question["type"] != "consent":
            question["required"] = False
        if row.get("constraint") and not question.pop("_constraint_done", False):
            self.note(row, f"constraint {row.get('constraint')!r} not translated", "left out")
        if row.get("choice_filter") and not question.pop("_filter_done", False):
            return self.filter_unsupported(question, row)
        return question

    def filter_unsupported(self, question: dict[str, Any], row: Row) -> dict[str, Any] | None:
        source = row.get("choice_filter")
        if self.options.on_unsupported == "skip":
            self.unsupported(row, f"choice_filter {source!r}", "question left out")
            return None
        self.unsupported(row, f"choice_filter {source!r}", "all the list's choices offered")
        return question

    def choice_question(
        self, question: dict[str, Any], row: Row, base: str, list_name: str, or_other: bool
    ) -> bool:
        question["type"] = {
            "select_one": "single_choice",
            "select_multiple": "multi_choice",
            "rank": "ranking",
        }[base]
        choices = list(self.lists[list_name])
        filtered = self.simple_filter(row, choices)
        if filtered is not None:
            choices = filtered
            question["_filter_done"] = True
        if or_other:
            if base == "rank":
                self.note(row, "or_other on a rank question", "left out")
            else:
                question["other"] = True
                if any(c.name.lower() == OTHER_OPTION_ID for c in choices):
                    choices = [c for c in choices if c.name.lower() != OTHER_OPTION_ID]
                    self.note(
                        row,
                        f"list {list_name!r} has its own 'other' choice",
                        "replaced by or_other",
                    )
        if len(choices) < 2:
            self.unsupported(
                row, f"list {list_name!r} has fewer than two choices", "question left out"
            )
            return False
        options, by_name = self.options_of(choices, row, list_name)
        if question.get("other"):
            by_name[OTHER_OPTION_ID] = OTHER_OPTION_ID
        question["options"] = options
        question["_options_by_name"] = by_name
        count = len(options) + (1 if question.get("other") else 0)
        if count > MAX_LONG_LIST:
            self.unsupported(
                row, f"{count} choices, more than {MAX_LONG_LIST}", "question left out"
            )
            return False
        if count > MAX_OPTIONS:
            self.result.long_lists.append(question["id"])
            self.note(row, f"{count} choices", "a searchable long list")
        elif any(a in row.get("appearance").lower() for a in ("autocomplete", "search", "minimal")):
            self.note(row, f"appearance {row.get('appearance')!r} on {count} choices", "buttons")
        if base == "rank":
            question["top"] = len(options)
        if base == "select_multiple":
            self.count_bounds(question, row, count)
        return True

    def simple_filter(self, row: Row, choices: list[_Choice]) -> list[_Choice] | None:
        """The choices of ``choice_filter: column = 'value'`` (a constant filter), else None."""
        source = row.get("choice_filter")
        if not source:
            return None
        match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'([^']*)'\s*", source)
        if match is None:
            return None
        column, value = match.group(1).lower(), match.group(2)
        kept = [c for c in choices if c.extra.get(column, "") == value]
        return kept if kept else None

    def options_of(
        self, choices: list[_Choice], row: Row, list_name: str
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        taken: set[str] = set()
        options: list[dict[str, Any]] = []
        by_name: dict[str, str] = {}
        shortened = 0
        renamed = 0
        for choice in choices:
            option_id = _unique(
                slug(choice.name, first="[a-z0-9]", prefix="o_"), taken, reserved=frozenset()
            )
            if option_id != choice.name:
                renamed += 1
            by_name[choice.name] = option_id
            labels = dict(choice.labels)
            for code, text in labels.items():
                if len(text) > MAX_BUTTON_LABEL:
                    labels[code] = _shorten(text, MAX_BUTTON_LABEL)
                    shortened += 1
            options.append({"id": option_id, "_label": labels})
        if shortened:
            self.note(
                row,
                f"{shortened} label(s) of list {list_name!r} longer than {MAX_BUTTON_LABEL} "
                "characters",
                "shortened",
            )
        if renamed:
            self.note(
                row, f"{renamed} choice name(s) of list {list_name!r} are not valid ids", "renamed"
            )
        return options, by_name

    def file_question(self, question: dict[str, Any], row: Row, base: str, filename: str) -> bool:
        question["type"] = "single_choice" if base == "select_one_from_file" else "multi_choice"
        if not filename.lower().endswith(".csv"):
            self.unsupported(
                row, f"{base} {filename}: only a CSV list can be read", "question left out"
            )
            return False
        rows = self.load_file(filename)
        if rows is None:
            self.unsupported(
                row, f"{base} {filename}: the file is not beside the form", "question left out"
            )
            return False
        choices: list[_Choice] = []
        for number, data in enumerate(rows, start=2):
            cells = {str(k).strip().lower(): str(v or "").strip() for k, v in data.items()}
            name = cells.get("name", "")
            if not name:
                continue
            labels = self.fill(
                self.labels(Row(number, cells), sheet=filename), f"{filename} row {number}"
            )
            if not any(labels.values()):
                labels = {code: name for code in self.languages}
            choices.append(_Choice(number, name, labels, {}))
        if len(choices) < 2:
            self.unsupported(row, f"{filename} has fewer than two choices", "question left out")
            return False
        if len(choices) > MAX_LONG_LIST:
            self.unsupported(
                row,
                f"{filename}: {len(choices)} choices, more than {MAX_LONG_LIST}",
                "question left out",
            )
            return False
        options, by_name = self.options_of(choices, row, filename)
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", filename.rsplit("/", 1)[-1][: -len(".csv")])
        # Never the form's own file, should the questionnaire be written beside the form.
        csv_name = f"{stem}.options.csv"
        self.result.option_files[csv_name] = [
            {"id": o["id"], **{f"_label_{code}": text for code, text in o["_label"].items()}}
            for o in options
        ]
        question["options_file"] = csv_name
        question["_options_by_name"] = by_name
        self.result.long_lists.append(question["id"])
        self.note(row, f"{len(options)} choices of {filename}", f"written to {csv_name}")
        return True

    def range_question(self, question: dict[str, Any], row: Row) -> None:
        params = {
            k: float(v)
            for k, v in _PARAMETER.findall(row.get("parameters").lower())
            if _number(v) is not None
        }
        start, end, step = (
            params.get("start", 1.0),
            params.get("end", 10.0),
            params.get("step", 1.0),
        )
        low, high = min(start, end), max(start, end)
        whole = all(float(v).is_integer() for v in (low, high, step))
        if whole and step == 1 and 1 < high - low + 1 <= MAX_SCALE_POINTS:
            question.update(type="scale", min=int(low), max=int(high))
            if start > end:
                self.note(row, "a descending range", "shown in ascending order")
            return
        question.update(type="number", min=_plain_number(low), max=_plain_number(high))
        if whole:
            question["integer"] = True
        self.note(
            row,
            f"range {_plain_number(start)}..{_plain_number(end)} step {_plain_number(step)} "
            f"does not fit a scale of at most {MAX_SCALE_POINTS} points",
            "a number question with these bounds",
        )

    def number_bounds(self, question: dict[str, Any], row: Row, integer: bool) -> None:
        source = row.get("constraint")
        if not source:
            return
        low: float | None = None
        high: float | None = None
        for part in re.split(r"\s+and\s+", source.strip()):
            match = _BOUND.match(part)
            if match is None:
                return
            left, op, right = match.group("left"), match.group("op"), match.group("right")
            if (left == ".") == (right == "."):
                return
            if right == ".":
                left, right = right, left
                op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
            value = float(right)
            if op in (">", "<") and not integer:
                return
            if op == ">":
                value += 1
            elif op == "<":
                value -= 1
            if op.startswith(">"):
                low = value if low is None else max(low, value)
            else:
                high = value if high is None else min(high, value)
        if low is not None and high is not None and low > high:
            return
        if low is not None:
            question["min"] = _plain_number(low)
        if high is not None:
            question["max"] = _plain_number(high)
        question["_constraint_done"] = True

    def text_bounds(self, question: dict[str, Any], row: Row) -> None:
        source = row.get("constraint")
        if not source:
            return
        bounds: dict[str, int] = {}
        for part in re.split(r"\s+and\s+", source.strip()):
            match = _LENGTH_BOUND.match(part)
            if match is None:
                return
            op, n = match.group("op"), int(match.group("n"))
            if op == "<=":
                bounds["max_length"] = n
            elif op == "<":
                bounds["max_length"] = n - 1
            elif op == ">=":
                bounds["min_length"] = n
            else:
                bounds["min_length"] = n + 1
        high = bounds.get("max_length", MAX_TEXT_ANSWER)
        if not 0 <= bounds.get("min_length", 0) <= high or not 1 <= high <= MAX_TEXT_ANSWER:
            return
        question.update(bounds)
        question["_constraint_done"] = True

    def count_bounds(self, question: dict[str, Any], row: Row, count: int) -> None:
        source = row.get("constraint")
        if not source:
            return
        bounds: dict[str, int] = {}
        for part in re.split(r"\s+and\s+", source.strip()):
            match = _COUNT_BOUND.match(part)
            if match is None:
                return
            op, n = match.group("op"), int(match.group("n"))
            if op in ("<=", "<", "="):
                bounds["max"] = n if op != "<" else n - 1
            if op in (">=", ">", "="):
                bounds["min"] = n if op != ">" else n + 1
        low, high = bounds.get("min", 0), bounds.get("max", count)
        if not (0 <= low <= high and 1 <= high <= count):
            return
        question.update(bounds)
        question["_constraint_done"] = True
