"""ISO 8583 terminal layer: dialects, framing, codec, field-48 TLV, AES-CMAC and response codes.

The protocol is described in ``docs/terminal-protocol.md``.
"""

from kimia.terminal.codec import (
    DecodeError,
    EncodeError,
    Message,
    decode,
    encode,
    mask_pan,
    response_for,
    response_mti,
)
from kimia.terminal.dialect import KIMIA_V1, Dialect, DialectError, dialect_from_json, dialect_to_json
from kimia.terminal.framing import FramingError, frame, read_frame, unframe, write_frame
from kimia.terminal.mac import MacError, compute_mac, sign_message, verify_mac, verify_message
from kimia.terminal.response_codes import RESPONSE_CODES
from kimia.terminal.tlv import TAGS, TlvError, decode_tlv, encode_tlv

__all__ = [
    "KIMIA_V1",
    "RESPONSE_CODES",
    "TAGS",
    "DecodeError",
    "Dialect",
    "DialectError",
    "EncodeError",
    "FramingError",
    "MacError",
    "Message",
    "TlvError",
    "compute_mac",
    "decode",
    "decode_tlv",
    "dialect_from_json",
    "dialect_to_json",
    "encode",
    "encode_tlv",
    "frame",
    "mask_pan",
    "read_frame",
    "response_for",
    "response_mti",
    "sign_message",
    "unframe",
    "verify_mac",
    "verify_message",
    "write_frame",
]
