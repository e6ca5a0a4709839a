"""Round-robin proxies: several webhook bot processes behind one address, as a load balancer
puts them. `round_robin_proxy` forwards each HTTP request to the next process through aiohttp (the
two-process test counts them); `lean_round_robin_proxy` does the same with bytes relayed as they
are (the bot benchmark: it costs the shared machine far less)."""

from __future__ import annotations

import asyncio
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


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked messages are not relayed")
    return 0


async def lean_round_robin_proxy(ports: list[int]) -> tuple[asyncio.Server, int, list[int]]:
    """`round_robin_proxy` in a few lines of asyncio: each request (HTTP/1.1 with a
    Content-Length, as Telegram's and aiohttp's are) relayed as bytes to the next of `ports`
    over a kept-alive connection, its answer relayed back. The bot benchmark's balancer: the
    aiohttp proxy parsed and rebuilt every request and answer, which cost the shared two cores
    a fifth of what the bot itself did per update.

    Returns the server (to close), its port, and how many requests each port was given."""
    turn = itertools.cycle(range(len(ports)))
    served = [0] * len(ports)
    idle: list[list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = [[] for _ in ports]

    async def exchange(index: int, request: bytes) -> bytes:
        for attempt in range(2):
            reused = bool(idle[index]) and attempt == 0
            if reused:
                upstream_reader, upstream_writer = idle[index].pop()
            else:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", ports[index]
                )
            try:
                upstream_writer.write(request)
                head = await upstream_reader.readuntil(b"\r\n\r\n")
                body = await upstream_reader.readexactly(_content_length(head))
            except (asyncio.IncompleteReadError, ConnectionError):
                upstream_writer.close()
                if reused:  # a kept-alive connection the process had closed: a new one
                    continue
                raise
            idle[index].append((upstream_reader, upstream_writer))
            return head + body
        raise ConnectionError("unreachable")

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(_content_length(head))
                index = next(turn)
                served[index] += 1
                writer.write(await exchange(index, head + body))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    return server, port, served
