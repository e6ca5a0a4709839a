"""PostgreSQL in the tests, one rule everywhere: `TEST_DATABASE_URL` unset, the PostgreSQL half of
a test is skipped with that reason; set, it is used, and a server that cannot be reached (or
refuses) is a test failure, never a skip - CI sets it and must not go green without PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_SKIP = "TEST_DATABASE_URL is not set: PostgreSQL half skipped"


def postgres_url() -> str:
    """`TEST_DATABASE_URL`, or skip the test (with `POSTGRES_SKIP`) when it is not set."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip(POSTGRES_SKIP)
    return url


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty database on `TEST_DATABASE_URL`'s server (its URL), dropped afterwards.
    Skips when the variable is not set; any connection error propagates (a failure)."""
    base = make_url(postgres_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


async def worker_database(base_url: str, worker: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A new, empty database for one pytest-xdist worker (`worker`: gw0, gw1...), named after
    `base_url`'s, on its server; returns its URL and a coroutine function that drops it."""
    base = make_url(base_url)
    name = f"{base.database}_{worker}"

    async def run(statement: str) -> None:
        admin = create_async_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(statement)
        finally:
            await admin.dispose()

    async def drop() -> None:
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    await drop()  # left over by an interrupted run
    await run(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False), drop
