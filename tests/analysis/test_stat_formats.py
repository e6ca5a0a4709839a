"""SPSS, Stata and Parquet exports read back (pyreadstat, pyarrow) with every label, type and
missing value as written, and the same answers as the CSV export."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import synthetic_responses
from bot.export import ExportOptions, export_responses
from bot.stat_formats import SKIPPED, export_stat_file, variable_names
from dialogs import Survey
from storage.repository import Store
from tests.export.helpers import FULL, SHORT, read_csv, response

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,27}$")


async def seed(store: Store, survey: Survey) -> None:
    rows = [
        response(survey, 1, FULL, reference="R-FULL"),
        response(survey, 2, SHORT, reference="R-SHORT", language="en"),
    ]
    rows += list(synthetic_responses(survey, 120, seed=4, first_id=9_000_000))
    await store.bulk_insert_responses(rows)


def test_names_are_valid_for_spss_and_stata() -> None:
    names = variable_names(
        ["pseudonym", "priorities.1", "services_used.other", "1st", "with", "a" * 40, "a" * 41,
         "Région.é", "by", "by"]
    )  # fmt: skip
    assert all(NAME.match(n) for n in names), names
    assert len({n.lower() for n in names}) == len(names)
    assert names[1] == "priorities_1" and names[3] == "v_1st" and names[4] == "v_with"
    assert names[7] == "Region_e"


async def csv_rows(store: Store, tmp_path: Path) -> dict[str, dict[str, str]]:
    out = tmp_path / "answers.csv"
    await export_responses(store, ExportOptions(format="csv", out=out))
    return {row["reference"]: row for row in read_csv(out)}


@pytest.mark.parametrize("fmt", ["sav", "dta"])
async def test_spss_and_stata_read_back_with_their_labels(
    store: Store, survey: Survey, tmp_path: Path, fmt: str
) -> None:
    import pyreadstat

    await seed(store, survey)
    out = tmp_path / f"answers.{fmt}"
    result = await export_stat_file(store, out, fmt, language="fr")
    assert result.rows == 122
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    frame, meta = reader(str(out), user_missing=True)
    assert len(frame) == 122
    assert all(NAME.match(n) for n in meta.column_names)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    limit = 80 if fmt == "dta" else 255
    actor = survey.by_id["actor_type"]
    assert labels["actor_type"] == actor.text.get("fr")[:limit]
    assert labels["priorities_1"].startswith(survey.by_id["priorities"].text.get("fr")[:20])
    values = meta.variable_value_labels
    # every variable's label and value labels, as laid out
    from analysis.codebook import build_columns
    from bot.stat_formats import layout

    for variable in layout(survey, build_columns(survey), "fr"):
        expected = variable.label if fmt == "sav" else variable.label[:80]
        if len(variable.label) > limit:
            assert labels[variable.name][:60] == variable.label[:60], variable.name
        else:
            assert labels[variable.name] == expected, variable.name
        written = {
            code: label
            for code, label in variable.value_labels.items()
            if not (fmt == "dta" and code == SKIPPED)
        }
        assert values.get(variable.name, {}) == written, variable.name
        if variable.kind in ("string", "time"):  # times are ISO 8601 text in SPSS and Stata
            assert meta.readstat_variable_types[variable.name] == "string", variable.name
        else:
            assert meta.readstat_variable_types[variable.name] != "string", variable.name
    assert values["actor_type"] == {
        i: o.label.get("fr") or "Autre" for i, o in enumerate(actor.choices(), start=1)
    }
    assert values["services_used_eu_projects"][1] == "cochée"
    assert meta.readstat_variable_types["comments"] == "string"
    assert meta.readstat_variable_types["actor_type"] != "string"

    rows = await csv_rows(store, tmp_path)
    by_reference = {row["reference"]: row for row in frame.to_dict("records")}
    full = by_reference["R-FULL"]
    codes = {o.id: i for i, o in enumerate(actor.choices(), start=1)}
    assert full["actor_type"] == codes["other"]
    assert full["actor_type_other_text"] == FULL["actor_type"].other
    assert full["comments"] == FULL["comments"].value
    assert full["member_since"] == 2012 and full["satisfaction_overall"] == 2
    assert full["dissatisfaction_red_tape"] == 1 and full["dissatisfaction_fee_too_high"] == 0
    # a skipped optional question is the declared missing value; one not asked is missing
    if fmt == "sav":
        assert full["fee_acceptable"] == SKIPPED
        assert meta.missing_ranges["fee_acceptable"] == [{"lo": SKIPPED, "hi": SKIPPED}]
        assert values["fee_acceptable"][SKIPPED] == "passée (facultative)"
    else:
        assert full["fee_acceptable"] == "a"
        assert meta.missing_user_values["fee_acceptable"] == ["a"]
    short = by_reference["R-SHORT"]
    assert short["member_since"] != short["member_since"]  # NaN: not asked
    assert short["company_rd"] == 1
    # every coded answer as the CSV export gives it
    for reference, record in by_reference.items():
        row = rows[reference]
        for option in actor.choices():
            assert (record["actor_type"] == codes[option.id]) == (row["actor_type"] == option.id)


async def test_parquet_reads_back_typed_with_its_codebook(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    await seed(store, survey)
    out = tmp_path / "answers.parquet"
    await export_stat_file(store, out, "parquet", language="en", batch_size=50)
    table = pq.read_table(out)
    assert table.num_rows == 122
    assert pq.ParquetFile(out).metadata.num_row_groups == 3  # streamed, one per batch
    schema = table.schema
    assert pa.types.is_dictionary(schema.field("actor_type").type)
    assert schema.field("services_used_eu_projects").type == pa.int8()
    assert schema.field("member_since").type == pa.int64()
    assert schema.field("satisfaction_overall").type == pa.int64()
    assert pa.types.is_timestamp(schema.field("submitted_at_utc").type)
    assert schema.field("comments").type == pa.string()
    label = schema.field("actor_type").metadata[b"label"].decode()
    assert label == survey.by_id["actor_type"].text.get("en")
    book = json.loads(schema.metadata[b"consultbot.codebook"])
    assert {"column", "question_id", "option_id", "label"} <= set(book[0])
    assert any(e["column"] == "actor_type" and e["option_id"] == "research" for e in book)

    rows = await csv_rows(store, tmp_path)
    records: list[dict[str, Any]] = table.to_pylist()
    names = json.loads(schema.metadata[b"consultbot.names"])
    for record in records:
        row = rows[record["reference"]]
        for name, value in record.items():
            column = names[name]
            cell = row[column]
            if name.endswith("_utc"):
                expected = cell.replace("Z", "+00:00")
                assert (value.isoformat() if value else "") == expected, name
            elif value is None:
                assert cell == "", (name, cell)
            else:
                assert str(value) == cell.lstrip("'") or cell == f"'{value}", (name, value, cell)


async def test_public_statistics_files_hold_no_identifier(
    store: Store, survey: Survey, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    await seed(store, survey)
    out = tmp_path / "public.parquet"
    await export_stat_file(store, out, "parquet", public=True)
    names = set(pq.read_schema(out).names)
    assert not {"pseudonym", "reference", "telegram_id", "contact_email"} & names
    assert "actor_type" in names


async def test_the_command_line_writes_each_format(
    store: Store, survey: Survey, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.analysis.test_outputs import cli

    await seed(store, survey)
    for fmt in ("sav", "dta", "parquet"):
        out = tmp_path / f"answers.{fmt}"
        printed = await cli(["export", "--out", str(out), "--lang", "en"], url, capsys)
        assert "exported 122 responses (130 variables)" in printed and out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_long_texts_and_every_missing_kind_read_back(tmp_path: Path, fmt: str) -> None:
    """Texts past SPSS's 255 bytes (very long strings) and Stata's 2,045 (strL), accents cut
    nowhere, numbers beyond the compressed range, skipped and not asked: all read back as written,
    over several batches."""
    import pyreadstat

    from bot.stat_writers import Field, Spool, write_dta, write_sav

    fields = [
        Field("code", "Une question", "code", {1: "oui", 2: "non", SKIPPED: "passée"}, True),
        Field("amount", "Un montant", "number", {}, True),
        Field("flag", "Cochée ?", "flag", {0: "non cochée", 1: "cochée"}, False),
        Field("comment", "Un commentaire", "string", {}, False),
        Field("short", "Court", "string", {}, False),
    ]
    if fmt == "dta":
        fields = [
            Field(f.name, f.label, f.kind, {c: t for c, t in f.value_labels.items() if c != -1},
                  f.skippable)
            for f in fields
        ]  # fmt: skip
    long_text = "é" * 1500 + " fin"  # 3,004 bytes
    rows = [
        (1, 2.5, 1, long_text, "a"),
        (2, None, 0, "", None),
        (SKIPPED, SKIPPED, 1, "x" * 256, "b"),
        (None, 123456.789, None, "naïve " * 60, "c"),
        (2, 152.0, 0, "z", ""),
    ]
    spool = Spool(fields, tmp_path)
    for start in (0, 2, 4):  # three batches
        batch = rows[start : start + 2]
        spool.add([[row[j] for row in batch] for j in range(len(fields))])
    out = tmp_path / f"long.{fmt}"
    if fmt == "sav":
        write_sav(out, spool, "Titre é", ["nominal", "scale", "nominal", "nominal", "nominal"])
        frame, meta = pyreadstat.read_sav(str(out), user_missing=True)
    else:
        write_dta(out, spool, "Titre é")
        frame, meta = pyreadstat.read_dta(str(out), user_missing=True)
    spool.close()
    naive = "naïve " * 60
    if fmt == "sav":  # SPSS pads strings with spaces: trailing ones do not come back
        naive = naive.rstrip()
    assert list(frame["comment"]) == [long_text, "", "x" * 256, naive, "z"]
    assert list(frame["short"])[:2] == ["a", ""]
    assert meta.column_labels == [f.label for f in fields]
    assert meta.variable_value_labels["code"] == fields[0].value_labels
    assert meta.variable_value_labels["flag"] == {0: "non cochée", 1: "cochée"}
    codes, amounts = list(frame["code"]), list(frame["amount"])
    assert codes[:2] == [1, 2] and codes[4] == 2 and codes[3] != codes[3]
    assert amounts[0] == 2.5 and amounts[1] != amounts[1]
    assert amounts[3] == 123456.789 and amounts[4] == 152.0
    if fmt == "sav":
        assert codes[2] == SKIPPED and amounts[2] == SKIPPED
        assert meta.missing_ranges["code"] == [{"lo": SKIPPED, "hi": SKIPPED}]
        assert meta.readstat_variable_types["comment"] == "string"
    else:
        assert codes[2] == "a" and amounts[2] == "a"
    assert meta.number_rows == 5


async def test_the_streamed_siren_counts_are_the_organisations_counts(
    store: Store, survey: Survey
) -> None:
    """The exports' `siren_submitted` column reads the counts as a stream: the same as `consultbot
    stats` gives."""
    from bot.export import SirenCounts
    from storage.organisations import find_organisations, submitted_sirens

    await seed(store, survey)
    counts = SirenCounts.of(await submitted_sirens(store))
    expected = (await find_organisations(store)).counts
    assert counts and dict(counts) == expected
    assert all(counts.get(siren, 0) == n for siren, n in expected.items())
    absent = next(s for s in ("999999999", "123456789", "000000001") if s not in expected)
    assert counts.get(absent, 0) == 0 and counts.get("not a siren", 0) == 0
