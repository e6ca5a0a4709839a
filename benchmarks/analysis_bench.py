"""Benchmark: the HTML report with a cross-tabulation and themes, beside the CSV floor.

    python -m benchmarks.analysis_bench --n 20000            # 3 runs (medians)
    python -m benchmarks.analysis_bench --n 20000 --runs 1

The database of N synthetic responses is the export benchmark's (`benchmarks.export_bench`,
kept in `--workdir`). Each measure runs in a fresh interpreter (peak memory: the child's own
maximum resident set size):

- floor: the export benchmark's floor (one SQL select written with `csv`);
- report: `consultbot report --by actor_type --themes` (`bot.report.write_report`): every closed
  question cross-tabulated with its test and suppression, themes of every free-text question and
  "other" text.

Target: the report under 60 s at 20,000 responses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.export_bench import ROOT, SURVEY, Sample, ensure_database, measure_once

REPORT_SECONDS_TARGET = 60.0


async def _child_report(database: Path, out: Path) -> dict[str, float]:
    from bot.report import ReportOptions, write_report
    from bot.survey_file import load_survey_file
    from storage.database import Database
    from storage.repository import Store

    loaded = load_survey_file(SURVEY)
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        started = time.perf_counter()
        result = await write_report(store, ReportOptions(out=out, by="actor_type", themes=True))
        seconds = time.perf_counter() - started
    finally:
        await db.close()
    return {"seconds": seconds, "rows": result.responses}


def report_once(database: Path, workdir: Path) -> Sample:
    out = workdir / "out-report.html"
    command = [
        sys.executable,
        "-m",
        "benchmarks.analysis_bench",
        "--child",
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
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the report on {database} failed")
    out.unlink(missing_ok=True)
    report = json.loads(output.decode().strip().splitlines()[-1])
    return Sample(report["seconds"], usage.ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.analysis_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=20_000, help="responses")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench" / "export")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        report = asyncio.run(_child_report(args.database, args.out))
        sys.stdout.write(json.dumps(report) + "\n")
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    database = ensure_database(args.n, args.workdir)
    samples: dict[str, list[Sample]] = {"floor": [], "report": []}
    for run in range(1, args.runs + 1):
        for measure in samples:
            if measure == "floor":
                sample = measure_once("floor", database, args.workdir)
            else:
                sample = report_once(database, args.workdir)
            samples[measure].append(sample)
            sys.stderr.write(
                f"  N={args.n:,} run {run}/{args.runs} {measure}: {sample.seconds:.2f} s, "
                f"{sample.peak_mb:.0f} MB\n"
            )
    floor = statistics.median(s.seconds for s in samples["floor"])
    lines = [f"{'measure':<8} {'N':>9} {'seconds':>9} {'x floor':>8} {'peak MB':>8}", "-" * 46]
    for measure, found in samples.items():
        seconds = statistics.median(s.seconds for s in found)
        lines.append(
            f"{measure:<8} {args.n:>9,} {seconds:>9.2f} {seconds / floor:>8.2f} "
            f"{max(s.peak_mb for s in found):>8.0f}"
        )
    took = statistics.median(s.seconds for s in samples["report"])
    ok = took <= REPORT_SECONDS_TARGET
    lines.append("")
    lines.append(
        f"{'ok  ' if ok else 'MISS'} report --by actor_type --themes at N={args.n:,}: "
        f"{took:.1f} s (<= 60 s)"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
