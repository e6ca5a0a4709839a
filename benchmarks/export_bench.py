"""Benchmark: CSV, XLSX and JSON exports of N submitted responses, beside a floor, with peak memory.

    python -m benchmarks.export_bench --n 10000 --n 100000          # 3 runs each (medians)
    python -m benchmarks.export_bench --n 100000 --runs 1 --formats csv

For each N, a SQLite database of N synthetic, valid responses of the bundled questionnaire is
generated once (`benchmarks.generate`, kept in `--workdir` and reused while it holds exactly N
submitted responses). Then, round after round, each measure runs in a fresh subprocess, so that
one cannot warm or bloat another: its peak memory is the child's own maximum resident set size
(`os.wait4`), its time is measured inside the child around the work only (imports excluded).

- floor: the same answers read with one plain SQL select (`sqlite3`, answers joined to their
  submitted responses, in response order without a sort: `FLOOR_SQL`) and written with Python's
  `csv` module, one line per answer: the least any CSV export of this data costs in Python.
- csv, xlsx, json: `bot.export.export_responses`, what `consultbot export` runs.
- sav, dta, parquet (`--formats sav dta parquet`): `bot.stat_formats.export_stat_file`, the
  SPSS, Stata and Parquet exports: targets 3x the floor and peak memory within 10 % across N.

The table gives, per format and N, the median seconds over the runs, the ratio to the median
floor of the same N, and the largest peak RSS. The targets (at the largest N): CSV at most 2x the
floor, XLSX within 90 s, every peak under 300 MB and no more than 5 MB above the smallest N's.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVEY = ROOT / "surveys" / "poles-de-competitivite.yaml"
MEASURES = ("floor", "csv", "xlsx", "json", "sav", "dta", "parquet")
DEFAULT_FORMATS = ("csv", "xlsx", "json")
STAT_FORMATS = ("sav", "dta", "parquet")

FLOOR_SQL = (
    "SELECT a.response_id, a.question_id, a.value, a.other FROM responses r "
    "JOIN answers a ON a.response_id = r.id "
    "WHERE r.survey_id = ? AND r.status = 'submitted' "
    "ORDER BY r.id, a.question_id"
)
"""Ordered by the responses' id, which SQLite reads in that order from its index (the answers by
their primary key): no sort. Ordered by `a.response_id` it sorted every answer in a temporary
B-tree, which the exports (reading by ranges of ids) never pay: a floor inflated as N grows."""

CSV_RATIO_TARGET = 2.0
STAT_RATIO_TARGET = 3.0
"""SPSS, Stata and Parquet: at most 3x the floor."""
STAT_GROWTH_TARGET = 0.10
"""Their peak memory from the smallest N to the largest: within 10 %."""
XLSX_SECONDS_TARGET = 90.0
PEAK_MB_TARGET = 300.0
GROWTH_MB_TARGET = 5.0


# -- children ----------------------------------------------------------------------------------


def _survey_id() -> str:
    from bot.survey_file import load_survey_file

    return load_survey_file(SURVEY).survey.id


def child_floor(database: Path, out: Path) -> dict[str, float]:
    survey_id = _survey_id()
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    try:
        with open(out, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("response_id", "question_id", "value", "other"))
            writer.writerows(connection.execute(FLOOR_SQL, (survey_id,)))
    finally:
        connection.close()
    return {"seconds": time.perf_counter() - started}


async def _child_export(database: Path, out: Path, fmt: str) -> dict[str, float]:
    from bot.export import FORMATS, ExportOptions, export_responses
    from bot.survey_file import load_survey_file
    from storage.database import Database
    from storage.repository import Store

    loaded = load_survey_file(SURVEY)
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        started = time.perf_counter()
        if fmt in STAT_FORMATS:
            from bot.stat_formats import export_stat_file

            result = await export_stat_file(store, out, fmt)
        else:
            chosen = next(f for f in FORMATS if f == fmt)
            result = await export_responses(
                store, ExportOptions(format=chosen, out=out, overwrite=True)
            )
        seconds = time.perf_counter() - started
    finally:
        await db.close()
    return {"seconds": seconds, "rows": result.rows}


def run_child(measure: str, database: Path, out: Path) -> None:
    if measure == "floor":
        report = child_floor(database, out)
    else:
        report = asyncio.run(_child_export(database, out, measure))
    sys.stdout.write(json.dumps(report) + "\n")


# -- the parent --------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    peak_mb: float


def measure_once(measure: str, database: Path, workdir: Path) -> Sample:
    """One measure in a fresh interpreter; its own peak RSS from wait4."""
    suffix = "csv" if measure == "floor" else measure
    out = workdir / f"out-{measure}.{suffix}"
    command = [
        sys.executable,
        "-m",
        "benchmarks.export_bench",
        "--child",
        measure,
        "--database",
        str(database),
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{measure} on {database} failed (exit {process.returncode})")
    for leftover in workdir.glob("out-*"):
        leftover.unlink()
    report = json.loads(output.decode().strip().splitlines()[-1])
    return Sample(report["seconds"], usage.ru_maxrss / 1024)  # ru_maxrss: KiB on Linux


def submitted_count(database: Path) -> int:
    if not database.exists():
        return -1
    try:
        connection = sqlite3.connect(database)
        try:
            row = connection.execute(
                "SELECT count(*) FROM responses WHERE status = 'submitted'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return -1
    return int(row[0])


def ensure_database(n: int, workdir: Path) -> Path:
    database = workdir / f"export-{n}.db"
    if submitted_count(database) == n:
        return database
    for path in workdir.glob(f"export-{n}.db*"):
        path.unlink()
    sys.stderr.write(f"generating {n:,} responses into {database}…\n")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.generate",
            "--n",
            str(n),
            "--database-url",
            f"sqlite+aiosqlite:///{database}",
        ],
        check=True,
        cwd=ROOT,
    )
    sys.stderr.write(f"generated in {time.perf_counter() - started:.0f} s\n")
    return database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.export_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, action="append", help="responses (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measure (medians)")
    parser.add_argument(
        "--runs-large", type=int, default=None, help="runs when N > 10,000 (default: --runs)"
    )
    parser.add_argument("--formats", nargs="+", choices=MEASURES[1:], default=list(DEFAULT_FORMATS))
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "export")
    parser.add_argument("--child", choices=MEASURES, help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.database, args.out)
        return 0

    sizes = sorted(set(args.n or [10_000, 100_000]))
    args.workdir.mkdir(parents=True, exist_ok=True)
    measures = ["floor", *args.formats]
    results: dict[tuple[str, int], list[Sample]] = {}
    for n in sizes:
        database = ensure_database(n, args.workdir)
        runs = args.runs if n <= 10_000 or args.runs_large is None else args.runs_large
        for run in range(1, runs + 1):
            for measure in measures:
                sample = measure_once(measure, database, args.workdir)
                results.setdefault((measure, n), []).append(sample)
                sys.stderr.write(
                    f"  N={n:,} run {run}/{runs} {measure}: {sample.seconds:.2f} s, "
                    f"{sample.peak_mb:.0f} MB\n"
                )

    def seconds(measure: str, n: int) -> float:
        return statistics.median(s.seconds for s in results[measure, n])

    def peak(measure: str, n: int) -> float:
        return max(s.peak_mb for s in results[measure, n])

    lines = [
        f"{'format':<7} {'N':>9} {'seconds':>9} {'x floor':>8} {'peak MB':>8}",
        "-" * 45,
    ]
    for n in sizes:
        floor = seconds("floor", n)
        for measure in measures:
            ratio = seconds(measure, n) / floor if floor else float("nan")
            lines.append(
                f"{measure:<7} {n:>9,} {seconds(measure, n):>9.2f} {ratio:>8.2f} "
                f"{peak(measure, n):>8.0f}"
            )
    sys.stdout.write("\n".join(lines) + "\n\n")

    largest, smallest = sizes[-1], sizes[0]
    verdicts: list[tuple[bool, str]] = []
    if "csv" in measures:
        ratio = seconds("csv", largest) / seconds("floor", largest)
        verdicts.append(
            (ratio <= CSV_RATIO_TARGET, f"CSV at N={largest:,}: {ratio:.2f}x the floor (<= 2)")
        )
    if "xlsx" in measures:
        took = seconds("xlsx", largest)
        verdicts.append(
            (took <= XLSX_SECONDS_TARGET, f"XLSX at N={largest:,}: {took:.1f} s (<= 90 s)")
        )
    for measure in args.formats:
        top = peak(measure, largest)
        verdicts.append((top < PEAK_MB_TARGET, f"{measure} peak at N={largest:,}: {top:.0f} MB"))
        if measure in STAT_FORMATS:
            for n in sizes:  # at every N: the fixed costs (pyarrow's import) weigh at the smallest
                ratio = seconds(measure, n) / seconds("floor", n)
                verdicts.append(
                    (
                        ratio <= STAT_RATIO_TARGET,
                        f"{measure} at N={n:,}: {ratio:.2f}x the floor (<= 3)",
                    )
                )
            if largest != smallest:
                growth = top / peak(measure, smallest) - 1
                verdicts.append(
                    (
                        abs(growth) <= STAT_GROWTH_TARGET,
                        f"{measure} peak growth N={smallest:,} -> {largest:,}: {growth:+.0%} "
                        "(within 10 %)",
                    )
                )
            continue
        if largest != smallest:
            growth = top - peak(measure, smallest)
            verdicts.append(
                (
                    growth <= GROWTH_MB_TARGET,
                    f"{measure} peak growth N={smallest:,} -> {largest:,}: {growth:+.1f} MB",
                )
            )
    for ok, text in verdicts:
        sys.stdout.write(f"{'ok  ' if ok else 'MISS'} {text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
