"""A round-robin HTTP proxy for webhook POSTs: several bot processes behind one address, as a
load balancer would put them (used by the two-process test and the bot benchmark)."""

from __future__ import annotations

import itertools
import socket

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def round_robin_proxy(ports: list[int], path: str) -> tuple[web.AppRunner, int, list[int]]:
    """A proxy on a free port forwarding each POST to `path` to the next of `ports` in turn.

    Returns its runner (to clean up), its port, and how many requests each port was given."""
    turn = itertools.cycle(range(len(ports)))
    served = [0] * len(ports)
    session = ClientSession(
        connector=TCPConnector(limit=0), timeout=ClientTimeout(total=30), auto_decompress=False
    )

    async def forward(request: web.Request) -> web.Response:
        index = next(turn)
        served[index] += 1
        body = await request.read()
        async with session.post(
            f"http://127.0.0.1:{ports[index]}{request.path}",
            data=body,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        ) as response:
            return web.Response(
                status=response.status,
                body=await response.read(),
                content_type=response.content_type,
            )

    async def close(_app: web.Application) -> None:
        await session.close()

    app = web.Application()
    app.router.add_post(path, forward)
    app.on_cleanup.append(close)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port, served
