"""Benchmark: N simulated participants answer the whole consultation over webhook HTTP, with the
local Bot API server standing in for Telegram; beside them, in the same run and over the same
transport, a bare aiogram echo bot receives the same taps and texts: the framework's floor.

    python -m benchmarks.bot_bench                      # SQLite and PostgreSQL, 3 runs each
    python -m benchmarks.bot_bench --runs 1 --backends sqlite

Two measures per bot, each a median over the runs ("vs echo": the median of each run's ratio to
the echo bot of the same run), and last lines saying whether the SQLite and PostgreSQL targets
are met (>= 50% of the echo floor, p99 <= 50 ms on SQLite, <= 100 ms on PostgreSQL):
- throughput: N participants go through the survey as fast as the bot answers (closed loop);
  actions per second, where an action is one tap or one typed answer;
- latency at an offered rate (default 200 actions/s, open loop): p50 and p99 from the moment the
  update is posted to the bot until the bot's last message for it arrived.
With PostgreSQL, the scale-out: two webhook processes on one database behind a round-robin
proxy (`--scale-out`, on by default) against one process behind the same proxy, throughput of
each and their ratio (a participant has one update in flight at a time, so their updates may go
to either process). The proxy (`tests.botapi.proxy.lean_round_robin_proxy`) relays each update
as bytes to the next process, as a load balancer would, at a fraction of the CPU of an aiohttp
proxy: on two cores shared with the bots, the database and the local server, that matters.
PostgreSQL needs a server on 127.0.0.1:5432 (user postgres); `--pg-admin-url` changes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from aiohttp import ClientSession

from bot import callbacks
from bot.config import DEFAULT_SURVEY
from bot.render import Renderer
from bot.survey_file import load_survey_file
from dialogs import QuestionType, Survey, transition
from dialogs.engine import CONSENT_ACCEPT, current_screen, new_state
from dialogs.events import Choose, Confirm, Event, Start, Submit, TextInput, Toggle
from dialogs.limits import OTHER_OPTION_ID
from dialogs.screens import Output, QuestionScreen, ReceiptScreen, ReviewScreen
from tests.botapi.proxy import lean_round_robin_proxy
from tests.botapi.server import FakeBotAPI
from tests.e2e.harness import INSIDE_WINDOW

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"


@dataclass(frozen=True)
class Action:
    kind: str  # "command", "text" or "button"
    payload: str
    expected: int
    """Messages the survey bot sends or edits in reply (the echo bot always sends one)."""


def _expected(renderer: Renderer, language: str, output: Output) -> int:
    if output.replace:
        return 1
    count = sum(len(renderer.screen(language, s).texts) for s in output.screens)
    return max(count, 1)


def script(survey: Survey, rng: random.Random) -> list[Action]:
    """One participant's way through the survey: random valid answers, then submit."""
    renderer = Renderer(survey)
    state = new_state(survey)
    now = INSIDE_WINDOW
    actions: list[Action] = []

    def do(event: Event, kind: str, payload: str) -> None:
        nonlocal state
        result = transition(survey, state, event, now)
        state = result.state
        actions.append(Action(kind, payload, _expected(renderer, state.language, result.output)))

    result = transition(survey, state, Start(), now)
    state = result.state
    actions.append(Action("command", "/start", _expected(renderer, state.language, result.output)))
    screen: object = result.output.screens[-1]
    for _ in range(500):
        if isinstance(screen, ReceiptScreen):
            return actions
        if isinstance(screen, ReviewScreen):
            do(Submit(secrets.token_hex(4), screen.step), "button", callbacks.submit(screen.step))
        else:
            assert isinstance(screen, QuestionScreen)
            q, step = screen.question, screen.step
            options = [o.id for o in q.choices() if o.id != OTHER_OPTION_ID]
            if q.type is QuestionType.CONSENT:
                do(
                    Choose(q.id, CONSENT_ACCEPT, step),
                    "button",
                    callbacks.choose(step, q, CONSENT_ACCEPT),
                )
            elif q.type is QuestionType.SCALE:
                value = str(rng.choice(list(q.scale_points())))
                do(Choose(q.id, value, step), "button", callbacks.choose(step, q, value))
            elif q.type is QuestionType.SINGLE_CHOICE:
                option = rng.choice(options)
                do(Choose(q.id, option, step), "button", callbacks.choose(step, q, option))
            elif q.type in (QuestionType.MULTI_CHOICE, QuestionType.RANKING):
                if q.type is QuestionType.RANKING:
                    count = q.top
                else:
                    count = rng.randint(max(1, q.min_choices), min(3, q.max_choices))
                for option in rng.sample(options, count):
                    do(Toggle(q.id, option, step), "button", callbacks.toggle(step, q, option))
                do(Confirm(q.id, step), "button", callbacks.confirm(step, q))
            elif q.type is QuestionType.NUMBER:
                low = int(q.min) if q.min is not None else 0
                do(TextInput(str(low + 1)), "text", str(low + 1))
            elif q.type is QuestionType.EMAIL:
                do(TextInput("someone@example.org"), "text", "someone@example.org")
            elif q.type is QuestionType.ORGANISATION_ID:
                do(TextInput("732 829 320 00074"), "text", "732 829 320 00074")
            else:
                text = "Des pôles plus proches des PME et des territoires."
                do(TextInput(text), "text", text)
        screen = current_screen(survey, state, now)
    raise RuntimeError("the scripted participant did not reach the receipt")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measure:
    actions: int = 0
    seconds: float = 0.0
    bot_cpu: float = 0.0
    """CPU seconds the bot process used."""
    harness_cpu: float = 0.0
    """CPU seconds this process (the local server, the proxy) used (scale-out only)."""
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.actions / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def perform(api: FakeBotAPI, user: int, action: Action, echo: bool) -> float:
    expected = 1 if echo else action.expected
    since = api.seq
    started = time.perf_counter()
    if action.kind == "command":
        api.send_command(user, action.payload)
    elif action.kind == "text":
        api.send_text(user, action.payload)
    else:
        last = api.last_message(user)
        assert last is not None
        api.press_button(user, last.message_id, action.payload)
    await api.wait_for_changes(user, expected, since, timeout=30)
    return time.perf_counter() - started


async def closed_loop(api: FakeBotAPI, scripts: dict[int, list[Action]], echo: bool) -> Measure:
    measure = Measure()

    async def participant(user: int, actions: list[Action]) -> None:
        for action in actions:
            measure.latencies.append(await perform(api, user, action, echo))
            measure.actions += 1

    started = time.perf_counter()
    await asyncio.gather(*(participant(u, a) for u, a in scripts.items()))
    measure.seconds = time.perf_counter() - started
    return measure


async def open_loop(
    api: FakeBotAPI, scripts: dict[int, list[Action]], echo: bool, rate: float, duration: float
) -> Measure:
    """Each participant acts at rate/len(scripts) per second, from a random phase."""
    measure = Measure()
    period = len(scripts) / rate
    deadline = time.perf_counter() + duration

    async def participant(user: int, actions: list[Action]) -> None:
        await asyncio.sleep(random.random() * period)
        next_at = time.perf_counter()
        for action in actions:
            if time.perf_counter() >= deadline:
                return
            measure.latencies.append(await perform(api, user, action, echo))
            measure.actions += 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    started = time.perf_counter()
    await asyncio.gather(*(participant(u, a) for u, a in scripts.items()))
    measure.seconds = time.perf_counter() - started
    return measure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_process(api: FakeBotAPI, command: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.base_url,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "METRICS_LISTEN": "",  # no fixed port: other processes may hold 9090
        "CONSULTBOT_NOW": INSIDE_WINDOW.isoformat(),
    }
    process = subprocess.Popen(command, env=full_env, cwd=ROOT)  # noqa: ASYNC220
    try:
        await api.wait_for(lambda: api.webhook_url, timeout=120)  # a start takes 30 s on busy cores
        yield process
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_healthy(process: subprocess.Popen[bytes], port: int) -> None:
    """Until the process answers its health check (fails at once if it exits)."""
    async with ClientSession() as http:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the bot on port {port} exited with {process.returncode}")
            with contextlib.suppress(OSError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bot on port {port} did not come up in 120 s")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def proxied_processes(api: FakeBotAPI, command: list[str], env: dict[str, str], count: int):  # type: ignore[no-untyped-def]
    """`count` webhook bot processes behind one round-robin proxy (the webhook URL)."""
    ports = [free_port() for _ in range(count)]
    proxy, proxy_port, _served = await lean_round_robin_proxy(ports)
    url = f"http://127.0.0.1:{proxy_port}/webhook"
    started: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            full_env = {
                **os.environ,
                **env,
                "BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.base_url,
                "WEBHOOK_URL": url,
                "WEBHOOK_SECRET": SECRET,
                "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                "LOG_LEVEL": "WARNING",
                "METRICS_LISTEN": "",
                "CONSULTBOT_NOW": INSIDE_WINDOW.isoformat(),
            }
            started.append(subprocess.Popen(command, env=full_env, cwd=ROOT))  # noqa: ASYNC220
        for process, port in zip(started, ports, strict=True):
            await wait_healthy(process, port)
        await api.wait_for(lambda: api.webhook_url == url, timeout=30)
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
        proxy.close()


async def measure_scale_out(
    command: list[str], args: argparse.Namespace, survey: Survey, seed: int
) -> dict[int, Measure]:
    """Throughput of one and of two processes on one database, both behind the proxy. Each on
    a new database: every new local server numbers its updates from 1 again."""
    found: dict[int, Measure] = {}
    for count in (1, 2):
        env = {"DATABASE_URL": reset_postgres(args.pg_admin_url, "consultbot_bench")}
        rng = random.Random(seed * 10 + count)
        base = 50_000_000 + 1_000_000 * (seed * 10 + count)
        scripts = {base + i: script(survey, rng) for i in range(args.participants)}
        api = FakeBotAPI(record_calls=False)
        await api.start()
        try:
            async with proxied_processes(api, command, env, count) as processes:
                with collector_paused():
                    before = sum(cpu_seconds(p.pid) for p in processes)
                    own = time.process_time()
                    measure = await closed_loop(api, scripts, echo=False)
                    measure.bot_cpu = sum(cpu_seconds(p.pid) for p in processes) - before
                    measure.harness_cpu = time.process_time() - own
        finally:
            await api.stop()
        found[count] = measure
    return found


def reset_postgres(admin_url: str, name: str) -> str:
    base = admin_url.rsplit("/", 1)[0]
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", f"{base.replace('+asyncpg', '')}/postgres", "-qc", sql], check=True)
    url = f"{base}/{name}"
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade", "--database-url", url],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    return url


async def measure_bot(
    name: str,
    command: list[str],
    env: dict[str, str],
    args: argparse.Namespace,
    survey: Survey,
    seed: int,
) -> tuple[Measure, Measure]:
    echo = name == "echo"
    rng = random.Random(seed)
    base = 1_000_000 * (seed + 1)
    throughput_scripts = {base + i: script(survey, rng) for i in range(args.participants)}
    latency_scripts = {
        base + 500_000 + i: script(survey, rng) for i in range(args.latency_participants)
    }
    api = FakeBotAPI(record_calls=False)
    await api.start()
    try:
        async with bot_process(api, command, env) as process:
            with collector_paused():
                before = cpu_seconds(process.pid)
                throughput = await closed_loop(api, throughput_scripts, echo)
                throughput.bot_cpu = cpu_seconds(process.pid) - before
            with collector_paused():
                latency = await open_loop(api, latency_scripts, echo, args.rate, args.duration)
    finally:
        await api.stop()
    return throughput, latency


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this (the measuring) process while it measures.

    The local server keeps every message the bot sent, inline keyboards included: a full
    collection of that heap stopped this process for 250 ms, and every update in flight was
    counted that much slower, whatever the bot did. The bot's own collections still count.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def main_async(args: argparse.Namespace) -> None:
    survey = load_survey_file(DEFAULT_SURVEY).survey
    results: dict[str, list[tuple[Measure, Measure]]] = {}
    scale_out: list[dict[int, Measure]] = []
    echo_cmd = [sys.executable, "-m", "benchmarks.echo_bot"]
    bot_cmd = [sys.executable, "-m", "bot.cli", "run", "--webhook"]
    for run in range(args.runs):
        with TemporaryDirectory() as tmp:
            targets: list[tuple[str, list[str], dict[str, str]]] = [("echo", echo_cmd, {})]
            if "sqlite" in args.backends:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                targets.append(("survey-sqlite", bot_cmd, {"DATABASE_URL": url}))
            if "postgres" in args.backends:
                url = reset_postgres(args.pg_admin_url, "consultbot_bench")
                targets.append(("survey-postgres", bot_cmd, {"DATABASE_URL": url}))
            for name, command, env in targets:
                measures = await measure_bot(name, command, env, args, survey, seed=run)
                results.setdefault(name, []).append(measures)
                t, lat = measures
                print(
                    f"run {run + 1} {name:16} {t.rate:7.0f} actions/s "
                    f"({t.bot_cpu / t.actions * 1000:.2f} ms CPU each)  "
                    f"at {args.rate:.0f}/s offered: "
                    f"p50 {lat.percentile(50):5.1f} ms  p99 {lat.percentile(99):6.1f} ms",
                    flush=True,
                )
            if "postgres" in args.backends and args.scale_out:
                measured = await measure_scale_out(bot_cmd, args, survey, seed=run)
                scale_out.append(measured)
                one, two = measured[1], measured[2]
                print(
                    f"run {run + 1} postgres x1/x2    {one.rate:7.0f} / {two.rate:.0f} actions/s "
                    f"behind the proxy (x{two.rate / one.rate:.2f}); CPU ms per action of the "
                    f"bots {one.bot_cpu / one.actions * 1000:.2f} / "
                    f"{two.bot_cpu / two.actions * 1000:.2f}, of the local server and proxy "
                    f"{one.harness_cpu / one.actions * 1000:.2f} / "
                    f"{two.harness_cpu / two.actions * 1000:.2f}",
                    flush=True,
                )
    print()
    verdicts: list[str] = []
    print(
        f"medians over {args.runs} run(s); "
        f"{args.participants} participants through the whole survey"
    )
    print(
        f"{'bot':16} {'actions/s':>10} {'vs echo':>8} {'CPU ms':>7} {'p50 ms':>8} {'p99 ms':>8}"
        f"  (latency at {args.rate:.0f} actions/s offered)"
    )
    echo_runs = results["echo"]
    for name, runs in results.items():
        rate = statistics.median(t.rate for t, _ in runs)
        # Each run's rate against the echo floor of the same run: the machine's speed cancels out.
        ratio = statistics.median(
            t.rate / e.rate for (t, _), (e, _) in zip(runs, echo_runs, strict=True)
        )
        p50 = statistics.median(lat.percentile(50) for _, lat in runs)
        p99 = statistics.median(lat.percentile(99) for _, lat in runs)
        cpu = statistics.median(t.bot_cpu / t.actions * 1000 for t, _ in runs)
        print(f"{name:16} {rate:10.0f} {ratio:8.0%} {cpu:7.2f} {p50:8.1f} {p99:8.1f}")
        goals = {"survey-sqlite": ("SQLite", 50.0), "survey-postgres": ("PostgreSQL", 100.0)}
        if name in goals:
            label, most = goals[name]
            verdicts.append(
                f"{label} targets: throughput {ratio:.0%} of the echo floor (target >= 50%): "
                f"{'met' if ratio >= 0.5 else 'MISSED'}; p99 {p99:.1f} ms at {args.rate:.0f}/s "
                f"(target <= {most:.0f} ms): {'met' if p99 <= most else 'MISSED'}"
            )
    if scale_out:
        one_rate = statistics.median(m[1].rate for m in scale_out)
        two_rate = statistics.median(m[2].rate for m in scale_out)
        gain = statistics.median(m[2].rate / m[1].rate for m in scale_out)
        cpu_one = statistics.median(m[1].bot_cpu / m[1].actions * 1000 for m in scale_out)
        cpu_two = statistics.median(m[2].bot_cpu / m[2].actions * 1000 for m in scale_out)
        print(
            f"PostgreSQL scale-out, behind a round-robin proxy: one process "
            f"{one_rate:.0f} actions/s ({cpu_one:.2f} ms CPU each), two processes "
            f"{two_rate:.0f} actions/s ({cpu_two:.2f} ms CPU each, both together): "
            f"x{gain:.2f} (median of the runs' ratios); "
            f"{'more' if gain > 1 else 'NOT more'} with two"
        )
    for verdict in verdicts:
        print(verdict)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--latency-participants", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=200.0, help="offered actions/s for the latency run"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the latency run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument(
        "--pg-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--scale-out",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with postgres: one process against two behind a proxy (default: on)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
