"""`consultbot stats`, `history` and `broadcast`: the admin tools on the command line.

`consultbot broadcast --segment in-progress --text "…"` shows the number of recipients and asks
for confirmation (unless `--yes`), queues the broadcast exactly as /broadcast does, then drains
it itself with the same delivery engine (rate `--rate` or BROADCAST_RATE), drawing a progress bar
on stderr, and prints the final counts. If it is interrupted, the bot's own delivery worker (or
`consultbot broadcast --resume ID`) finishes the job without sending anybody a second message.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.export_cli import _with_store
from channels.cli import UsageError, add_database_option, add_survey_option
from channels.progress import ProgressBar, working
from storage.broadcasts import SEGMENTS, BroadcastStore, Counts, Targeting
from storage.repository import ResponseHistory


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from analysis.suppress import DEFAULT_MIN_CELL
    from bot.charts import format_crosstabs, format_distributions, format_stats
    from bot.figures import compute_stats
    from bot.outreach import compute_outreach
    from bot.outreach_text import format_outreach

    if args.min_cell is not None and args.min_cell < 0:
        raise UsageError(f"--min-cell must be 0 or more (not {args.min_cell})")
    min_cell = args.min_cell if args.min_cell is not None else DEFAULT_MIN_CELL

    async def work(store: Any) -> str:
        language = args.lang or store.survey.default_language
        try:
            with working("computing the figures"):
                stats = await compute_stats(store, by=args.by)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        text = f"{format_stats(stats, language)}\n\n{format_distributions(stats, language)}"
        if args.by:
            text += "\n\n" + format_crosstabs(stats, language, min_cell)
        outreach = format_outreach(await compute_outreach(store), language, top=None)
        return f"{text}\n\n{outreach}" if outreach else text

    print(asyncio.run(_with_store(settings, args, work)))
    return 0


def format_history(pseudonym: str, reference: str, history: ResponseHistory) -> str:
    """Every submitted version of a response, oldest first: number, time (UTC), each answer."""
    lines = [f"{reference} ({pseudonym}): {len(history.versions)} submitted version(s)"]
    for version in history.versions:
        moment = version.submitted_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        lines.append(f"version {version.number}, submitted {moment}")
        for qid, answer in version.answers.items():
            value = answer.get("value")
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            other = answer.get("other")
            lines.append(f"  {qid}: {shown}" + (f" (other: {other})" if other else ""))
    return "\n".join(lines)


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from storage.pseudonyms import load_pseudonymizer

    async def work(store: Any) -> str:
        history = await store.submitted_versions(args.reference)
        if history is None:
            raise SystemExit(f"consultbot: no response with the reference {args.reference!r}")
        pseudonym = history.pseudonym or (await load_pseudonymizer(store)).for_key(*history.key)
        return format_history(pseudonym, args.reference, history)

    print(asyncio.run(_with_store(settings, args, work)))
    return 0


def _confirm(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes", "o", "oui")


DOCUMENT_SUFFIXES = (".pdf", ".html", ".htm")
DOCUMENT_LIMIT = 50 * 1024 * 1024
"""sendDocument takes files up to 50 MB."""
CAPTION_LIMIT = 1024


def _document(raw: str, caption: str | None) -> Path:
    """--document FILE: an existing PDF or HTML file of at most 50 MB (absolute: the bot's worker
    may finish the broadcast from another folder); UsageError or SystemExit says what is wrong."""
    path = Path(raw).expanduser().resolve()
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        raise UsageError(f"broadcast: --document: {raw}: a PDF or HTML file is expected")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise SystemExit(f"consultbot broadcast: --document: {raw}: {exc.strerror}") from exc
    if not path.is_file() or size == 0:
        raise SystemExit(f"consultbot broadcast: --document: {raw}: not a file, or empty")
    if size > DOCUMENT_LIMIT:
        raise UsageError(
            f"broadcast: --document: {raw}: {size:,} bytes; Telegram takes 50 MB at most"
        )
    if caption is not None and len(caption) > CAPTION_LIMIT:
        raise UsageError(
            f"broadcast: --text: {len(caption)} characters; a document's caption "
            f"holds {CAPTION_LIMIT} at most"
        )
    return path


def _targeting(args: argparse.Namespace, survey: Any) -> Targeting:
    """--where and --source as a Targeting; UsageError naming the problem if one is wrong."""
    from dialogs.where import where_of
    from storage.links import LinkError, check_source

    where = None
    if args.where is not None:
        try:
            where = where_of(survey, args.where)
        except ValueError as exc:
            raise UsageError(f"broadcast: --where: {exc}") from exc
    source = None
    if args.source is not None:
        try:
            source = check_source(args.source.removesuffix(":")) + (
                ":" if args.source.endswith(":") else ""
            )
        except LinkError as exc:
            raise UsageError(f"broadcast: --source: {exc}") from exc
    return Targeting(where=where, source=source)


def cmd_broadcast(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_bot
    from bot.broadcaster import Broadcaster, TokenBucket
    from bot.clock import system_clock

    if not settings.bot_token:
        raise ConfigError("BOT_TOKEN is not set: the broadcast needs the bot's token")
    if args.resume is None and not args.text and not args.document:
        raise UsageError("--text or --document is required (or --resume ID)")
    document = _document(args.document, args.text) if args.document else None

    async def work(store: Any) -> int:
        queue = BroadcastStore(
            store.db, store.survey.id, store.survey.default_language, survey=store.survey
        )
        broadcast_id: int | None = args.resume
        if broadcast_id is None:
            targeting = _targeting(args, store.survey)
            who = args.segment + (f", {targeting.describe()}" if targeting.narrowed else "")
            count = await queue.count_recipients(args.segment, targeting)
            if count == 0:
                print(f"nobody in segment {who}: nothing to send")
                return 0
            what = f"the document {document.name}" if document else "this message"
            question = f"Send {what} to {count} participants ({who})?"
            if not args.yes and not await asyncio.to_thread(_confirm, question):
                print("cancelled: nothing sent")
                return 1
            broadcast_id = await queue.create(
                args.segment,
                args.text or "",
                now=system_clock(),
                created_by="cli",
                targeting=targeting,
                document=str(document) if document else None,
            )
            assert broadcast_id is not None
        elif await queue.get(broadcast_id) is None:
            raise SystemExit(f"consultbot broadcast: no broadcast {broadcast_id}")
        bot = build_bot(settings.bot_token, settings.api_url)
        bar = ProgressBar(f"broadcast {broadcast_id}")

        def progress(counts: Counts) -> None:
            bar(counts.done, counts.total)

        try:
            rate = args.rate or settings.broadcast_rate
            sender = Broadcaster.from_settings(queue, bot, settings)
            # The bucket's burst follows --rate too: keeping BROADCAST_RATE's would let a
            # lower --rate start with a burst sized for the higher rate.
            sender.bucket = TokenBucket(rate)
            await sender.run(broadcast_id=broadcast_id, until_idle=True, progress=progress)
        finally:
            bar.close()
            await bot.session.close()
        counts = await queue.counts(broadcast_id)
        print(
            f"broadcast {broadcast_id}: {counts.sent} sent, {counts.blocked} blocked the bot, "
            f"{counts.failed} failed"
        )
        return 0

    try:
        result: int = asyncio.run(_with_store(settings, args, work))
    except ConfigError as exc:
        print(f"consultbot: {exc}", file=sys.stderr)
        return 2
    return result


def _common(parser: argparse.ArgumentParser) -> None:
    add_database_option(parser)
    add_survey_option(parser)


def add_admin_commands(subparsers: Any) -> None:
    """Register `stats` and `broadcast` on the `consultbot` subparsers."""
    stats = subparsers.add_parser(
        "stats",
        help="the consultation's figures (as /stats shows)",
        description="Print the consultation's figures: participants, responses, the answers to "
        "each closed question, the invitation sources; --by breaks them down.",
    )
    stats.add_argument(
        "--lang", default=None, help="language of the texts (default: the questionnaire's first)"
    )
    stats.add_argument(
        "--by",
        default=None,
        metavar="QUESTION_ID",
        help="break every closed question down by this single-choice question, with a test",
    )
    stats.add_argument(
        "--min-cell",
        type=int,
        default=None,
        metavar="K",
        help="with --by: hide every count under K and whatever would reveal it (default 5)",
    )
    _common(stats)
    stats.set_defaults(func=cmd_stats)

    history = subparsers.add_parser(
        "history",
        help="every submitted version of a response (amended ones have several)",
        description="Print every submitted version of the response with this receipt "
        "reference, oldest first, with its answers.",
    )
    history.add_argument("reference", help="the receipt reference of the response")
    _common(history)
    history.set_defaults(func=cmd_history)

    broadcast = subparsers.add_parser(
        "broadcast",
        help="send a message to a segment of the participants",
        description="Queue a message to every participant of a segment and deliver it within "
        "Telegram's limits; blocked users are marked and skipped.",
    )
    broadcast.add_argument(
        "--segment",
        choices=SEGMENTS,
        default="all",
        help="who receives it (default: all): " + ", ".join(SEGMENTS),
    )
    broadcast.add_argument(
        "--text", default=None, help="the message (plain text); with --document, its caption"
    )
    broadcast.add_argument(
        "--document",
        default=None,
        metavar="FILE",
        help="send this PDF or HTML file (at most 50 MB), e.g. the published report",
    )
    broadcast.add_argument(
        "--where",
        default=None,
        metavar="EXPR",
        help="only those whose answers match, in the show_if language: "
        'actor_type in ["company_sme", "company_midcap"] and region == "bretagne"',
    )
    broadcast.add_argument(
        "--source",
        default=None,
        help="only those who came through this invitation source (pole:aerospace-valley), "
        "or any source of a kind (pole:)",
    )
    broadcast.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    broadcast.add_argument(
        "--rate", type=float, default=None, help="messages a second (default: BROADCAST_RATE)"
    )
    broadcast.add_argument(
        "--resume", type=int, default=None, metavar="ID", help="finish broadcast ID"
    )
    _common(broadcast)
    broadcast.set_defaults(func=cmd_broadcast, needs=("core", "telegram", "broadcast"))
