"""TCP framing: a length prefix in front of every ISO 8583 message.

ISO 8583 does not define framing. The dialect chooses the prefix:

* ``binary2``: 2-byte unsigned big-endian length (the default; max 65535);
* ``ascii4``:  4 ASCII digits (max 9999).

The length counts the payload only (not the prefix). The payload is everything
the codec decodes, so for a TPDU dialect it starts with the 5-byte TPDU.

Errors raise :class:`FramingError` with a ``code``: ``frame_too_large``,
``frame_empty`` (length 0), ``frame_truncated`` (the peer closed mid-frame),
``frame_timeout``, ``frame_bad_length`` (non-digit ASCII prefix),
``idle_timeout`` (nothing sent between frames for the idle time) and
``connection_closed`` (clean close between frames). After any error except
``connection_closed`` and ``idle_timeout`` the stream position is unknown: close the connection.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final

from kimia.terminal.dialect import KIMIA_V1, Dialect

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "FramingError", "frame", "read_frame", "unframe", "write_frame"]

DEFAULT_MAX_FRAME_BYTES: Final = 4096
_DIGITS: Final = frozenset(b"0123456789")


class FramingError(Exception):
    """A framing problem; ``code`` is stable (see module doc)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(f"{code}: {detail}")


def _encode_prefix(length: int, dialect: Dialect) -> bytes:
    if dialect.length_prefix == "binary2":
        return struct.pack(">H", length)
    return b"%04d" % length


def _decode_prefix(prefix: bytes, dialect: Dialect) -> int:
    if dialect.length_prefix == "binary2":
        return int(struct.unpack(">H", prefix)[0])
    if not set(prefix) <= _DIGITS:
        raise FramingError("frame_bad_length", "ASCII length prefix is not 4 digits")
    return int(prefix)


def _check_length(length: int, max_frame_bytes: int) -> None:
    if length == 0:
        raise FramingError("frame_empty", "length prefix is 0")
    if length > max_frame_bytes:
        raise FramingError("frame_too_large", f"frame of {length} bytes exceeds limit {max_frame_bytes}")


def frame(payload: bytes, dialect: Dialect) -> bytes:
    """Prefix `payload` with its length."""
    if not payload:
        raise FramingError("frame_empty", "payload is empty")
    if len(payload) > dialect.max_payload:
        raise FramingError("frame_too_large", f"payload of {len(payload)} bytes does not fit the length prefix")
    return _encode_prefix(len(payload), dialect) + bytes(payload)


def unframe(
    buffer: bytes,
    dialect: Dialect = KIMIA_V1,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    final: bool = False,
) -> tuple[bytes | None, bytes]:
    """Split one frame off the front of `buffer`: ``(payload, rest)``.

    Returns ``(None, buffer)`` when more bytes are needed. With ``final=True`` (no
    more data will arrive) a non-empty incomplete buffer raises ``frame_truncated``.
    """
    buffer = bytes(buffer)
    plen = dialect.prefix_len
    if len(buffer) < plen:
        if final and buffer:
            raise FramingError("frame_truncated", f"length prefix needs {plen} bytes, {len(buffer)} present")
        return None, buffer
    length = _decode_prefix(buffer[:plen], dialect)
    _check_length(length, max_frame_bytes)
    end = plen + length
    if len(buffer) < end:
        if final:
            raise FramingError("frame_truncated", f"frame needs {length} bytes, {len(buffer) - plen} present")
        return None, buffer
    return buffer[plen:end], buffer[end:]


async def _read(reader: asyncio.StreamReader, dialect: Dialect, max_frame_bytes: int, first: bytes = b"") -> bytes:
    plen = dialect.prefix_len
    try:
        prefix = first + await reader.readexactly(plen - len(first))
    except asyncio.IncompleteReadError as exc:
        if not exc.partial and not first:
            raise FramingError("connection_closed", "peer closed the connection") from None
        raise FramingError("frame_truncated", f"length prefix cut after {len(first) + len(exc.partial)} byte(s)") from None
    length = _decode_prefix(prefix, dialect)
    _check_length(length, max_frame_bytes)
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FramingError("frame_truncated", f"frame needs {length} bytes, peer closed after {len(exc.partial)}") from None


async def _first_byte(reader: asyncio.StreamReader, idle_timeout_s: float) -> bytes:
    """The first byte of the next frame, waited for at most ``idle_timeout_s``."""
    try:
        async with asyncio.timeout(idle_timeout_s):
            return await reader.readexactly(1)
    except TimeoutError:
        raise FramingError("idle_timeout", f"nothing received for {idle_timeout_s:g} s") from None
    except asyncio.IncompleteReadError:
        raise FramingError("connection_closed", "peer closed the connection") from None


async def read_frame(
    reader: asyncio.StreamReader,
    dialect: Dialect,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    timeout_s: float,
    idle_timeout_s: float | None = None,
) -> bytes:
    """Read one frame and return its payload.

    Without ``idle_timeout_s``, ``timeout_s`` bounds the whole frame, waiting for its first byte
    included. With it, the first byte is waited for at most ``idle_timeout_s`` (``idle_timeout``:
    an idle connection, not an error) and the frame must then be complete within ``timeout_s``.
    Either way a peer that trickles bytes cannot hold the connection. A length above
    ``max_frame_bytes`` is rejected before the body is read.
    """
    try:
        first = b"" if idle_timeout_s is None else await _first_byte(reader, idle_timeout_s)
        async with asyncio.timeout(timeout_s):
            return await _read(reader, dialect, max_frame_bytes, first)
    except TimeoutError:
        raise FramingError("frame_timeout", f"no complete frame within {timeout_s:g} s") from None
    except (ConnectionResetError, BrokenPipeError):
        raise FramingError("connection_closed", "connection reset by peer") from None


async def write_frame(
    writer: asyncio.StreamWriter,
    payload: bytes,
    dialect: Dialect,
    *,
    timeout_s: float | None = None,
) -> None:
    """Write one frame and wait until the transport has taken it (drain)."""
    data = frame(payload, dialect)
    try:
        if timeout_s is None:  # the common case: no timer to arm for every answer
            writer.write(data)
            await writer.drain()
            return
        async with asyncio.timeout(timeout_s):
            writer.write(data)
            await writer.drain()
    except TimeoutError:
        raise FramingError("frame_timeout", f"could not send within {timeout_s:g} s") from None
    except (ConnectionResetError, BrokenPipeError):
        raise FramingError("connection_closed", "connection reset by peer") from None
