"""Staff export of a survey's responses: CSV, XLSX or JSON, each with its codebook (SPEC §6).

One row per response, one column per question (see `analysis.codebook` for the layout). Rows are
read in batches from `Store.stream_answer_batches` and written as they come, so memory stays flat
however many responses there are:

- CSV: UTF-8 with a byte-order mark (Excel then reads accents right); the codebook is a second
  file beside it, `<stem>-codebook.csv`.
- XLSX: xlsxwriter in constant-memory mode (each row goes to disk once complete); text is written
  as string cells and numbers as numbers, never as formulas; the codebook is a second sheet.
- JSON: one document written piece by piece: `survey`, `codebook`, then `responses` (one object
  per response, keyed by column name, `null` for an empty cell), then `count`.

Participants appear under a stable pseudonym (`storage.pseudonyms`), never their Telegram id
unless `with_telegram_ids` is asked for (then an extra `telegram_id` column).

In CSV and XLSX a participant's text that starts with a character a spreadsheet would take for
the start of a formula (`= + - @`, tab, CR, LF, and their full-width and small forms) is prefixed
with a single quote (OWASP's advice against CSV injection). Only text is touched: numbers stay
numbers. An e-mail answer is exported as given when it cannot be a formula (`email_cell`).
Files are written through `storage.files.StagedFiles`: mode 0600, under a temporary name renamed
when complete, so a failed export leaves no half-written file behind; an existing file is replaced
only with `overwrite`, and never a protected one (the database, the questionnaire, the program).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from analysis.codebook import (
    CODEBOOK_FIELDS,
    Cell,
    CodebookEntry,
    Column,
    Kind,
    build_columns,
    codebook,
)
from bot.i18n import Words
from dialogs.answers import siren_of
from dialogs.limits import MAX_LIST_OPTIONS
from dialogs.model import QuestionType, Survey
from storage.files import NOTHING_PROTECTED, Protected, StagedFiles
from storage.organisations import submitted_sirens
from storage.pseudonyms import Pseudonymizer, load_pseudonymizer
from storage.repository import AnswerBatch, Store

log = logging.getLogger(__name__)

Format = Literal["csv", "xlsx", "json"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "json")
Progress = Callable[[int, int], None]
"""Called after each batch with (responses written so far, responses expected)."""

DEFAULT_BATCH_SIZE = 2000

FORMULA_PREFIXES = frozenset(
    "=+-@\t\r\n"
    "\uff1d\uff0b\uff0d\uff20"  # fullwidth = + - @
    "\ufe66\ufe62\ufe63"  # small = + -
)
"""Leading characters that make a spreadsheet evaluate a cell (with their full-width and small
forms, which some spreadsheets normalise to the ASCII ones)."""


def neutralize(text: str) -> str:
    """`text`, prefixed with `'` when a spreadsheet would run it as a formula."""
    if text and text[0] in FORMULA_PREFIXES:
        return "'" + text
    return text


_PLAIN_ADDRESS = re.compile(r"[+-][A-Za-z0-9._+-]*@[A-Za-z0-9.-]+")
"""An e-mail address starting with + or - whose other characters are letters, digits and
`. _ + - @` only: a spreadsheet reading it as a formula finds no function, reference or DDE call
(`|`, `!`, `'`, parentheses…) in it, only a #NAME? error."""


def email_cell(value: object) -> Cell:
    """The cell of an e-mail answer (validated by `dialogs.answers.parse_email`).

    Rule: an address is exported exactly as given unless it could run as a formula. It is
    neutralised like any text (`neutralize`) when it starts with `=` (or another trigger such as
    `@` or a full-width form, which a valid address cannot), or when it starts with `+` or `-` and
    holds any character beyond letters, digits and `. _ + - @` (`+cmd|'/C calc'!A0@x.org` is a
    valid address and a DDE call). `+tag@example.org` and `-john@example.org` stay as they are.
    """
    text = value if type(value) is str else str(value)
    if text[:1] in ("+", "-") and _PLAIN_ADDRESS.fullmatch(text):
        return text
    return neutralize(text)


_ZEROS: tuple[int, ...] = (0,) * (MAX_LIST_OPTIONS + 1)
"""As many 0 cells as a multi_choice can have choices (a long list and its "other")."""


IDENTIFIER_COLUMNS = frozenset({"pseudonym", "reference", "telegram_id"})
"""Meta columns that identify a participant (left out of a `public` export)."""


def public_positions(columns: Sequence[Column]) -> list[int]:
    """The columns a public export keeps: neither an identifier nor an e-mail answer."""
    return [
        i
        for i, c in enumerate(columns)
        if c.kind is not Kind.EMAIL
        and not (c.kind is Kind.META and c.name.split("~")[0] in IDENTIFIER_COLUMNS)
    ]


def codebook_path(out: Path) -> Path:
    """Where the codebook of a CSV export goes: `<stem>-codebook.csv` beside it."""
    return out.with_name(f"{out.stem}-codebook.csv")


def output_paths(format: Format, out: Path) -> tuple[Path, ...]:
    """The files an export writes: `out`, and for CSV its codebook."""
    return (out, codebook_path(out)) if format == "csv" else (out,)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    format: Format
    out: Path
    language: str | None = None
    """Of the codebook's texts (default: the survey's first language)."""
    include_drafts: bool = False
    include_preview: bool = False
    with_telegram_ids: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    delimiter: str = ","
    """CSV only (`;` suits a spreadsheet set up for French)."""
    overwrite: bool = False
    """Replace existing files (never a protected one)."""
    protected: Protected = NOTHING_PROTECTED
    public: bool = False
    """Leave out every identifier (pseudonym, reference, Telegram id) and the e-mail answers."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: int
    columns: int
    paths: tuple[Path, ...]
    seconds: float


# -- rows --------------------------------------------------------------------------------------

VALUE_CACHE = 2_000
"""Decoded answers remembered (`RowEncoder._decode`): the option ids, numbers and option lists that
recur fit; a bigger cache only fills with one-off values, and memory then grows with the rows."""

_CODE, _TEXT, _MULTI, _RANK, _CONSENT, _EMAIL, _ORGANISATION = range(7)

_Plan = tuple[int, int, int, dict[str, int], int]
"""Where one question's answer goes in a row: (how, first column, one past the last column,
the column of each option id (multi_choice), the column of the "other" text or -1)."""


def _neutralize_any(value: object) -> Cell:
    if type(value) is str:
        if value and value[0] in FORMULA_PREFIXES:
            return "'" + value
        return value
    return str(value)


def _text_any(value: object) -> Cell:
    return value if type(value) is str else str(value)


class SirenCounts(Mapping[str, int]):
    """SIREN -> submitted responses giving it, as two numpy arrays (the SIRENs as sorted
    integers, their counts): 12 bytes an organisation, where a dict takes over 100."""

    def __init__(self, sirens: Any, counts: Any) -> None:
        self._sirens = sirens
        self._counts = counts

    @classmethod
    def of(cls, sirens: Sequence[int]) -> SirenCounts:
        """The counts of `sirens`, one entry per submitted response (`submitted_sirens`)."""
        import numpy as np

        unique, counts = np.unique(np.asarray(sirens, dtype=np.int64), return_counts=True)
        return cls(unique, counts.astype(np.uint32))

    def _find(self, key: object) -> int:
        if not isinstance(key, str) or not (key.isascii() and key.isdigit()) or len(key) != 9:
            return -1
        import numpy as np

        value = int(key)
        i = int(np.searchsorted(self._sirens, value))
        return i if i < len(self._sirens) and self._sirens[i] == value else -1

    def get(self, key: object, default: Any = None) -> Any:
        i = self._find(key)
        return int(self._counts[i]) if i >= 0 else default

    def __getitem__(self, key: str) -> int:
        i = self._find(key)
        if i < 0:
            raise KeyError(key)
        return int(self._counts[i])

    def __iter__(self) -> Iterator[str]:
        return (f"{int(s):09d}" for s in self._sirens)

    def __len__(self) -> int:
        return len(self._sirens)


class RowEncoder:
    """Turns a `ResponseRow` into the list of cells of its export row.

    The work per row is proportional to the answers it holds, not to the number of columns: the
    row starts empty and each answer fills its columns through a plan computed once.
    """

    def __init__(
        self,
        survey: Survey,
        columns: Sequence[Column],
        pseudonymizer: Pseudonymizer,
        *,
        neutralize_text: bool,
        siren_counts: Mapping[str, int] | None = None,
    ) -> None:
        self.width = len(columns)
        self._siren_counts = siren_counts or {}
        """SIREN -> submitted responses giving it (`storage.organisations`)."""
        self._pseudonym = pseudonymizer.for_key
        self._zone = ZoneInfo(survey.timezone)
        self._text: Callable[[object], Cell] = _neutralize_any if neutralize_text else _text_any
        self._email: Callable[[object], Cell] = email_cell if neutralize_text else _text_any
        names = [c.name for c in columns]
        self._with_telegram_ids = "telegram_id" in names[:2]
        self._plans: dict[str, _Plan] = {}
        for question in survey.questions:
            own = [i for i, c in enumerate(columns) if c.question is question]
            other = [i for i in own if columns[i].kind is Kind.OTHER_TEXT]
            data = [i for i in own if columns[i].kind is not Kind.OTHER_TEXT]
            how = {
                QuestionType.MULTI_CHOICE: _MULTI,
                QuestionType.RANKING: _RANK,
                QuestionType.TEXT: _TEXT,
                QuestionType.EMAIL: _EMAIL,
                QuestionType.CONSENT: _CONSENT,
                QuestionType.ORGANISATION_ID: _ORGANISATION,
            }.get(question.type, _CODE)
            positions = {columns[i].option_id or "": i for i in data}
            self._plans[question.id] = (
                how,
                data[0],
                data[-1] + 1,
                positions,
                other[0] if other else -1,
            )
        self._codes = {
            qid: plan[1] for qid, plan in self._plans.items() if plan[0] == _CODE and plan[4] < 0
        }
        """Questions whose answer goes as it is into one column, without an "other" text."""
        self._unknown: set[tuple[str, str]] = set()
        self._values: dict[str, Any] = {}

    def _times(self, moment: datetime | None) -> tuple[Cell, Cell]:
        if moment is None:
            return None, None
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        return (
            utc.isoformat(timespec="seconds").replace("+00:00", "Z"),
            moment.astimezone(self._zone).isoformat(timespec="seconds"),
        )

    def encode_batch(self, batch: AnswerBatch) -> list[list[Cell]]:
        """The rows of a batch read as plain tuples (`Store.stream_answer_batches`)."""
        width = self.width
        pseudonym = self._pseudonym
        times = self._times
        telegram = self._with_telegram_ids
        by_id: dict[int, list[Cell]] = {}
        for (
            rid,
            telegram_id,
            preview_name,
            status,
            reference,
            language,
            started,
            submitted,
            stored,
            channel,
            web_key,
            source,
            submitted_version,
        ) in batch.responses:
            cells: list[Cell] = [None] * width
            cells[0] = stored or pseudonym(telegram_id, preview_name, web_key)
            i = 1
            if telegram:
                cells[1] = telegram_id
                i = 2
            cells[i] = reference
            cells[i + 1] = status
            cells[i + 2] = language
            cells[i + 3] = channel
            cells[i + 4], cells[i + 5] = times(started)
            cells[i + 6], cells[i + 7] = times(submitted)
            cells[i + 8] = source
            cells[i + 9] = submitted_version
            by_id[rid] = cells
        plans = self._plans
        codes = self._codes
        text = self._text
        value_of = self._values.get
        decode = self._decode
        current = None
        row: list[Cell] | None = None
        for rid, qid, raw, other in batch.answers:
            if rid != current:
                current, row = rid, by_id.get(rid)
            if row is None or raw == "null":
                continue
            value = value_of(raw)
            if value is None:
                value = decode(raw)
            index = codes.get(qid)
            if index is not None:
                row[index] = " ".join(value) if isinstance(value, tuple) else value
                continue
            plan = plans.get(qid)
            if plan is None:
                continue
            how, index, end, positions, other_index = plan
            if how == _CODE:
                row[index] = " ".join(value) if isinstance(value, tuple) else value
            elif how == _TEXT:
                row[index] = text(value)
            elif how == _EMAIL:
                row[index] = self._email(value)
            elif how == _ORGANISATION:
                siren = siren_of(value)
                row[index] = text(value)
                if siren is not None and end - index >= 3:
                    row[index + 1] = siren
                    row[index + 2] = self._siren_counts.get(siren, 0)
            elif how == _MULTI:
                row[index:end] = _ZEROS[: end - index]
                for option_id in value if type(value) is tuple else (str(value),):
                    position = positions.get(option_id)
                    if position is None:
                        self._warn_unknown(qid, option_id)
                    else:
                        row[position] = 1
            elif how == _RANK:
                ranked = value if type(value) is tuple else (str(value),)
                row[index : index + min(len(ranked), end - index)] = ranked[: end - index]
            else:
                row[index] = 1 if value is True else text(value)
            if other_index >= 0 and other is not None:
                row[other_index] = text(other)
        return list(by_id.values())

    def _decode(self, raw: str) -> Any:
        """A JSON value: strings without escapes sliced, whole numbers parsed, the rest by json;
        short ones remembered (option ids, numbers and option lists recur)."""
        if raw[:1] == '"' and "\\" not in raw:
            value: Any = raw[1:-1]
        elif raw.isdigit():
            value = int(raw)
        else:
            value = json.loads(raw)
            if isinstance(value, list):
                value = tuple(str(v) for v in value)
        if len(raw) <= 40:
            if len(self._values) >= VALUE_CACHE:
                self._values.clear()
            self._values[raw] = value
        return value

    def _warn_unknown(self, question_id: str, option_id: str) -> None:
        if (question_id, option_id) not in self._unknown:
            self._unknown.add((question_id, option_id))
            log.warning(
                "question %s: answers hold option %r, which the survey file no longer has "
                "(left out of the export)",
                question_id,
                option_id,
            )


# -- writers -----------------------------------------------------------------------------------


class _Writer(Protocol):
    def write(self, rows: list[list[Cell]]) -> None: ...

    def finish(self) -> None:
        """Complete and close the files (the caller then commits them)."""

    def abort(self) -> None:
        """Close the files after a failure (the caller then discards them)."""


class CsvWriter:
    """Into `files` = (the rows, the codebook)."""

    def __init__(
        self,
        files: tuple[Path, ...],
        columns: Sequence[Column],
        entries: Sequence[CodebookEntry],
        delimiter: str = ",",
    ) -> None:
        with open(files[1], "w", encoding="utf-8-sig", newline="") as handle:
            book = csv.writer(handle, delimiter=delimiter)
            book.writerow(CODEBOOK_FIELDS)
            book.writerows([neutralize(field) for field in entry.as_tuple()] for entry in entries)
        self._file: IO[str] = open(  # noqa: SIM115 (closed in finish/abort)
            files[0], "w", encoding="utf-8-sig", newline=""
        )
        self._csv = csv.writer(self._file, delimiter=delimiter)
        self._csv.writerow([c.name for c in columns])

    def write(self, rows: list[list[Cell]]) -> None:
        self._csv.writerows(rows)

    def finish(self) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()


XLSX_MAX_ROWS = 1_048_576
"""Rows of a spreadsheet (the header included)."""


class ExportTooLarge(ValueError):
    """More responses than the format can hold."""


class XlsxWriter:
    """Two sheets: the responses, then the codebook. Constant memory: rows go to disk in order."""

    def __init__(
        self,
        files: tuple[Path, ...],
        columns: Sequence[Column],
        entries: Sequence[CodebookEntry],
        sheet_names: tuple[str, str] = ("responses", "codebook"),
    ) -> None:
        import xlsxwriter

        self._book = xlsxwriter.Workbook(
            str(files[0]),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        bold = self._book.add_format({"bold": True})
        self._sheet = self._book.add_worksheet(sheet_names[0])
        book = self._book.add_worksheet(sheet_names[1])
        for index, column in enumerate(columns):
            self._sheet.write_string(0, index, column.name, bold)
        self._sheet.freeze_panes(1, 1)
        self._sheet.set_column(0, 0, 16)
        for index, name in enumerate(CODEBOOK_FIELDS):
            book.write_string(0, index, name, bold)
        for row, entry in enumerate(entries, start=1):
            for index, value in enumerate(entry.as_tuple()):
                if value:
                    book.write_string(row, index, neutralize(value))
        book.freeze_panes(1, 1)
        book.set_column(0, 0, 28)
        book.set_column(4, 4, 60)
        book.set_column(6, 7, 40)
        self._row = 1

    def write(self, rows: list[list[Cell]]) -> None:
        if self._row + len(rows) > XLSX_MAX_ROWS:
            raise ExportTooLarge(
                f"an XLSX sheet holds at most {XLSX_MAX_ROWS - 1:,} responses: "
                "export as CSV or JSON instead"
            )
        write_string = self._sheet.write_string
        write_number = self._sheet.write_number
        for cells in rows:
            row = self._row
            for index, value in enumerate(cells):
                if value is None:
                    continue
                if type(value) is str:
                    write_string(row, index, value)
                elif type(value) is int or type(value) is float:
                    write_number(row, index, value)
                else:
                    write_string(row, index, str(value))
            self._row = row + 1

    def finish(self) -> None:
        self._book.close()

    def abort(self) -> None:
        self._book.close()


def _json_meta(survey: Survey, language: str, now: datetime) -> dict[str, Any]:
    return {
        "id": survey.id,
        "title": survey.title.get(language, survey.default_language),
        "timezone": survey.timezone,
        "opens_at": survey.opens_at.isoformat(),
        "closes_at": survey.closes_at.isoformat(),
        "languages": list(survey.languages),
        "exported_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "codebook_language": language,
    }


class JsonWriter:
    """`{"survey": …, "columns": […], "codebook": […], "responses": [{…}, …], "count": N}`."""

    def __init__(
        self,
        files: tuple[Path, ...],
        columns: Sequence[Column],
        entries: Sequence[CodebookEntry],
        meta: dict[str, Any],
    ) -> None:
        self._file: IO[str] = open(  # noqa: SIM115 (closed in finish/abort)
            files[0], "w", encoding="utf-8"
        )
        self._names = [c.name for c in columns]
        self._count = 0
        dumps = self._dumps
        book = ",\n    ".join(
            dumps(dict(zip(CODEBOOK_FIELDS, e.as_tuple(), strict=True))) for e in entries
        )
        self._file.write(
            '{\n  "survey": '
            + dumps(meta)
            + ',\n  "columns": '
            + dumps(self._names)
            + ',\n  "codebook": [\n    '
            + book
            + '\n  ],\n  "responses": ['
        )

    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    _dumps = _encoder.encode

    def write(self, rows: list[list[Cell]]) -> None:
        names = self._names
        dumps = self._dumps
        write = self._file.write
        separator = "\n    " if self._count == 0 else ",\n    "
        for cells in rows:
            write(separator)
            write(dumps(dict(zip(names, cells, strict=True))))
            separator = ",\n    "
        self._count += len(rows)

    def finish(self) -> None:
        self._file.write(f'\n  ],\n  "count": {self._count}\n}}\n')
        self._file.close()

    def abort(self) -> None:
        self._file.close()


# -- the export --------------------------------------------------------------------------------

_SHEET_NAMES = {"fr": ("réponses", "codebook"), "en": ("responses", "codebook")}


def _statuses(include_drafts: bool, include_preview: bool) -> tuple[str, ...]:
    return (
        ("submitted",)
        + (("draft",) if include_drafts else ())
        + (("preview",) if include_preview else ())
    )


@contextlib.contextmanager
def collect_between_batches() -> Iterator[Callable[[], None]]:
    """Pause the cyclic garbage collector while batches are processed; collect between them.

    An export allocates millions of short-lived objects (rows, answers, cells). With the collector
    on, it runs every 700 allocations and, now and then, walks every object of the process: a
    third of the export's time. The collector runs between batches instead (call the function
    yielded: the young generations every 10 batches, all of them every 100), so cyclic garbage
    never outlives a few batches and memory stays flat. Freezing the objects that exist before
    is the entry point's policy, not this function's (`channels.heap`): the serving bot froze its
    start-up objects once, the staff commands freeze theirs before they start, and an export
    inside the bot (/export) must not undo that (a `gc.unfreeze()` here once did).
    """
    enabled = gc.isenabled()
    gc.disable()
    batches = 0

    def between_batches() -> None:
        nonlocal batches
        batches += 1
        if batches % 10 == 0:
            gc.collect(2 if batches % 100 == 0 else 1)

    try:
        yield between_batches
    finally:
        if enabled:
            gc.enable()


async def expected_rows(store: Store, include_drafts: bool, include_preview: bool) -> int:
    """How many responses an export with these options will hold (for a progress bar)."""
    counts = await store.counts_by_status()
    return sum(counts.get(status, 0) for status in _statuses(include_drafts, include_preview))


async def export_responses(
    store: Store,
    options: ExportOptions,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the export described by `options`; returns what was written."""
    started = time.perf_counter()
    survey = store.survey
    language = options.language or survey.default_language
    if language not in survey.languages:
        raise ValueError(
            f"language {language!r} is not one of the survey's ({', '.join(survey.languages)})"
        )
    if options.format not in FORMATS:
        raise ValueError(f"unknown export format {options.format!r}")
    every_column = build_columns(survey, with_telegram_ids=options.with_telegram_ids)
    keep = public_positions(every_column) if options.public else None
    columns = every_column if keep is None else tuple(every_column[i] for i in keep)
    entries = codebook(survey, columns, language, Words(language, "codebook"))
    encoder = RowEncoder(
        survey,
        every_column,
        await load_pseudonymizer(store),
        neutralize_text=options.format != "json",
        siren_counts=SirenCounts.of(await submitted_sirens(store)),
    )
    total = (
        await expected_rows(store, options.include_drafts, options.include_preview)
        if progress is not None
        else 0
    )
    staged = StagedFiles(
        *output_paths(options.format, options.out),
        overwrite=options.overwrite,
        protected=options.protected,
    )
    files = staged.temporary
    writer: _Writer | None = None
    written = 0
    try:
        if options.format == "csv":
            writer = CsvWriter(files, columns, entries, options.delimiter)
        elif options.format == "xlsx":
            names = _SHEET_NAMES.get(language, _SHEET_NAMES["en"])
            writer = XlsxWriter(files, columns, entries, names)
        else:
            meta = _json_meta(survey, language, now or datetime.now(UTC))
            writer = JsonWriter(files, columns, entries, meta)
        if progress is not None:
            progress(0, total)
        batches = store.stream_answer_batches(
            options.batch_size, options.include_drafts, options.include_preview
        )
        with collect_between_batches() as between_batches:
            async for batch in batches:
                rows = encoder.encode_batch(batch)
                if keep is not None:
                    rows = [[row[i] for i in keep] for row in rows]
                writer.write(rows)
                written += len(batch.responses)
                del batch
                between_batches()
                if progress is not None:
                    progress(written, max(total, written))
        writer.finish()
        paths = staged.commit()
    except BaseException:
        if writer is not None:
            try:
                writer.abort()
            except Exception:  # the first failure is the one to report; this one is logged
                log.exception("export to %s: closing the files after a failure", options.out)
        staged.discard()
        raise
    seconds = time.perf_counter() - started
    log.info(
        "exported %d responses of survey %s as %s to %s in %.1f s",
        written,
        survey.id,
        options.format,
        ", ".join(str(p) for p in paths),
        seconds,
    )
    return ExportResult(written, len(columns), paths, seconds)
