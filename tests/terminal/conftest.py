"""Shared pieces of the terminal server tests: a checked service, a server, a connection."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kimia.app import assemble
from kimia.service import Kimia
from kimia.settings import Settings
from kimia.terminal.client import Connection
from kimia.terminal.server import TerminalServer


#: The key-encryption key of the terminal tests (KIMIA_TERMINAL_KEK): terminal MAC keys are stored under it.
TEST_KEK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture(autouse=True)
def terminal_kek(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KIMIA_TERMINAL_KEK", TEST_KEK)
    return TEST_KEK


@pytest.fixture
def service(settings: Settings) -> Iterator[Kimia]:
    """A service on SQLite and on PostgreSQL; every invariant is checked when the test ends."""
    k = assemble(settings)
    try:
        yield k
        report = k.check()
        assert report.ok, report.summary()
    finally:
        k.close()


@contextlib.asynccontextmanager
async def serving(service: Kimia, **kwargs: Any) -> AsyncIterator[TerminalServer]:
    """A terminal host on a free loopback port for the duration of the block. Unkeyed terminals are
    allowed unless the test says otherwise (most tests are not about authentication)."""
    kwargs.setdefault("allow_unkeyed", True)
    srv = TerminalServer(service, **kwargs)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close()


@contextlib.asynccontextmanager
async def connected(srv: TerminalServer) -> AsyncIterator[Connection]:
    """One TCP connection to the host, closed on the way out."""
    conn = await Connection.open("127.0.0.1", srv.port)
    try:
        yield conn
    finally:
        await conn.close()
