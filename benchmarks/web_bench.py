"""Benchmark: web answers per second, closed loop, over HTTP without a browser; beside it, in the
same run and with the same clients, a bare aiohttp handler: the framework's floor.

    python -m benchmarks.web_bench                     # 3 rounds of 5 s each, 16 clients
    python -m benchmarks.web_bench --rounds 1 --seconds 3 --clients 8

Each server runs in a process of its own (SQLite file for the web channel; rate limits raised out
of the way; once listening, the garbage collector's policy of `consultbot web`,
`channels.heap.settle`, for both servers); the clients run in this one. An answer is what a browser
does for one: the form POSTed to `/c` and the page of the 303 redirect fetched (`GET /c`). A client
answers the bundled questionnaire from the start to the receipt (the first option, a plausible
typed text), then starts again as a new participant. The bare handler answers the same requests (a
landing page, a start that sets a cookie, then the answers) with a page of the same size and the
same headers, and its clients start again as often. Both runs use the same client code: cookies
kept by the client itself (aiohttp's cookie jar would cost the client more than some servers' work)
and sent back as one `Cookie` header. Rounds alternate the two servers; the ratio is the median of
each round's ratio.
Target: the web channel at least 40 % of the bare handler's answers per second, with SQLite.
Each round also gives the server process' CPU time per answer (from /proc), which the machine's
other load does not change as much as the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import aiohttp

TARGET = 0.40
ACTION = re.compile(r'name="a" value="([^"]+)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STEP = re.compile(r'name="step" value="(\d+)"')
KIND = re.compile(r'<body class="page-([a-z_]+)"')
TYPE = re.compile(r'data-type="([a-z_]+)"')
PRESSED = re.compile(r'value="t:[^"]+" aria-pressed="true"')
TYPED = {
    "number": "2010",
    "organisation_id": "732 829 320 00074",
    "email": "bench@example.org",
    "text": "Un avis",
    "other": "autre",
}
SURVEY = Path(__file__).resolve().parents[1] / "surveys" / "poles-de-competitivite.yaml"
BARE_PAGE = "<!doctype html><html><body>" + "x" * 4200 + "</body></html>"
"""About the average size of a page of the web channel over the whole questionnaire (4.2 kB)."""
BARE_FORM = {"csrf": "x" * 22, "step": "12", "a": "c:12:question:option"}
"""A form of the same fields and about the same size as the web channel's."""
BARE_ANSWERS = 31
"""Answers of a participant of the bundled questionnaire on the benchmark's path, to the
receipt: a bare client starts again as a new participant as often as a web one."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the servers (each in its own process) --------------------------------------------------------


async def serve_bare(port: int) -> None:
    from aiohttp import web

    from channels import heap
    from web.security import SECURITY_HEADERS

    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=BARE_PAGE, content_type="text/html", headers=headers)

    async def post(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(status=303, headers={"Location": "/c"})

    async def landing(request: web.Request) -> web.Response:
        response = web.Response(text=BARE_PAGE, content_type="text/html", headers=headers)
        response.set_cookie("consultbot_csrf", "x" * 24, httponly=True, samesite="Lax")
        return response

    async def start(request: web.Request) -> web.Response:
        await request.post()
        response = web.Response(status=303, headers={"Location": "/c"})
        response.set_cookie("consultbot_session", "x" * 47, httponly=True, samesite="Lax")
        return response

    app = web.Application()
    app.router.add_get("/", landing)
    app.router.add_get("/c", page)
    app.router.add_post("/c", post)
    app.router.add_post("/start", start)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    heap.settle()
    await asyncio.Event().wait()


async def serve_web(port: int, database: str) -> None:
    from datetime import timedelta

    from aiohttp import web

    from channels import heap
    from channels.survey_file import load_survey_file
    from storage.database import Database
    from storage.repository import Store
    from storage.schema import upgrade
    from web.app import WebChannel, WebConfig
    from web.security import Signer

    loaded = load_survey_file(SURVEY)
    await upgrade(database)
    store = Store(Database(database), loaded.survey, file_hash=loaded.file_hash)
    await store.register_survey()
    moment = loaded.survey.opens_at + timedelta(days=3)
    config = WebConfig(
        ip_per_minute=10**9, ip_burst=10**9, participant_per_minute=10**9, participant_burst=10**9
    )
    channel = WebChannel(
        store,
        clock=lambda: moment,
        signer=Signer(b"benchmark secret, 32 bytes long!"),
        config=config,
    )
    runner = web.AppRunner(channel.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    heap.settle()  # as `consultbot web` does once it listens
    await asyncio.Event().wait()


# -- the clients ----------------------------------------------------------------------------------


@dataclass
class Tally:
    answers: int = 0
    latencies: list[float] = field(default_factory=list)
    receipts: int = 0
    server_cpu: float = 0.0
    """CPU seconds the server process used during the measure (Linux: /proc)."""

    def cpu_per_answer_ms(self) -> float:
        return 1000 * self.server_cpu / self.answers if self.answers else 0.0


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (0 where there is none)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def next_form(page: str) -> dict[str, str]:
    """The form a participant sends for the page on screen."""
    kind = KIND.search(page)
    csrf = CSRF.findall(page)
    steps = STEP.findall(page)
    form = {"csrf": csrf[-1] if csrf else "", "step": steps[-1] if steps else "0"}
    actions = ACTION.findall(page)
    if kind and kind.group(1) == "review":
        form["a"] = next(a for a in actions if a.startswith("S:"))
        return form
    typed = TYPE.search(page)
    qtype = typed.group(1) if typed else ""
    if qtype in TYPED:
        form["a"], form["text"] = "text", TYPED[qtype]
        return form
    options = [a for a in actions if a[:2] in ("c:", "t:", "k:")]
    if qtype in ("multi_choice", "ranking"):
        pressed = len(PRESSED.findall(page))
        need = 1 if qtype == "multi_choice" else 3
        toggles = [a for a in options if a.startswith("t:")]
        form["a"] = (
            toggles[pressed] if pressed < need else next(a for a in options if a.startswith("k:"))
        )
        return form
    scale = [a for a in options if a.endswith(":3")]
    form["a"] = scale[0] if qtype == "scale" and scale else options[0]
    return form


def cookie_header(response: aiohttp.ClientResponse, cookies: dict[str, str]) -> dict[str, str]:
    """The `Cookie` header after `response`: the client keeps its cookies itself (a browser's
    few), which costs it far less than aiohttp's cookie jar, the same in both runs."""
    for name, morsel in response.cookies.items():
        cookies[name] = morsel.value
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def client(url: str, web_channel: bool, stop: float, tally: Tally) -> None:
    while time.perf_counter() < stop:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            cookies: dict[str, str] = {}
            async with session.get(url + "/") as response:
                landing = await response.text()
                headers = cookie_header(response, cookies)
            token = CSRF.search(landing)
            async with session.post(
                url + "/start",
                data={"csrf": token.group(1) if token else ""},
                headers=headers,
                allow_redirects=False,
            ) as response:
                await response.read()
                headers = cookie_header(response, cookies)
            async with session.get(url + "/c", headers=headers) as response:
                page = await response.text()
            for answered in range(1, 81):
                if time.perf_counter() >= stop:
                    return
                form = next_form(page) if web_channel else BARE_FORM
                started = time.perf_counter()
                async with session.post(url + "/c", data=form, headers=headers) as response:
                    page = await response.text()
                    assert response.status == 200, (response.status, page[:500])
                tally.latencies.append(time.perf_counter() - started)
                tally.answers += 1
                if web_channel and 'class="page-receipt"' in page:
                    tally.receipts += 1
                    break
                if not web_channel and answered == BARE_ANSWERS:
                    break


async def measure(
    url: str, web_channel: bool, clients: int, seconds: float, pid: int | None = None
) -> Tally:
    tally = Tally()
    before = process_cpu(pid) if pid else 0.0
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(client(url, web_channel, stop, tally) for _ in range(clients)))
    if pid:
        tally.server_cpu = process_cpu(pid) - before
    return tally


async def wait_ready(url: str) -> None:
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            async with aiohttp.ClientSession() as session, session.get(url + "/c") as response:
                await response.read()
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--serve", choices=["bare", "web"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "bare":
        asyncio.run(serve_bare(args.port))
        return 0
    if args.serve == "web":
        asyncio.run(serve_web(args.port, args.database))
        return 0

    with TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'web.db'}"
        ports = {"bare": free_port(), "web": free_port()}
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        servers = {
            name: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.web_bench",
                    "--serve",
                    name,
                    "--port",
                    str(port),
                    "--database",
                    database,
                ],
                env=env,
            )
            for name, port in ports.items()
        }
        try:
            results: dict[str, list[Tally]] = {"bare": [], "web": []}

            async def run() -> None:
                for port in ports.values():
                    await wait_ready(f"http://127.0.0.1:{port}")
                for _ in range(args.rounds):
                    for name, port in ports.items():
                        url = f"http://127.0.0.1:{port}"
                        results[name].append(
                            await measure(
                                url, name == "web", args.clients, args.seconds, servers[name].pid
                            )
                        )

            asyncio.run(run())
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=10)

    ratios = []
    print(
        f"web channel benchmark: {args.clients} clients, {args.rounds} rounds of "
        f"{args.seconds:.0f} s, SQLite"
    )
    for round_number in range(args.rounds):
        bare, web = results["bare"][round_number], results["web"][round_number]
        bare_rate, web_rate = bare.answers / args.seconds, web.answers / args.seconds
        ratios.append(web_rate / bare_rate if bare_rate else 0.0)
        print(
            f"  round {round_number + 1}: web {web_rate:7.1f} answers/s (p99 "
            f"{p99(web.latencies) * 1000:6.1f} ms, server CPU {web.cpu_per_answer_ms():.2f} ms per "
            f"answer, {web.receipts} receipts) · bare handler {bare_rate:7.1f}/s (p99 "
            f"{p99(bare.latencies) * 1000:6.1f} ms, CPU {bare.cpu_per_answer_ms():.2f} ms) · "
            f"ratio {ratios[-1]:.0%}"
        )
    web_rates = [t.answers / args.seconds for t in results["web"]]
    bare_rates = [t.answers / args.seconds for t in results["bare"]]
    ratio = statistics.median(ratios)
    print(
        f"median: web {statistics.median(web_rates):.1f} answers/s, p99 "
        f"{statistics.median(p99(t.latencies) for t in results['web']) * 1000:.1f} ms; "
        f"bare {statistics.median(bare_rates):.1f}/s, p99 "
        f"{statistics.median(p99(t.latencies) for t in results['bare']) * 1000:.1f} ms; "
        f"web/bare {ratio:.0%} (target ≥ {TARGET:.0%}: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
