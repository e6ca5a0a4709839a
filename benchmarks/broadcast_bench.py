"""Benchmark: the broadcast delivery engine against the local Bot API server's rate limit.

    python -m benchmarks.broadcast_bench                     # limits of 30/s and 1,000/s
    python -m benchmarks.broadcast_bench --limits 30 --seconds 20

For each limit, the local server (`tests/botapi/server.py`, run in a child process so that the
engine has the CPU to itself) answers 429 beyond `limit` messages per second overall and one per
second per chat. A broadcast to `limit x seconds` participants (SQLite database) is drained by
`bot.broadcaster.Broadcaster` at the same rate (1,000/s with `allow_paid_broadcast`). Printed:
the delivery rate the server saw (accepted sendMessage, first to last) against the limit, the
share of calls answered 429, and the duplicates (chats that got the message more than once).
Targets: at least 95% of the limit, under 1% of 429s, no duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bot.app import build_bot
from bot.broadcaster import Broadcaster
from bot.clock import system_clock
from bot.config import DEFAULT_SURVEY
from bot.survey_file import load_survey_file
from storage.broadcasts import BroadcastStore
from storage.database import Database
from storage.repository import Store
from storage.schema import ensure_schema

log = logging.getLogger("broadcast_bench")


def _serve(limit: float, conn: Any) -> None:
    """The child process: the local server, until told to report."""
    from tests.botapi.server import FakeBotAPI

    async def main() -> None:
        api = FakeBotAPI(rate_limit=limit, per_chat_rate=1.0, record_calls=True)
        await api.start()
        conn.send(api.base_url)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "report"
        calls = api.calls("sendMessage")
        ok_times = sorted(c.time for c in calls if c.ok)
        per_chat = Counter(c.params.get("chat_id") for c in calls if c.ok)
        paid = sum(1 for c in calls if c.params.get("allow_paid_broadcast"))
        stats = api.stats.get("sendMessage")
        conn.send(
            json.dumps(
                {
                    "calls": len(calls),
                    "ok": len(ok_times),
                    "too_many": stats.too_many if stats else 0,
                    "first": ok_times[0] if ok_times else 0.0,
                    "last": ok_times[-1] if ok_times else 0.0,
                    "duplicates": sum(1 for n in per_chat.values() if n > 1),
                    "paid": paid,
                }
            )
        )
        await api.stop()

    asyncio.run(main())


async def populate(store: Store, count: int) -> None:
    from sqlalchemy import insert

    from storage.models import participants

    await store.register_survey()
    now = system_clock()

    def work(connection: Any) -> None:
        connection.execute(
            insert(participants),
            [
                {"telegram_id": 10**6 + i, "language": "fr", "blocked": False, "created_at": now}
                for i in range(count)
            ],
        )

    await store.db.runner.write(work)


async def run_one(limit: float, seconds: float, folder: Path) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(limit, child), daemon=True
    )
    server.start()
    base_url = await asyncio.to_thread(parent.recv)
    url = f"sqlite+aiosqlite:///{folder / f'bench-{int(limit)}.db'}"
    loaded = load_survey_file(DEFAULT_SURVEY)
    await ensure_schema(url)
    db = Database(url)
    count = int(limit * seconds)
    try:
        store = Store(db, loaded.survey, file_hash=loaded.file_hash)
        await populate(store, count)
        queue = BroadcastStore(db, loaded.survey.id)
        broadcast_id = await queue.create("all", "Benchmark broadcast", now=system_clock())
        assert broadcast_id is not None
        bot = build_bot("123456:TEST-token", base_url)
        paid = limit > 30
        broadcaster = Broadcaster(queue, bot, rate=limit, allow_paid_broadcast=paid)
        started = time.perf_counter()
        await broadcaster.run(broadcast_id=broadcast_id, until_idle=True)
        wall = time.perf_counter() - started
        await bot.session.close()
        counts = await queue.counts(broadcast_id)
    finally:
        await db.close()
    parent.send("report")
    report: dict[str, Any] = json.loads(await asyncio.to_thread(parent.recv))
    server.join(10)
    span = report["last"] - report["first"]
    rate = (report["ok"] - 1) / span if span > 0 else 0.0
    return {
        "limit": limit,
        "recipients": count,
        "sent": counts.sent,
        "failed": counts.failed,
        "wall_seconds": wall,
        "rate": rate,
        "of_limit": rate / limit,
        "calls": report["calls"],
        "too_many": report["too_many"],
        "too_many_share": report["too_many"] / max(1, report["calls"]),
        "duplicates": report["duplicates"],
        "paid": paid,
    }


async def main_async(limits: list[float], seconds: float) -> int:
    failures = 0
    with TemporaryDirectory() as folder:
        for limit in limits:
            r = await run_one(limit, seconds, Path(folder))
            good = r["of_limit"] >= 0.95 and r["too_many_share"] < 0.01 and r["duplicates"] == 0
            failures += not good
            sys.stdout.write(
                f"limit {r['limit']:>6.0f}/s{' (paid broadcast)' if r['paid'] else '':<17} "
                f"{r['sent']:>6}/{r['recipients']} sent in {r['wall_seconds']:.1f} s: "
                f"{r['rate']:7.1f} msg/s = {r['of_limit']:.1%} of the limit; "
                f"429s {r['too_many']}/{r['calls']} calls ({r['too_many_share']:.2%}); "
                f"duplicates {r['duplicates']}  {'OK' if good else 'BELOW TARGET'}\n"
            )
            sys.stdout.flush()
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", type=float, nargs="+", default=[30.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each broadcast")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args.limits, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
