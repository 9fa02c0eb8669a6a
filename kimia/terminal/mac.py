"""AES-CMAC message authentication for terminal messages (NIST SP 800-38B / RFC 4493).

Which bytes are covered
-----------------------
The MAC covers the encoded message from the first byte of the MTI up to, but not
including, the 8 bytes of the MAC value itself. Concretely:

1. choose the MAC field: 64 when the message has no field above 64, otherwise 128
   (both are the last field of their bitmap, so the MAC is always the last 8 bytes);
2. encode the message with that field set to 8 zero bytes; the bitmap therefore
   already has the MAC bit set and is covered;
3. compute AES-CMAC over those bytes except the last 8, truncate it to 8 bytes;
4. put the MAC in place of the 8 zero bytes.

Not covered: the frame length prefix and the TPDU (routing header that a network
access controller may rewrite). Covered: MTI, bitmaps and every other field,
including STAN (11), transmission time (7) and amount (4), so a replay cannot be
altered without detection.

Keys are per terminal, 16 bytes (AES-128) or 32 bytes (AES-256).
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from kimia.terminal.codec import Message, decode, encode
from kimia.terminal.dialect import Dialect

__all__ = ["MAC_LEN", "MacError", "compute_mac", "mac_field_for", "sign_message", "verify_mac", "verify_message"]

MAC_LEN = 8
_ZERO_MAC = bytes(MAC_LEN)


class MacError(ValueError):
    """Bad key or a message/dialect that cannot carry a MAC. ``code``: ``bad_key``, ``no_mac_field``."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(f"{code}: {detail}")


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) not in (16, 32):
        raise MacError("bad_key", "MAC key must be 16 or 32 bytes")


def compute_mac(message_bytes_without_mac: bytes, key: bytes) -> bytes:
    """AES-CMAC of the covered bytes, truncated to 8 bytes."""
    _check_key(key)
    c = cmac.CMAC(algorithms.AES(bytes(key)))
    c.update(bytes(message_bytes_without_mac))
    return c.finalize()[:MAC_LEN]


def verify_mac(message_bytes_without_mac: bytes, mac: bytes, key: bytes) -> bool:
    """Constant-time check of an 8-byte MAC."""
    expected = compute_mac(message_bytes_without_mac, key)
    if not isinstance(mac, (bytes, bytearray)) or len(mac) != MAC_LEN:
        return False
    return hmac.compare_digest(expected, bytes(mac))


def mac_field_for(message: Message, dialect: Dialect) -> str:
    """The field that must carry this message's MAC (64 or 128, see module doc)."""
    mac_fields = set(dialect.mac_fields)
    needs_secondary = any(fid.isdigit() and int(fid) > 64 and fid not in mac_fields for fid in message.fields)
    wanted = "128" if needs_secondary else "64"
    if wanted not in mac_fields:
        raise MacError("no_mac_field", f"dialect {dialect.name} has no MAC field {wanted}")
    return wanted


def sign_message(message: Message, dialect: Dialect, key: bytes) -> bytes:
    """Encode `message` with its MAC in place; returns the frame payload bytes.

    Any 64/128 value already in `message` is replaced. `message` is not modified.
    """
    _check_key(key)
    fields = {fid: v for fid, v in message.fields.items() if fid not in ("64", "128")}
    unsigned = Message(message.mti, fields, tpdu=message.tpdu)
    fields[mac_field_for(unsigned, dialect)] = _ZERO_MAC
    raw = encode(Message(message.mti, fields, tpdu=message.tpdu), dialect)
    covered = raw[dialect.header_len : -MAC_LEN]
    return raw[:-MAC_LEN] + compute_mac(covered, key)


def verify_message(raw: bytes, dialect: Dialect, key: bytes) -> bool:
    """Check the MAC of a received frame payload.

    Returns False when the MAC is wrong, missing, in the wrong field or when both
    64 and 128 are present. Raises :class:`~kimia.terminal.codec.DecodeError` when
    `raw` is not a well-formed message (answer 30, not 63) and :class:`MacError`
    for a bad key.
    """
    _check_key(key)
    message = decode(raw, dialect)
    try:
        wanted = mac_field_for(message, dialect)
    except MacError:
        return False
    other = "64" if wanted == "128" else "128"
    value = message.fields.get(wanted)
    if not isinstance(value, bytes) or len(value) != MAC_LEN or other in message.fields:
        return False
    if bytes(raw[-MAC_LEN:]) != value:  # the MAC field must be the last one encoded
        return False
    return verify_mac(bytes(raw[dialect.header_len : -MAC_LEN]), value, key)
