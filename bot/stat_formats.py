"""Exports for statistics packages: SPSS (.sav), Stata (.dta) and Parquet.

    consultbot export --format sav|dta|parquet --out responses.sav [--lang fr|en] [--public]

The same columns as the CSV export (`analysis.codebook`), typed for each tool:

- single choice and ranks: numeric codes 1, 2, … in the options' order, with value labels (the
  option labels in `--lang`); Parquet keeps the option ids, dictionary-encoded;
- multi choice: one 0/1 variable per option (labelled "not ticked"/"ticked");
- scale and number: numbers (whole numbers as integers); consent: 1 = accepted;
- free texts, e-mail, pseudonym, reference, status, language, times: strings (Parquet: the UTC
  times as timestamps).

Missing values: a question not asked (or not answered) is system-missing (Parquet: null). An
optional question the participant skipped is `SKIPPED` (-1), declared user-missing and labelled
in SPSS, written as the extended missing value `.a` in Stata; Parquet has null there too.
Variable labels are the question texts (with the option or rank), cut to what each tool takes
(SPSS 255 bytes, Stata 80 characters). Names are made valid for both tools (`variable_names`).

Every format is streamed: Parquet by row groups (one per batch), the codebook in the file's
metadata (`consultbot.codebook`, JSON) and each column's label in its field metadata; SPSS and
Stata by `bot.stat_writers` (the batches spooled to a temporary file, whose longest texts give the
string widths, then written out batch by batch), so memory stays flat as the responses grow.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analysis.codebook import CODEBOOK_FIELDS, Column, Kind, build_columns, codebook
from bot.export import (
    ExportResult,
    RowEncoder,
    SirenCounts,
    collect_between_batches,
    expected_rows,
    public_positions,
)
from bot.i18n import Words
from bot.stat_writers import Field, Spool, staged, write_dta, write_sav
from bot.tables import option_label
from dialogs.limits import OTHER_OPTION_ID
from dialogs.model import QuestionType, Survey
from storage.organisations import submitted_sirens
from storage.pseudonyms import load_pseudonymizer
from storage.repository import AnswerBatch, Store

log = logging.getLogger(__name__)

STAT_FORMATS = ("sav", "dta", "parquet")
SKIPPED = -1
"""The code of an optional question the participant skipped (numeric variables)."""
STATA_SKIPPED = "a"
"""Stata writes it as the extended missing value .a."""

_RESERVED = frozenset(
    [
        "all",
        "and",
        "by",
        "eq",
        "ge",
        "gt",
        "le",
        "lt",
        "ne",
        "not",
        "or",
        "to",
        "with",
        "_all",
        "_b",
        "byte",
        "_coef",
        "_cons",
        "double",
        "float",
        "if",
        "in",
        "int",
        "long",
        "_n",
        "_pi",
        "_pred",
        "_rc",
        "_skip",
        "strl",
        "using",
    ]
)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


MAX_NAME = 28
"""Stata takes 32 characters; a few are left for the suffix that keeps names unique."""


def variable_names(names: Sequence[str]) -> list[str]:
    """Names valid in SPSS and in Stata, unique regardless of case: letters, digits and `_`, a
    letter first, at most `MAX_NAME` characters, no reserved word (`qid.option` → `qid_option`).
    """
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", _ascii(name)).strip("_") or "v"
        if not base[0].isalpha():
            base = "v_" + base
        if base.lower() in _RESERVED:
            base = "v_" + base
        base = base[:MAX_NAME]
        unique, n = base, 1
        while unique.lower() in used:
            n += 1
            suffix = f"_{n}"
            unique = base[: MAX_NAME - len(suffix)] + suffix
        used.add(unique.lower())
        out.append(unique)
    return out


def _cut(text: str, limit: int, *, as_bytes: bool = False) -> str:
    if not as_bytes:
        return text if len(text) <= limit else text[: limit - 1] + "…"
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "…"


@dataclass(frozen=True, slots=True)
class Variable:
    """One column as the statistics packages see it."""

    column: Column
    name: str
    label: str
    kind: str
    """"code" (value-labelled integer), "flag" (0/1), "integer", "number", "string" or "time"."""
    codes: dict[str, int]
    """code variables: option id → code."""
    value_labels: dict[int, str]
    skippable: bool


def layout(survey: Survey, columns: Sequence[Column], language: str) -> list[Variable]:
    """The variables of an export of `columns`, labelled in `language`."""
    words = Words(language, "stat")
    fallback = survey.default_language
    names = variable_names([c.name for c in columns])
    book = {
        e.column: e for e in codebook(survey, tuple(columns), language, Words(language, "codebook"))
    }
    variables = []
    for column, name in zip(columns, names, strict=True):
        question = column.question
        entry = book.get(column.name)
        if question is None:
            kind = "time" if column.name.endswith("_utc") else "string"
            label = entry.values if entry is not None else column.name
            variables.append(Variable(column, name, label, kind, {}, {}, False))
            continue
        text = question.text.get(language, fallback)
        codes: dict[str, int] = {}
        labels: dict[int, str] = {}
        skippable = not question.required and question.type is not QuestionType.CONSENT
        kind = "string"
        if column.kind in (Kind.CHOICE, Kind.RANK):
            kind = "code"
            for index, option in enumerate(question.choices(), start=1):
                codes[option.id] = index
                labels[index] = option_label(question, option.id, language, fallback)
            if column.kind is Kind.RANK:
                text = f"{text} ({words['rank']} {column.rank})"
        elif column.kind is Kind.OPTION:
            kind = "flag"
            labels = {0: words["not_ticked"], 1: words["ticked"]}
            assert column.option_id is not None
            text = f"{text}: {option_label(question, column.option_id, language, fallback)}"
        elif column.kind is Kind.SCALE:
            kind = "integer"
            points = question.scale_points()
            if question.min_label:
                labels[points.start] = question.min_label.get(language, fallback)
            if question.max_label:
                labels[points.stop - 1] = question.max_label.get(language, fallback)
        elif column.kind is Kind.NUMBER:
            kind = "integer" if question.integer else "number"
        elif column.kind is Kind.CONSENT:
            kind = "flag"
            labels = {1: question.accept_label.get(language, fallback) or words["accepted"]}
        elif column.kind is Kind.OTHER_TEXT:
            text = entry.question if entry is not None else text
            skippable = False
        if skippable and kind != "string":
            labels[SKIPPED] = words["skipped"]
        variables.append(Variable(column, name, text, kind, codes, labels, skippable))
    return variables


class _Encoder:
    """Export rows (`RowEncoder`) → typed columns, with the skipped answers marked."""

    def __init__(self, variables: Sequence[Variable], positions: Sequence[int] | None) -> None:
        self.variables = variables
        self.positions = list(positions) if positions is not None else list(range(len(variables)))
        self._unknown: set[tuple[str, str]] = set()
        self._lookups = [{**v.codes, None: None, "": None} for v in variables]
        self.skippable: dict[str, list[int]] = {}
        for j, variable in enumerate(variables):
            question = variable.column.question
            if variable.skippable and question is not None and variable.kind != "string":
                self.skippable.setdefault(question.id, []).append(j)

    def columns(self, batch: AnswerBatch, rows: list[list[Any]], *, codes: bool) -> list[list[Any]]:
        """One list of values per variable; `codes`: choices as numbers (else option ids)."""
        values: list[list[Any]] = []
        by_column = list(zip(*rows, strict=True)) if rows else []
        for j, variable in enumerate(self.variables):
            index = self.positions[j]
            cells: Any = by_column[index] if rows else []
            kind = variable.kind
            if kind == "code" and codes:
                lookup = self._lookups[j]
                coded = list(map(lookup.get, cells))
                if None in coded:  # missing answers, or options no longer in the file
                    for i, cell in enumerate(cells):
                        if coded[i] is None and cell is not None and cell != "":
                            coded[i] = variable.codes.get(str(cell))
                            if coded[i] is None:
                                self._warn(variable, str(cell))
                cells = coded
            elif kind in ("flag", "integer", "number") and codes and "" not in cells:
                cells = list(cells)  # numbers or None, as the SPSS and Stata writers take them
            elif kind == "code":
                cells = [None if c is None or c == "" else str(c) for c in cells]
            elif kind in ("flag", "integer"):
                cells = [None if c is None or c == "" else int(c) for c in cells]
            elif kind == "number":
                cells = [None if c is None or c == "" else float(c) for c in cells]
            else:
                cells = [None if c is None else str(c) for c in cells]
            values.append(cells)
        if codes and self.skippable:
            at = {response[0]: i for i, response in enumerate(batch.responses)}
            for rid, qid, raw, _ in batch.answers:
                if raw == "null" and qid in self.skippable and rid in at:
                    for j in self.skippable[qid]:
                        values[j][at[rid]] = SKIPPED
        return values

    def _warn(self, variable: Variable, option_id: str) -> None:
        key = (variable.name, option_id)
        if key not in self._unknown and option_id != OTHER_OPTION_ID:
            self._unknown.add(key)
            log.warning(
                "%s: option %r is no longer in the survey file (left missing)",
                variable.name,
                option_id,
            )


# -- Parquet -------------------------------------------------------------------------------------


def _arrow_type(variable: Variable, survey_question_integer: bool = False) -> Any:
    import pyarrow as pa

    kind = variable.kind
    if kind == "code":
        return pa.dictionary(pa.int32(), pa.string())
    if kind == "flag":
        return pa.int8()
    if kind == "integer":
        return pa.int64()
    if kind == "number":
        return pa.float64()
    if kind == "time":
        return pa.timestamp("s", tz="UTC")
    return pa.string()


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class ParquetWriter:
    def __init__(
        self, out: Path, variables: Sequence[Variable], metadata: dict[bytes, bytes]
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.out = out
        self.temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        fields = [
            pa.field(
                v.name,
                _arrow_type(v),
                metadata={
                    b"label": v.label.encode("utf-8"),
                    b"column": v.column.name.encode("utf-8"),
                },
            )
            for v in variables
        ]
        self.schema = pa.schema(fields, metadata=metadata)
        self.variables = variables
        out.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(str(self.temporary), self.schema, compression="zstd")

    def write(self, columns: list[list[Any]]) -> None:
        pa = self._pa
        arrays = []
        for variable, values, field in zip(self.variables, columns, self.schema, strict=True):
            if variable.kind == "code":
                arrays.append(pa.array(values, type=pa.string()).dictionary_encode())
            elif variable.kind == "time":
                arrays.append(pa.array([_parse_time(v) for v in values], type=field.type))
            else:
                arrays.append(pa.array(values, type=field.type))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def finish(self) -> None:
        self._writer.close()
        os.replace(self.temporary, self.out)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.temporary.unlink(missing_ok=True)


# -- SPSS and Stata ------------------------------------------------------------------------------


def _fields(variables: Sequence[Variable], stata: bool) -> list[Field]:
    return [
        Field(
            v.name,
            _cut(v.label, 80) if stata else v.label,
            v.kind,
            {
                code: _cut(label, 32000) if stata else label
                for code, label in v.value_labels.items()
                if not (stata and code == SKIPPED)
            },
            v.skippable and v.kind != "string",
        )
        for v in variables
    ]


def _write_stat_file(
    fmt: str, out: Path, spool: Spool, variables: Sequence[Variable], title: str
) -> None:
    temporary = staged(out)
    try:
        if fmt == "dta":
            write_dta(temporary, spool, _cut(title, 80))
        else:
            measures = [
                "nominal" if v.kind in ("code", "flag", "string", "time") else "scale"
                for v in variables
            ]
            write_sav(temporary, spool, title, measures)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# -- the export ----------------------------------------------------------------------------------


async def export_stat_file(
    store: Store,
    out: Path,
    fmt: str,
    *,
    language: str | None = None,
    include_drafts: bool = False,
    include_preview: bool = False,
    with_telegram_ids: bool = False,
    public: bool = False,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write an SPSS, Stata or Parquet file of the responses."""
    if fmt not in STAT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    started = time.perf_counter()
    survey = store.survey
    language = language or survey.default_language
    if language not in survey.languages:
        raise ValueError(
            f"language {language!r} is not one of the survey's ({', '.join(survey.languages)})"
        )
    every_column = build_columns(survey, with_telegram_ids=with_telegram_ids)
    keep = public_positions(every_column) if public else None
    columns = every_column if keep is None else tuple(every_column[i] for i in keep)
    variables = layout(survey, columns, language)
    rows_encoder = RowEncoder(
        survey,
        every_column,
        await load_pseudonymizer(store),
        neutralize_text=False,
        siren_counts=SirenCounts.of(await submitted_sirens(store)),
    )
    encoder = _Encoder(variables, keep)
    total = await expected_rows(store, include_drafts, include_preview)
    title = survey.title.get(language, survey.default_language)
    parquet: ParquetWriter | None = None
    spool: Spool | None = None
    if fmt == "parquet":
        book = [
            dict(zip(CODEBOOK_FIELDS, e.as_tuple(), strict=True))
            for e in codebook(survey, columns, language, Words(language, "codebook"))
        ]
        metadata = {
            b"consultbot.codebook": json.dumps(book, ensure_ascii=False).encode("utf-8"),
            b"consultbot.survey": json.dumps(
                {"id": survey.id, "title": title, "language": language}, ensure_ascii=False
            ).encode("utf-8"),
            b"consultbot.names": json.dumps(
                {v.name: v.column.name for v in variables}, ensure_ascii=False
            ).encode("utf-8"),
        }
        parquet = ParquetWriter(out, variables, metadata)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        spool = Spool(_fields(variables, stata=fmt == "dta"), out.parent)
    written = 0
    try:
        if progress is not None:
            progress(0, total)
        batches = store.stream_answer_batches(batch_size, include_drafts, include_preview)
        with collect_between_batches() as between_batches:
            async for batch in batches:
                rows = rows_encoder.encode_batch(batch)
                if not rows:
                    continue
                values = encoder.columns(batch, rows, codes=spool is not None)
                if parquet is not None:
                    parquet.write(values)
                else:
                    assert spool is not None
                    spool.add(values)
                written += len(rows)
                del batch, rows, values
                between_batches()
                if progress is not None:
                    progress(written, max(total, written))
        if parquet is not None:
            parquet.finish()
        else:
            assert spool is not None
            del rows_encoder, encoder  # their caches: room for the writing pass
            gc.collect()
            _write_stat_file(fmt, out, spool, variables, title)
    except BaseException:
        if parquet is not None:
            parquet.abort()
        raise
    finally:
        if spool is not None:
            spool.close()
    seconds = time.perf_counter() - started
    log.info(
        "exported %d responses of survey %s as %s to %s in %.1f s",
        written,
        survey.id,
        fmt,
        out,
        seconds,
    )
    return ExportResult(written, len(columns), (out,), seconds)
