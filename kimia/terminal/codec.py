"""Encode and decode ISO 8583 messages for a :class:`~kimia.terminal.dialect.Dialect`.

This is the only module that imports pyiso8583. Around it, the codec adds what the
library leaves to the caller:

* strict checks of MTI, bitmaps (only fields the dialect defines, no empty
  secondary bitmap, no field 65) and length prefixes (ASCII digits only; plain
  ``int()`` would also accept ``"+9"``, ``" 9"`` or ``"1_0"``);
* content checks per field format (``n`` = ASCII ``0-9`` only, so Persian or
  Arabic-Indic digits are rejected, ``an``, ``ans``, ``z``, ``text``, ``b``);
* one exception type per direction (:class:`DecodeError`, :class:`EncodeError`)
  with a stable ``code`` and the ``field`` id, never another exception type, and
  never a card number, track 2 or PIN block in any message or repr.

Decode error codes: ``empty``, ``truncated``, ``bad_header`` (TPDU), ``bad_mti``,
``bad_bitmap``, ``bad_length`` (a field's length prefix), ``bad_field`` (content),
``extra_data``, ``malformed`` (anything unexpected).
Encode error codes: ``bad_header``, ``bad_mti``, ``bad_bitmap``, ``unknown_field``,
``bad_field``, ``bad_length``, ``malformed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Union

import iso8583  # type: ignore[import-untyped, unused-ignore]

from kimia.terminal.dialect import Dialect

__all__ = [
    "CodecError",
    "DecodeError",
    "EncodeError",
    "FieldValue",
    "Message",
    "SENSITIVE_FIELDS",
    "decode",
    "encode",
    "mask_pan",
    "mask_track2",
    "response_mti",
    "response_for",
]

FieldValue = Union[str, bytes]

_DIGITS: Final = frozenset("0123456789")
_AN: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")
_ANS: Final = frozenset(chr(c) for c in range(0x20, 0x7F))
_Z: Final = frozenset("0123456789=D")
_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]+\Z")

#: Fields whose clear value must never be shown: PAN, track 2, PIN block, ICC data.
SENSITIVE_FIELDS: Final = frozenset({"2", "35", "45", "52", "55"})
#: Fields shown only as a length because they may carry personal data (mobile, national code).
_OPAQUE_FIELDS: Final = frozenset({"48", "62", "63"})
#: Non-sensitive fields a DecodeError may carry so the host can still answer 30.
_SALVAGE_FIELDS: Final = ("3", "4", "7", "11", "12", "13", "37", "41", "42", "49", "70")
#: Fields a switch echoes from request to response (kimia also echoes 70 for 08xx).
ECHO_FIELDS: Final = ("3", "4", "7", "11", "12", "13", "37", "41", "42", "49", "70")
_NEVER_ECHO: Final = frozenset({"2", "35", "52"})


# -- masking ---------------------------------------------------------------------


def mask_pan(pan: str) -> str:
    """Mask a card number: first 6 + stars + last 4 (PCI DSS display rule).

    Shorter values (under 13 characters) keep only the last 4; 4 or fewer are all stars.
    """
    n = len(pan)
    if n >= 13:
        return pan[:6] + "*" * (n - 10) + pan[-4:]
    if n > 4:
        return "*" * (n - 4) + pan[-4:]
    return "*" * n


def mask_track2(track2: str) -> str:
    """Mask track 2: masked PAN, separator, everything after the separator starred."""
    for sep in ("=", "D"):
        idx = track2.find(sep)
        if idx >= 0:
            return mask_pan(track2[:idx]) + sep + "*" * (len(track2) - idx - 1)
    return mask_pan(track2)


def _safe_value(fid: str, value: FieldValue) -> str:
    """A log-safe rendering of one field value."""
    if fid == "2" and isinstance(value, str):
        return repr(mask_pan(value))
    if fid == "35" and isinstance(value, str):
        return repr(mask_track2(value))
    if fid in SENSITIVE_FIELDS or fid in _OPAQUE_FIELDS:
        return f"<{len(value)} {'bytes' if isinstance(value, bytes) else 'chars'}>"
    if isinstance(value, bytes):
        return value.hex().upper()
    return repr(value)


# -- errors ----------------------------------------------------------------------


class CodecError(ValueError):
    """Base of codec errors: ``code`` is stable, ``field`` is the field id or None.

    The message never contains field values, only ids, lengths and positions.
    """

    def __init__(self, code: str, detail: str, *, field: str | None = None) -> None:
        self.code = code
        self.field = field
        self.detail = detail
        where = f" (field {field})" if field is not None else ""
        super().__init__(f"{code}: {detail}{where}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, detail={self.detail!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_error, (type(self), self.code, self.detail, self.field))


def _rebuild_error(cls: type[CodecError], code: str, detail: str, field: str | None) -> CodecError:
    return cls(code, detail, field=field)


class DecodeError(CodecError):
    """Malformed input. ``mti`` and ``salvaged`` hold what could be read safely.

    ``salvaged`` only ever contains the non-sensitive fields 3, 4, 7, 11, 12, 13,
    37, 41, 42, 49 and 70 that decoded and passed their format check, so a host can
    still answer 30 (format error) to a readable-enough request.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        mti: str | None = None,
        salvaged: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, detail, field=field)
        self.mti = mti
        self.salvaged: dict[str, str] = dict(salvaged or {})


class EncodeError(CodecError):
    """A :class:`Message` cannot be encoded with the dialect (a programming error)."""


# -- message ---------------------------------------------------------------------


class Message:
    """A decoded or to-be-encoded ISO 8583 message.

    ``fields`` maps field ids ``"2"``..``"128"`` to ``str`` (every format except
    ``b``) or ``bytes`` (format ``b``: 48, 52, 62, 64, 128 in kimia-v1). Bitmaps are
    computed by :func:`encode` and never stored here. ``tpdu`` is the 5-byte TPDU
    header for dialects that have one.

    ``repr()`` masks the PAN and track 2, hides PIN block and private-data values.
    """

    __slots__ = ("mti", "fields", "tpdu")

    def __init__(
        self,
        mti: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        tpdu: bytes | None = None,
    ) -> None:
        if not isinstance(mti, str):
            raise TypeError("mti must be a str")
        self.mti: str = mti
        self.fields: dict[str, FieldValue] = {}
        for fid, value in (fields or {}).items():
            if not isinstance(fid, str):
                raise TypeError("field ids must be str, e.g. '11'")
            if not isinstance(value, (str, bytes)):
                raise TypeError(f"field {fid} value must be str or bytes")
            self.fields[fid] = value
        if tpdu is not None and not isinstance(tpdu, bytes):
            raise TypeError("tpdu must be bytes or None")
        self.tpdu: bytes | None = tpdu

    @classmethod
    def _trusted(cls, mti: str, fields: dict[str, FieldValue], tpdu: bytes | None) -> Message:
        """A message from values the codec itself produced (types known): skips the checks."""
        message = cls.__new__(cls)
        message.mti, message.fields, message.tpdu = mti, fields, tpdu
        return message

    def __repr__(self) -> str:
        def key(fid: str) -> int:
            return int(fid) if fid.isdigit() else 10_000

        body = ", ".join(f"{fid!r}: {_safe_value(fid, self.fields[fid])}" for fid in sorted(self.fields, key=key))
        tp = f", tpdu={self.tpdu.hex().upper()!r}" if self.tpdu is not None else ""
        return f"Message(mti={self.mti!r}, fields={{{body}}}{tp})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.mti == other.mti and self.fields == other.fields and self.tpdu == other.tpdu

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Message:
        return Message(self.mti, self.fields, tpdu=self.tpdu)

    # -- typed accessors (None when the field is absent) -------------------------

    def get_str(self, fid: str) -> str | None:
        value = self.fields.get(fid)
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"field {fid} is binary")
        return value

    def get_bytes(self, fid: str) -> bytes | None:
        value = self.fields.get(fid)
        if value is None:
            return None
        if not isinstance(value, bytes):
            raise TypeError(f"field {fid} is not binary")
        return value

    @property
    def processing_code(self) -> str | None:
        """Field 3 (``TTFFTT``; TT 00 purchase, 20 refund, 31 balance inquiry)."""
        return self.get_str("3")

    @property
    def transaction_type(self) -> str | None:
        """First two digits of the processing code."""
        pc = self.processing_code
        return pc[:2] if pc is not None else None

    @property
    def amount_rial(self) -> int | None:
        """Field 4 as an int (rials, exponent 0). Raises ValueError if not ASCII digits."""
        value = self.get_str("4")
        if value is None:
            return None
        if not value or not set(value) <= _DIGITS:
            raise ValueError("field 4 is not numeric")
        return int(value)

    @property
    def transmission_datetime(self) -> str | None:
        """Field 7, MMDDhhmmss (GMT)."""
        return self.get_str("7")

    @property
    def stan(self) -> str | None:
        """Field 11, the System Trace Audit Number."""
        return self.get_str("11")

    @property
    def local_time(self) -> str | None:
        """Field 12, hhmmss."""
        return self.get_str("12")

    @property
    def local_date(self) -> str | None:
        """Field 13, MMDD."""
        return self.get_str("13")

    @property
    def rrn(self) -> str | None:
        """Field 37, retrieval reference number."""
        return self.get_str("37")

    @property
    def response_code(self) -> str | None:
        """Field 39."""
        return self.get_str("39")

    @property
    def terminal_id(self) -> str | None:
        """Field 41 without its space padding."""
        value = self.get_str("41")
        return value.rstrip(" ") if value is not None else None

    @property
    def merchant_id(self) -> str | None:
        """Field 42 without its space padding."""
        value = self.get_str("42")
        return value.rstrip(" ") if value is not None else None

    @property
    def pan_masked(self) -> str | None:
        """Field 2 masked for display and logs."""
        value = self.get_str("2")
        return mask_pan(value) if value is not None else None

    @property
    def message_class(self) -> str:
        """Second MTI digit: 1 authorization, 2 financial, 4 reversal, 8 network management."""
        return self.mti[1:2]

    @property
    def is_repeat(self) -> bool:
        """True for repeat MTIs (last digit 1 or 3: 0201, 0221, 0421, ...)."""
        return self.mti[3:4] in ("1", "3")

    @property
    def is_request(self) -> bool:
        """True for requests/advices (third MTI digit even: 0, 2, 4)."""
        return self.mti[2:3] in ("0", "2", "4")

    @property
    def original_mti(self) -> str:
        """The MTI with the repeat flag cleared (0421 -> 0420, 0201 -> 0200)."""
        last = self.mti[3:4]
        cleared = {"1": "0", "3": "2"}.get(last, last)
        return self.mti[:3] + cleared

    def duplicate_key(self) -> tuple[str, str, str, str, str] | None:
        """Natural key for duplicate detection, or None if a part is missing.

        ``(merchant id 42, terminal id 41, STAN 11, local date 13, message class)``
        where the message class is :attr:`original_mti`, so a repeat (0221, 0421)
        has the same key as its first transmission.
        """
        parts = (self.merchant_id, self.terminal_id, self.stan, self.local_date)
        mid, tid, stan, date = parts
        if mid is None or tid is None or stan is None or date is None:
            return None
        return (mid, tid, stan, date, self.original_mti)

    def require(self, *fids: str) -> None:
        """Raise DecodeError(code ``missing_field``) naming the first absent field."""
        for fid in fids:
            if fid not in self.fields:
                raise DecodeError("missing_field", "required field is absent", field=fid, mti=self.mti)


# -- validation helpers ----------------------------------------------------------


def _check_content(fmt: str, value: str) -> bool:
    if fmt == "n":
        # str.isdigit() alone would accept other scripts' digits; isascii() keeps it to 0-9.
        return not value or (value.isascii() and value.isdigit())
    if fmt == "an":
        return set(value) <= _AN
    if fmt == "ans":
        return set(value) <= _ANS
    if fmt == "z":
        return set(value) <= _Z
    return True  # "text": anything the codec could decode


def _is_mti(mti: str) -> bool:
    return len(mti) == 4 and set(mti) <= _DIGITS


# -- decode ----------------------------------------------------------------------

_FIELD_DATA_RE: Final = re.compile(r"Field data is (\d+) (?:bytes|nibbles), (expecting|larger than maximum) (\d+)")


def _classify(msg: str, field: str) -> str:
    """Map a pyiso8583 DecodeError message to a stable code."""
    if msg.startswith("Extra data after last field"):
        return "extra_data"
    if msg.startswith("Field length is"):
        return "truncated"
    m = _FIELD_DATA_RE.match(msg)
    if m:
        if m.group(2) != "expecting":
            return "bad_length"
        return "truncated" if int(m.group(1)) < int(m.group(3)) else "bad_field"
    if msg.startswith("Failed to decode field length"):
        return "bad_length"
    if field == "t":
        return "bad_mti"
    if field in ("p", "1"):
        return "bad_bitmap"
    return "bad_field"


def _from_library_error(exc: Exception, body: bytes, dialect: Dialect, mti: str) -> DecodeError:
    """Translate a pyiso8583 DecodeError (which holds the raw bytes) into ours (which does not)."""
    e_msg = str(getattr(exc, "msg", "decode error"))
    e_field = str(getattr(exc, "field", "")) or None
    code = _classify(e_msg, e_field or "")
    partial = getattr(exc, "doc_dec", None)
    salvaged = _salvage(partial if isinstance(partial, dict) else {}, dialect)
    if code == "extra_data":
        extra = len(body) - int(getattr(exc, "pos", 0))
        return DecodeError(code, f"{extra} byte(s) after the last field", mti=mti, salvaged=salvaged)
    return DecodeError(code, e_msg.split(":", 1)[0], field=e_field, mti=mti, salvaged=salvaged)


def _salvage(doc_dec: Mapping[str, str], dialect: Dialect) -> dict[str, str]:
    out: dict[str, str] = {}
    for fid in _SALVAGE_FIELDS:
        value = doc_dec.get(fid)
        fmt = dialect.formats.get(fid)
        if isinstance(value, str) and value and fmt not in (None, "b") and _check_content(fmt, value):
            out[fid] = value
    return out


def _read_bitmap(
    body: bytes, idx: int, fid: str, dialect: Dialect, offset: int, mti: str
) -> tuple[set[int], int]:
    binary = dialect.spec[fid]["data_enc"] == "b"
    size = 8 if binary else 16
    chunk = body[idx : idx + size]
    if len(chunk) != size:
        raise DecodeError("truncated", f"bitmap needs {size} bytes, {len(chunk)} present", field=fid, mti=mti)
    if binary:
        bitmap = chunk
    else:
        try:
            text = chunk.decode(str(dialect.spec[fid]["data_enc"]))
        except (UnicodeDecodeError, LookupError):
            raise DecodeError("bad_bitmap", "bitmap is not text", field=fid, mti=mti) from None
        if not _HEX_RE.match(text) or len(text) != 16:
            raise DecodeError("bad_bitmap", "bitmap is not 16 hex digits", field=fid, mti=mti)
        bitmap = bytes.fromhex(text)
    present = {offset + byte_idx * 8 + bit for byte_idx, byte in enumerate(bitmap) if byte for bit in _BITS[byte]}
    return present, idx + size


#: For each byte value, the 1-based positions (1 = most significant bit) of its set bits.
_BITS: Final = tuple(tuple(bit + 1 for bit in range(8) if value & (0x80 >> bit)) for value in range(256))


def decode(data: bytes | bytearray | memoryview, dialect: Dialect) -> Message:
    """Decode one frame payload (TPDU if the dialect has one, then MTI, bitmaps, fields).

    Raises :class:`DecodeError` and nothing else for any malformed input. The error
    is raised outside any ``except`` block, so it carries no ``__context__`` that
    could hold the raw bytes (and with them a card number).
    """
    unexpected: str | None = None
    try:
        return _decode(data, dialect)
    except DecodeError as exc:
        error = exc
    except Exception as exc:  # defensive: never leak another exception type
        unexpected = type(exc).__name__
    if unexpected is not None:
        raise DecodeError("malformed", f"unexpected {unexpected} while decoding")
    error.__context__ = None
    error.__cause__ = None
    raise error


def _decode(data: bytes | bytearray | memoryview, dialect: Dialect) -> Message:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("malformed", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise DecodeError("empty", "no data")
    tpdu, body = _split_tpdu(data, dialect)
    mti, t_len = _read_mti(body, dialect)
    present_ids = _present_fields(body, t_len, dialect, mti)
    lib_error: DecodeError | None = None
    try:
        doc_dec, doc_enc = iso8583.decode(body, dialect.spec)
    except iso8583.DecodeError as exc:
        lib_error = _from_library_error(exc, body, dialect, mti)
    if lib_error is not None:
        raise lib_error
    return Message._trusted(mti, _checked_fields(present_ids, doc_dec, doc_enc, dialect, mti), tpdu)


def _split_tpdu(data: bytes, dialect: Dialect) -> tuple[bytes | None, bytes]:
    """The TPDU (if the dialect has one) and the message after it."""
    if not dialect.tpdu:
        return None, data
    if len(data) < 5:
        raise DecodeError("truncated", f"TPDU needs 5 bytes, {len(data)} present", field="h")
    tpdu = data[:5]
    if tpdu[0] != 0x60:
        raise DecodeError("bad_header", "TPDU id is not 0x60", field="h")
    return tpdu, data[5:]


def _read_mti(body: bytes, dialect: Dialect) -> tuple[str, int]:
    """The MTI and its length in bytes, checked against the dialect."""
    t_spec = dialect.spec["t"]
    t_len = 2 if t_spec["data_enc"] == "b" else 4
    t_raw = body[:t_len]
    if len(t_raw) != t_len:
        raise DecodeError("truncated", f"MTI needs {t_len} bytes, {len(t_raw)} present", field="t")
    if t_spec["data_enc"] == "b":
        mti = t_raw.hex().upper()
    else:
        try:
            mti = t_raw.decode(str(t_spec["data_enc"]))
        except (UnicodeDecodeError, LookupError):
            raise DecodeError("bad_mti", "MTI is not text", field="t") from None
    if not _is_mti(mti):
        raise DecodeError("bad_mti", "MTI is not 4 ASCII digits", field="t")
    if dialect.mtis and mti not in dialect.mtis:
        raise DecodeError("bad_mti", f"MTI {mti} is not supported by dialect {dialect.name}", field="t", mti=mti)
    return mti, t_len


def _present_fields(body: bytes, t_len: int, dialect: Dialect, mti: str) -> list[str]:
    """The data fields the bitmaps name, in numeric order. Checked here so that pyiso8583 only
    ever sees fields the dialect defines."""
    present, pos = _read_bitmap(body, t_len, "p", dialect, 0, mti)
    if 1 in present:
        if "1" not in dialect.spec:
            raise DecodeError("bad_bitmap", "secondary bitmap not allowed by dialect", field="1", mti=mti)
        secondary, pos = _read_bitmap(body, pos, "1", dialect, 64, mti)
        if not secondary:
            raise DecodeError("bad_bitmap", "secondary bitmap present but empty", field="1", mti=mti)
        present.discard(1)
        present |= secondary
    if not present:
        raise DecodeError("bad_bitmap", "no data fields present", field="p", mti=mti)
    defined = dialect.data_field_set
    present_ids = [str(num) for num in sorted(present)]
    for fid in present_ids:
        if fid not in defined:
            raise DecodeError("bad_bitmap", "bitmap names a field the dialect does not define", field=fid, mti=mti)
    return present_ids


def _checked_fields(present_ids: list[str], doc_dec: Any, doc_enc: Any, dialect: Dialect, mti: str) -> dict[str, FieldValue]:
    """Each decoded field checked against its format: binary fields as bytes, the rest as text."""
    fields: dict[str, FieldValue] = {}
    for fid in present_ids:
        if fid not in doc_dec:
            continue
        fspec = dialect.spec[fid]
        len_raw: bytes = doc_enc[fid]["len"]
        if fspec["len_type"] and fspec["len_enc"] not in ("b", "bcd") and not (len_raw.isdigit() and len_raw.isascii()):
            raise DecodeError(
                "bad_length", "length prefix is not ASCII digits", field=fid, mti=mti, salvaged=_salvage(doc_dec, dialect)
            )
        fmt = dialect.formats[fid]
        value = doc_dec[fid]
        if fmt == "b":
            fields[fid] = bytes.fromhex(value)
            continue
        if not _check_content(fmt, value):
            raise DecodeError(
                "bad_field", f"content does not match format {fmt!r}", field=fid, mti=mti, salvaged=_salvage(doc_dec, dialect)
            )
        fields[fid] = value
    return fields


# -- encode ----------------------------------------------------------------------


def encode(message: Message, dialect: Dialect) -> bytes:
    """Encode a :class:`Message`; the bitmaps are computed. Raises :class:`EncodeError`."""
    unexpected: str | None = None
    try:
        return _encode(message, dialect)
    except EncodeError as exc:
        error = exc
    except Exception as exc:  # defensive
        unexpected = type(exc).__name__
    if unexpected is not None:
        raise EncodeError("malformed", f"unexpected {unexpected} while encoding")
    error.__context__ = None
    error.__cause__ = None
    raise error


def _encode(message: Message, dialect: Dialect) -> bytes:
    if not isinstance(message, Message):
        raise EncodeError("malformed", f"expected Message, got {type(message).__name__}")
    header = b""
    if dialect.tpdu:
        if message.tpdu is None or len(message.tpdu) != 5 or message.tpdu[0] != 0x60:
            raise EncodeError("bad_header", "dialect needs a 5-byte TPDU starting 0x60", field="h")
        header = message.tpdu
    elif message.tpdu is not None:
        raise EncodeError("bad_header", "dialect has no TPDU", field="h")

    mti = message.mti
    if not _is_mti(mti):
        raise EncodeError("bad_mti", "MTI is not 4 ASCII digits", field="t")
    if dialect.mtis and mti not in dialect.mtis:
        raise EncodeError("bad_mti", f"MTI {mti} is not supported by dialect {dialect.name}", field="t")
    if not message.fields:
        raise EncodeError("bad_bitmap", "a message needs at least one data field", field="p")

    defined = dialect.data_field_set
    doc: dict[str, str] = {"t": mti}
    for fid, value in message.fields.items():
        if fid not in defined:
            raise EncodeError("unknown_field", "field is not defined by the dialect", field=fid)
        fmt = dialect.formats[fid]
        if fmt == "b":
            if not isinstance(value, bytes):
                raise EncodeError("bad_field", "binary field needs bytes", field=fid)
            doc[fid] = value.hex().upper()
            continue
        if not isinstance(value, str):
            raise EncodeError("bad_field", "text field needs str", field=fid)
        if not _check_content(fmt, value):
            raise EncodeError("bad_field", f"content does not match format {fmt!r}", field=fid)
        doc[fid] = value

    lib_error: EncodeError | None = None
    try:
        raw, _ = iso8583.encode(doc, dialect.spec)
    except iso8583.EncodeError as exc:
        e_msg = str(getattr(exc, "msg", "encode error"))
        e_field = str(getattr(exc, "field", "")) or None
        code = "bad_length" if ("expecting" in e_msg or "larger than maximum" in e_msg) else "bad_field"
        if e_field == "t":
            code = "bad_mti"
        lib_error = EncodeError(code, e_msg.split(":", 1)[0], field=e_field)
    if lib_error is not None:
        raise lib_error
    return header + bytes(raw)


# -- responses -------------------------------------------------------------------


def response_mti(request_mti: str) -> str:
    """The response MTI for a request/advice MTI: function digit + 1, repeat flag cleared.

    0100->0110, 0200/0201->0210, 0220/0221->0230, 0400->0410, 0420/0421->0430, 0800->0810.
    Raises :class:`EncodeError` (``bad_mti``) for responses and non-MTIs.
    """
    if not _is_mti(request_mti) or request_mti[2] not in "024" or request_mti[3] not in "0123":
        raise EncodeError("bad_mti", "not a request or advice MTI", field="t")
    origin = {"1": "0", "3": "2"}.get(request_mti[3], request_mti[3])
    return request_mti[:2] + str(int(request_mti[2]) + 1) + origin


def response_for(
    request: Message,
    response_code: str,
    extra_fields: Mapping[str, FieldValue] | None = None,
) -> Message:
    """Build the x1x0 response to `request`.

    Echoes fields 3, 4, 7, 11, 12, 13, 37, 41, 42, 49 (and 70 for network
    management) when present, sets 39, then applies `extra_fields` (which may
    override echoed values, e.g. 37 or 4). Never carries 2, 35 or 52: putting one
    of them in `extra_fields` raises :class:`EncodeError`. A TPDU is returned with
    destination and source swapped.
    """
    if not isinstance(response_code, str) or len(response_code) != 2 or not set(response_code) <= _AN:
        raise EncodeError("bad_field", "response code must be 2 alphanumeric characters", field="39")
    fields: dict[str, FieldValue] = {fid: request.fields[fid] for fid in ECHO_FIELDS if fid in request.fields}
    fields["39"] = response_code
    for fid, value in (extra_fields or {}).items():
        if fid in _NEVER_ECHO:
            raise EncodeError("bad_field", "responses never carry PAN, track 2 or PIN block", field=fid)
        fields[fid] = value
    tpdu = request.tpdu
    if tpdu is not None and len(tpdu) == 5:
        tpdu = tpdu[:1] + tpdu[3:5] + tpdu[1:3]
    return Message(response_mti(request.mti), fields, tpdu=tpdu)
