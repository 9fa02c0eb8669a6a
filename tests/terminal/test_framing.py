"""Framing tests: pure frame/unframe and a real asyncio loopback socket."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest

from kimia.terminal.codec import Message, decode, encode, response_for
from kimia.terminal.dialect import KIMIA_V1, Dialect, dialect_from_json, dialect_to_json
from kimia.terminal.framing import FramingError, frame, read_frame, unframe, write_frame


def ascii4() -> Dialect:
    data = dialect_to_json(KIMIA_V1)
    data.update(name="ascii4", length_prefix="ascii4")
    return dialect_from_json(data)


# -- sync helpers ------------------------------------------------------------------


def test_frame_binary2() -> None:
    assert frame(b"abc", KIMIA_V1) == b"\x00\x03abc"
    assert frame(b"x" * 300, KIMIA_V1)[:2] == b"\x01\x2c"


def test_frame_ascii4() -> None:
    assert frame(b"abc", ascii4()) == b"0003abc"


def test_frame_errors() -> None:
    with pytest.raises(FramingError) as ei:
        frame(b"", KIMIA_V1)
    assert ei.value.code == "frame_empty"
    with pytest.raises(FramingError) as ei:
        frame(b"x" * 70_000, KIMIA_V1)
    assert ei.value.code == "frame_too_large"
    with pytest.raises(FramingError) as ei:
        frame(b"x" * 10_000, ascii4())
    assert ei.value.code == "frame_too_large"


@pytest.mark.parametrize("dialect", [KIMIA_V1, ascii4()], ids=["binary2", "ascii4"])
def test_unframe_stream(dialect: Dialect) -> None:
    stream = frame(b"one", dialect) + frame(b"two!", dialect) + frame(b"3", dialect)[:-1]
    first, rest = unframe(stream, dialect)
    second, rest = unframe(rest, dialect)
    third, rest2 = unframe(rest, dialect)
    assert (first, second, third) == (b"one", b"two!", None)
    assert rest2 == rest
    with pytest.raises(FramingError) as ei:
        unframe(rest, dialect, final=True)
    assert ei.value.code == "frame_truncated"


def test_unframe_partial_prefix() -> None:
    assert unframe(b"\x00") == (None, b"\x00")
    assert unframe(b"") == (None, b"")
    assert unframe(b"", final=True) == (None, b"")
    with pytest.raises(FramingError) as ei:
        unframe(b"\x00", final=True)
    assert ei.value.code == "frame_truncated"


@pytest.mark.parametrize(
    ("buffer", "dialect", "code"),
    [
        (b"\x00\x00", KIMIA_V1, "frame_empty"),
        (b"\x10\x01" + b"x" * 10, KIMIA_V1, "frame_too_large"),
        (b"\xff\xff", KIMIA_V1, "frame_too_large"),
        (b"0000", ascii4(), "frame_empty"),
        (b"5000", ascii4(), "frame_too_large"),
        (b"00A1x", ascii4(), "frame_bad_length"),
        (b"+012abc", ascii4(), "frame_bad_length"),
    ],
)
def test_unframe_errors(buffer: bytes, dialect: Dialect, code: str) -> None:
    with pytest.raises(FramingError) as ei:
        unframe(buffer, dialect)
    assert ei.value.code == code


def test_unframe_custom_limit() -> None:
    data = frame(b"x" * 5000, KIMIA_V1)
    assert unframe(data, max_frame_bytes=5000) == (b"x" * 5000, b"")
    with pytest.raises(FramingError):
        unframe(data, max_frame_bytes=4999)


# -- asyncio loopback -----------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _with_server(
    handler: Handler, client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
) -> None:
    done = asyncio.Event()

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            done.set()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await client(reader, writer)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("dialect", [KIMIA_V1, ascii4()], ids=["binary2", "ascii4"])
def test_loopback_request_response(dialect: Dialect) -> None:
    request = Message("0800", {"7": "0321080000", "11": "000001", "41": "T0000001", "70": "301"})

    async def host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            req = decode(await read_frame(reader, dialect, timeout_s=5), dialect)
            await write_frame(writer, encode(response_for(req, "00"), dialect), dialect)
        with pytest.raises(FramingError) as ei:
            await read_frame(reader, dialect, timeout_s=5)
        assert ei.value.code == "connection_closed"

    async def terminal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        payload = encode(request, dialect)
        # two frames in one write, then one frame split across writes
        writer.write(frame(payload, dialect) * 2)
        await writer.drain()
        for _ in range(2):
            resp = decode(await read_frame(reader, dialect, timeout_s=5), dialect)
            assert resp.mti == "0810" and resp.fields["39"] == "00" and resp.fields["70"] == "301"
        data = frame(payload, dialect)
        for i in range(0, len(data), 7):
            writer.write(data[i : i + 7])
            await writer.drain()
            await asyncio.sleep(0)
        resp = decode(await read_frame(reader, dialect, timeout_s=5), dialect)
        assert resp.mti == "0810"

    asyncio.run(_with_server(host, terminal))


def _expect_server_error(code: str, client_bytes: bytes, *, hold_open: float = 0.0, timeout_s: float = 5.0) -> None:
    seen: list[str] = []

    async def host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_frame(reader, KIMIA_V1, timeout_s=timeout_s)
        except FramingError as exc:
            seen.append(exc.code)

    async def terminal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(client_bytes)
        await writer.drain()
        if hold_open:
            await asyncio.sleep(hold_open)

    asyncio.run(_with_server(host, terminal))
    assert seen == [code]


def test_loopback_truncated_frame() -> None:
    _expect_server_error("frame_truncated", struct.pack(">H", 100) + b"x" * 10)


def test_loopback_truncated_prefix() -> None:
    _expect_server_error("frame_truncated", b"\x00")


def test_loopback_timeout() -> None:
    # the peer sends half a frame and then stays silent with the socket open
    _expect_server_error("frame_timeout", struct.pack(">H", 100) + b"x" * 10, hold_open=1.0, timeout_s=0.2)


def test_loopback_idle_timeout() -> None:
    _expect_server_error("frame_timeout", b"", hold_open=1.0, timeout_s=0.2)


def test_loopback_oversize_length_rejected_before_body() -> None:
    _expect_server_error("frame_too_large", struct.pack(">H", 60_000), hold_open=0.2)


def test_loopback_zero_length() -> None:
    _expect_server_error("frame_empty", b"\x00\x00")


def test_loopback_clean_close() -> None:
    _expect_server_error("connection_closed", b"")


def test_write_frame_rejects_empty() -> None:
    async def host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with pytest.raises(FramingError) as ei:
            await write_frame(writer, b"", KIMIA_V1)
        assert ei.value.code == "frame_empty"

    async def terminal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.read() == b""

    asyncio.run(_with_server(host, terminal))
