"""A terminal-side client: builds kimia requests, frames them, and reads the answers.

Used by the simulator and the tests; a terminal vendor can read it as a reference client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from dataclasses import dataclass, field

from kimia.terminal import tlv
from kimia.terminal.codec import Message, decode, encode
from kimia.terminal.dialect import KIMIA_V1, Dialect
from kimia.terminal.framing import read_frame, write_frame
from kimia.terminal.mac import sign_message

TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))


@dataclass
class TerminalIdentity:
    terminal_id: str  # field 41, 8 characters
    merchant_id: str  # field 42, up to 15 characters
    mac_key: bytes | None = None
    stan: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_stan(self) -> str:
        return f"{next(self.stan) % 1_000_000:06d}"


def request(
    identity: TerminalIdentity,
    mti: str,
    processing_code: str | None,
    *,
    amount_rial: int | None = None,
    pan: str | None = None,
    items: list[tuple[str, str]] | None = None,
    rrn: str | None = None,
    stan: str | None = None,
    original: Message | None = None,
    network_code: str | None = None,
    now: dt.datetime | None = None,
) -> Message:
    """A request message with the fields kimia expects (see docs/terminal-protocol.md)."""
    now = now or dt.datetime.now(TEHRAN)
    utc = now.astimezone(dt.timezone.utc)
    fields: dict[str, str | bytes] = {
        # f-strings rather than strftime: a load generator sends thousands of these a second.
        "7": f"{utc.month:02d}{utc.day:02d}{utc.hour:02d}{utc.minute:02d}{utc.second:02d}",
        "11": stan or identity.next_stan(),
        "12": f"{now.hour:02d}{now.minute:02d}{now.second:02d}",
        "13": f"{now.month:02d}{now.day:02d}",
        "41": identity.terminal_id,
        "42": identity.merchant_id,
    }
    if processing_code is not None:
        fields["3"] = processing_code
    if amount_rial is not None:
        fields["4"] = f"{amount_rial:012d}"
        fields["49"] = "364"
    if pan:
        fields["2"] = pan
    if rrn:
        fields["37"] = rrn
    if items:
        fields["48"] = tlv.encode_tlv(items)
    if network_code:
        fields["70"] = network_code
    if original is not None:
        fields["90"] = original.mti + (original.stan or "000000") + (original.transmission_datetime or "0000000000") + "0" * 22
    return Message(mti, fields)


def to_bytes(message: Message, identity: TerminalIdentity, dialect: Dialect = KIMIA_V1) -> bytes:
    if identity.mac_key and dialect.mac_fields:
        return sign_message(message, dialect, identity.mac_key)
    return encode(message, dialect)


class Connection:
    """One TCP connection to the host; requests are answered in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, dialect: Dialect = KIMIA_V1) -> None:
        self.reader, self.writer, self.dialect = reader, writer, dialect

    @classmethod
    async def open(cls, host: str, port: int, dialect: Dialect = KIMIA_V1) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, dialect)

    async def send_raw(self, payload: bytes, *, timeout_s: float = 30.0) -> bytes:
        await write_frame(self.writer, payload, self.dialect)
        return await read_frame(self.reader, self.dialect, timeout_s=timeout_s)

    async def send(self, message: Message, identity: TerminalIdentity, *, timeout_s: float = 30.0) -> Message:
        raw = await self.send_raw(to_bytes(message, identity, self.dialect), timeout_s=timeout_s)
        return decode(raw, self.dialect)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
