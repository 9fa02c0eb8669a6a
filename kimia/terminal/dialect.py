"""ISO 8583 dialects: one field layout plus framing and MAC options per counterpart.

A :class:`Dialect` bundles everything that differs between two ISO 8583 links:

* the pyiso8583 *spec dict* (per field: ``data_enc``, ``len_enc``, ``len_type``,
  ``max_len``, optional ``len_count``/``left_pad``/``right_pad``, ``desc``);
* a content *format* per field, checked by :mod:`kimia.terminal.codec` because
  pyiso8583 itself never validates content (``"3": "ABCDEF"`` encodes fine);
* framing: a 2-byte big-endian binary length prefix (default) or 4 ASCII digits,
  optionally followed by a 5-byte TPDU (``60 DDDD SSSS``);
* which fields carry the MAC (64 when the message has no secondary bitmap,
  128 otherwise);
* optionally the set of MTIs the dialect accepts.

Another PSP's layout is a JSON file read by :func:`dialect_from_json`, not new code.
The JSON shape is exactly what :func:`dialect_to_json` produces::

    {
      "name": "acme-psp-v2",
      "length_prefix": "binary2",          # or "ascii4"
      "tpdu": false,
      "mac_fields": ["64", "128"],         # [] when the link carries no MAC
      "mtis": ["0200", "0210"],            # optional; [] or absent = any 4-digit MTI
      "fields": {
        "t": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 4},
        "p": {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8},
        "2": {"format": "n", "data_enc": "ascii", "len_enc": "ascii",
              "len_type": 2, "max_len": 19, "desc": "PAN"}
      }
    }

Field formats: ``n`` digits 0-9 only (ASCII, or BCD when ``data_enc`` is ``b``),
``an`` ASCII letters/digits/space, ``ans`` printable ASCII, ``z`` track-2 data
(digits plus ``=`` or ``D`` separator), ``text`` anything the codec decodes
(e.g. UTF-8 Persian), ``b`` raw bytes (``data_enc`` must be ``b``; the codec gives
``bytes`` for these and ``str`` for every other format).
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from kimia.plugins.hookspecs import hookimpl
from kimia.plugins.types import DialectSpec

if TYPE_CHECKING:
    import pluggy

__all__ = [
    "BUILTIN_DIALECTS",
    "FORMATS",
    "KIMIA_V1",
    "LENGTH_PREFIXES",
    "Dialect",
    "DialectError",
    "LengthPrefix",
    "dialect_from_json",
    "dialect_of",
    "dialect_to_json",
    "registered_dialects",
    "resolve_dialect",
    "spec_of",
]

LengthPrefix = Literal["binary2", "ascii4"]
LENGTH_PREFIXES: Final[tuple[str, ...]] = ("binary2", "ascii4")
FORMATS: Final[tuple[str, ...]] = ("n", "an", "ans", "z", "text", "b")

# pyiso8583 4.x treats bit 65 as the tertiary-bitmap indicator and silently drops
# data put in field "65", so no dialect may define it.
_FORBIDDEN_FIELDS: Final = frozenset({"65"})
_SPECIAL_KEYS: Final = ("t", "p", "1")
_SPEC_KEYS: Final = frozenset(
    {"data_enc", "len_enc", "len_type", "max_len", "len_count", "left_pad", "right_pad", "desc"}
)
_JSON_FIELD_KEYS: Final = _SPEC_KEYS | {"format"}
_TOP_KEYS: Final = frozenset({"name", "length_prefix", "tpdu", "mac_fields", "mtis", "fields"})
# The header "h" is always disabled for pyiso8583: the optional TPDU is handled by the codec.
_NO_HEADER: Final[Mapping[str, Any]] = MappingProxyType(
    {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 0, "desc": "Message Header (unused)"}
)

SpecMapping = Mapping[str, Mapping[str, Any]]


class DialectError(ValueError):
    """A dialect definition (dict or JSON file) is invalid. The message names the offending key."""


def _is_codec(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _max_len_for_prefix(len_enc: str, len_type: int, len_count: str) -> int:
    """Largest length value a length prefix of `len_type` bytes can express."""
    if len_enc == "b":
        return int(256**len_type - 1)
    # BCD: two decimal digits per byte; text: one digit per byte.
    digits = len_type * 2 if len_enc == "bcd" else len_type
    return int(10**digits - 1)


def _check_field_id(fid: object) -> None:
    """A field id is 't', 'p', '1' or a number 2..128 that can carry data."""
    if not isinstance(fid, str):
        raise DialectError(f"field ids must be strings, got {fid!r}")
    if fid in _SPECIAL_KEYS:
        return
    if not fid.isascii() or not fid.isdigit() or fid != str(int(fid)) or not 2 <= int(fid) <= 128:
        raise DialectError(f"field id {fid!r} is not 't', 'p', '1' or a number 2..128")
    if fid in _FORBIDDEN_FIELDS:
        raise DialectError("field '65' cannot carry data: pyiso8583 4.x uses bit 65 as the tertiary bitmap flag")


def _checked_mac_fields(mac_fields: tuple[str, ...], spec: Mapping[str, Mapping[str, Any]], formats: Mapping[str, str]) -> tuple[str, ...]:
    """At most two distinct MAC fields, each the fixed 8-byte binary last field of its bitmap."""
    if len(mac_fields) > 2 or len(set(mac_fields)) != len(mac_fields):
        raise DialectError("mac_fields holds at most two distinct fields (64 and/or 128)")
    for mf in mac_fields:
        if mf not in ("64", "128"):
            raise DialectError(f"mac field {mf!r} must be '64' or '128' (the last field of its bitmap)")
        if mf not in spec:
            raise DialectError(f"mac field {mf!r} is not defined in the field spec")
        mspec = spec[mf]
        if formats.get(mf) != "b" or mspec["len_type"] != 0 or mspec["max_len"] != 8:
            raise DialectError(f"mac field {mf!r} must be fixed 8-byte binary (format 'b', max_len 8)")
    return mac_fields


def _check_field(fid: str, raw: Mapping[str, Any], fmt: str | None) -> None:
    where = f"field {fid!r}"
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise DialectError(f"{where}: unknown key(s) {sorted(unknown)}")
    for key in ("data_enc", "len_enc", "len_type", "max_len"):
        if key not in raw:
            raise DialectError(f"{where}: missing {key!r}")
    data_enc = raw["data_enc"]
    len_enc = raw["len_enc"]
    len_type = raw["len_type"]
    max_len = raw["max_len"]
    len_count = raw.get("len_count", "bytes")
    if data_enc != "b" and not _is_codec(data_enc):
        raise DialectError(f"{where}: data_enc must be 'b' or a Python codec name, got {data_enc!r}")
    if len_enc not in ("b", "bcd") and not _is_codec(len_enc):
        raise DialectError(f"{where}: len_enc must be 'b', 'bcd' or a Python codec name, got {len_enc!r}")
    if not isinstance(len_type, int) or isinstance(len_type, bool) or not 0 <= len_type <= 4:
        raise DialectError(f"{where}: len_type must be an integer 0..4, got {len_type!r}")
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 0:
        raise DialectError(f"{where}: max_len must be a non-negative integer, got {max_len!r}")
    if len_count not in ("bytes", "nibbles"):
        raise DialectError(f"{where}: len_count must be 'bytes' or 'nibbles', got {len_count!r}")
    if len_count == "nibbles" and data_enc != "b":
        raise DialectError(f"{where}: len_count 'nibbles' needs data_enc 'b' (BCD)")
    for pad_key in ("left_pad", "right_pad"):
        if pad_key in raw:
            pad = raw[pad_key]
            if not isinstance(pad, str) or len(pad) != 1 or pad.upper() not in "0123456789ABCDEF":
                raise DialectError(f"{where}: {pad_key} must be one hex character, got {pad!r}")
    if "desc" in raw and not isinstance(raw["desc"], str):
        raise DialectError(f"{where}: desc must be a string")

    if fid == "t":
        if len_type != 0:
            raise DialectError(f"{where}: the MTI is fixed length (len_type 0)")
        expected = 2 if data_enc == "b" else 4
        if max_len != expected:
            raise DialectError(f"{where}: MTI max_len must be {expected} for data_enc {data_enc!r}")
        return
    if fid in ("p", "1"):
        if len_type != 0:
            raise DialectError(f"{where}: bitmaps are fixed length (len_type 0)")
        expected = 8 if data_enc == "b" else 16
        if max_len != expected:
            raise DialectError(
                f"{where}: a {'binary' if data_enc == 'b' else 'text'} bitmap needs max_len {expected}"
            )
        return

    if max_len == 0:
        raise DialectError(f"{where}: max_len must be positive")
    if len_type > 0 and max_len > _max_len_for_prefix(len_enc, len_type, len_count):
        raise DialectError(f"{where}: max_len {max_len} does not fit a {len_type}-byte {len_enc!r} length")
    if fmt is None:
        raise DialectError(f"{where}: missing 'format' (one of {', '.join(FORMATS)})")
    if fmt not in FORMATS:
        raise DialectError(f"{where}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "b" and (data_enc != "b" or len_count != "bytes"):
        raise DialectError(f"{where}: format 'b' needs data_enc 'b' and len_count 'bytes'")
    if data_enc == "b" and fmt not in ("b", "n", "z"):
        raise DialectError(f"{where}: data_enc 'b' holds binary or BCD data; format {fmt!r} is not allowed")


def _field_sort_key(fid: str) -> tuple[int, int]:
    order = {"h": -4, "t": -3, "p": -2}
    if fid in order:
        return (order[fid], 0)
    return (0, int(fid))


@dataclass(frozen=True)
class Dialect:
    """One counterpart's ISO 8583 layout, framing and MAC placement (immutable).

    Build it directly (the constructor validates everything and raises
    :class:`DialectError`) or from JSON with :func:`dialect_from_json`.

    ``spec`` is the pyiso8583 spec dict *without* the ``format`` keys (those are in
    ``formats``); it always contains ``"h"`` (disabled), ``"t"``, ``"p"`` and, when a
    field above 64 is defined, ``"1"``. It is stored read-only.
    """

    name: str
    spec: SpecMapping = field(hash=False)
    formats: Mapping[str, str] = field(hash=False)
    length_prefix: LengthPrefix = "binary2"
    tpdu: bool = False
    mac_fields: tuple[str, ...] = ("64", "128")
    mtis: frozenset[str] = frozenset()
    _data_fields: tuple[str, ...] = field(init=False, repr=False, compare=False, hash=False, default=())
    _data_field_set: frozenset[str] = field(init=False, repr=False, compare=False, hash=False, default=frozenset())

    def __post_init__(self) -> None:
        self._check_settings()
        ordered = self._checked_spec()
        mac_fields = _checked_mac_fields(tuple(self.mac_fields), ordered, self.formats)
        mtis = frozenset(self.mtis)
        for mti in mtis:
            if not isinstance(mti, str) or len(mti) != 4 or not all(c in "0123456789" for c in mti):
                raise DialectError(f"mti {mti!r} is not 4 ASCII digits")
        object.__setattr__(self, "spec", MappingProxyType(ordered))
        object.__setattr__(self, "formats", MappingProxyType(dict(self.formats)))
        object.__setattr__(self, "mac_fields", mac_fields)
        object.__setattr__(self, "mtis", mtis)
        # Asked for on every message: computed once (the dialect is frozen).
        object.__setattr__(self, "_data_fields", tuple(f for f in ordered if f not in ("h", "t", "p", "1")))
        object.__setattr__(self, "_data_field_set", frozenset(ordered) - {"h", "t", "p", "1"})

    def _check_settings(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise DialectError("name must be a non-empty string")
        if self.length_prefix not in LENGTH_PREFIXES:
            raise DialectError(f"length_prefix must be one of {LENGTH_PREFIXES}, got {self.length_prefix!r}")
        if not isinstance(self.tpdu, bool):
            raise DialectError("tpdu must be true or false")
        if not isinstance(self.spec, Mapping):
            raise DialectError("spec must be a mapping of field id to field spec")
        if not isinstance(self.formats, Mapping):
            raise DialectError("formats must be a mapping of field id to format")

    def _checked_spec(self) -> dict[str, Mapping[str, Any]]:
        """Every field's spec checked, the TPDU header replaced, in field order."""
        spec: dict[str, Mapping[str, Any]] = {}
        for fid, fspec in self.spec.items():
            if fid == "h":
                continue  # always replaced: the TPDU is handled by the codec
            _check_field_id(fid)
            if not isinstance(fspec, Mapping):
                raise DialectError(f"field {fid!r}: spec must be a mapping")
            fmt = self.formats.get(fid)
            if fid in _SPECIAL_KEYS and fmt is not None:
                raise DialectError(f"field {fid!r}: MTI and bitmaps take no 'format'")
            _check_field(fid, fspec, fmt)
            spec[fid] = MappingProxyType(dict(fspec))
        for fid in self.formats:
            if fid not in spec:
                raise DialectError(f"format given for undefined field {fid!r}")
        for required in ("t", "p"):
            if required not in spec:
                raise DialectError(f"missing required field {required!r}")
        data_fields = [f for f in spec if f not in _SPECIAL_KEYS]
        if not data_fields:
            raise DialectError("a dialect needs at least one data field")
        if any(int(f) > 64 for f in data_fields) and "1" not in spec:
            raise DialectError("fields above 64 are defined, so the secondary bitmap '1' must be too")
        spec["h"] = _NO_HEADER
        return {k: spec[k] for k in sorted(spec, key=_field_sort_key)}

    # -- helpers -----------------------------------------------------------------

    @property
    def data_fields(self) -> tuple[str, ...]:
        """Data element ids (``"2"``..``"128"``) defined by this dialect, in numeric order."""
        return self._data_fields

    @property
    def data_field_set(self) -> frozenset[str]:
        """The same ids as a set, for membership tests."""
        return self._data_field_set

    @property
    def prefix_len(self) -> int:
        """Number of bytes in the frame length prefix."""
        return 2 if self.length_prefix == "binary2" else 4

    @property
    def max_payload(self) -> int:
        """Largest payload the length prefix can express."""
        return 0xFFFF if self.length_prefix == "binary2" else 9999

    @property
    def header_len(self) -> int:
        """Bytes in front of the MTI inside a frame payload (5 with a TPDU, else 0)."""
        return 5 if self.tpdu else 0

    def is_binary(self, fid: str) -> bool:
        """True when the codec represents this field as ``bytes``."""
        return self.formats.get(fid) == "b"

    def describe(self, fid: str) -> str:
        """Human description of a field (``desc`` in the spec), or the id itself."""
        fspec = self.spec.get(fid)
        if fspec is None:
            return fid
        return str(fspec.get("desc", fid))


# -- the default dialect ---------------------------------------------------------


def _n(max_len: int, desc: str, len_type: int = 0) -> dict[str, Any]:
    return {"data_enc": "ascii", "len_enc": "ascii", "len_type": len_type, "max_len": max_len, "desc": desc}


def _b(max_len: int, desc: str, len_type: int = 0) -> dict[str, Any]:
    return {"data_enc": "b", "len_enc": "ascii", "len_type": len_type, "max_len": max_len, "desc": desc}


_KIMIA_V1_FIELDS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "t": ("", _n(4, "Message Type Indicator")),
    "p": ("", {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8, "desc": "Bitmap, Primary"}),
    "1": ("", {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8, "desc": "Bitmap, Secondary"}),
    "2": ("n", _n(19, "Primary Account Number (PAN)", 2)),
    "3": ("n", _n(6, "Processing Code")),
    "4": ("n", _n(12, "Amount, Transaction (rials, exponent 0)")),
    "7": ("n", _n(10, "Transmission Date and Time (MMDDhhmmss, GMT)")),
    "11": ("n", _n(6, "System Trace Audit Number (STAN)")),
    "12": ("n", _n(6, "Time, Local Transaction (hhmmss)")),
    "13": ("n", _n(4, "Date, Local Transaction (MMDD)")),
    "14": ("n", _n(4, "Date, Expiration (YYMM)")),
    "22": ("n", _n(3, "POS Entry Mode")),
    "25": ("n", _n(2, "POS Condition Code")),
    "35": ("z", _n(37, "Track 2 Data", 2)),
    "37": ("an", _n(12, "Retrieval Reference Number (RRN)")),
    "38": ("an", _n(6, "Authorization Identification Response")),
    "39": ("an", _n(2, "Response Code")),
    "41": ("ans", _n(8, "Card Acceptor Terminal Identification")),
    "42": ("ans", _n(15, "Card Acceptor Identification Code (merchant id)")),
    "48": ("b", _b(999, "Additional Data, Private (kimia TLV)", 3)),
    "49": ("n", _n(3, "Currency Code, Transaction (364 = IRR)")),
    "52": ("b", _b(8, "PIN Data")),
    "54": ("ans", _n(120, "Additional Amounts (balances)", 3)),
    "62": ("b", _b(999, "Reserved Private (binary)", 3)),
    "64": ("b", _b(8, "Message Authentication Code (MAC)")),
    "70": ("n", _n(3, "Network Management Information Code")),
    "90": ("n", _n(42, "Original Data Elements")),
    "95": ("ans", _n(42, "Replacement Amounts (partial reversal)")),
    "128": ("b", _b(8, "Message Authentication Code (MAC), secondary")),
}

KIMIA_MTIS: Final = frozenset(
    {
        "0100", "0110", "0120", "0130",
        "0200", "0201", "0210", "0220", "0221", "0230",
        "0400", "0401", "0410", "0420", "0421", "0430",
        "0800", "0801", "0810",
    }
)  # fmt: skip

KIMIA_V1: Final = Dialect(
    name="kimia-v1",
    spec={fid: fspec for fid, (_, fspec) in _KIMIA_V1_FIELDS.items()},
    formats={fid: fmt for fid, (fmt, _) in _KIMIA_V1_FIELDS.items() if fmt},
    length_prefix="binary2",
    tpdu=False,
    mac_fields=("64", "128"),
    mtis=KIMIA_MTIS,
)
"""kimia's own terminal dialect: ASCII MTI and numerics, binary bitmaps, 2-byte length prefix."""


# -- JSON ------------------------------------------------------------------------


def dialect_to_json(dialect: Dialect) -> dict[str, Any]:
    """The JSON-ready dict that :func:`dialect_from_json` reads back into an equal dialect."""
    fields: dict[str, Any] = {}
    for fid, fspec in dialect.spec.items():
        if fid == "h":
            continue
        entry: dict[str, Any] = {}
        if fid in dialect.formats:
            entry["format"] = dialect.formats[fid]
        entry.update(dict(fspec))
        fields[fid] = entry
    return {
        "name": dialect.name,
        "length_prefix": dialect.length_prefix,
        "tpdu": dialect.tpdu,
        "mac_fields": list(dialect.mac_fields),
        "mtis": sorted(dialect.mtis),
        "fields": fields,
    }


def dialect_from_json(path_or_dict: str | os.PathLike[str] | Mapping[str, Any]) -> Dialect:
    """Build a :class:`Dialect` from a JSON file path or an already-parsed dict.

    Raises :class:`DialectError` with a message naming the offending key for an
    unreadable file, invalid JSON or any invalid setting.
    """
    if isinstance(path_or_dict, Mapping):
        data: object = path_or_dict
        origin = "dialect"
    elif not isinstance(path_or_dict, (str, os.PathLike)):
        raise DialectError("dialect: top level must be a JSON object (dict) or a path to a JSON file")
    else:
        origin = os.fspath(path_or_dict)
        try:
            with open(origin, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise DialectError(f"{origin}: cannot read dialect file ({exc.strerror})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise DialectError(f"{origin}: not valid JSON ({exc})") from None
    try:
        return _dialect_from_mapping(data)
    except DialectError as exc:
        raise DialectError(f"{origin}: {exc}") from None


def _dialect_from_mapping(data: object) -> Dialect:
    if not isinstance(data, Mapping):
        raise DialectError("top level must be a JSON object")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise DialectError(f"unknown top-level key(s) {sorted(unknown)}")
    for key in ("name", "fields"):
        if key not in data:
            raise DialectError(f"missing {key!r}")
    name = data["name"]
    if not isinstance(name, str):
        raise DialectError("'name' must be a string")
    length_prefix = data.get("length_prefix", "binary2")
    if length_prefix not in LENGTH_PREFIXES:
        raise DialectError(f"'length_prefix' must be one of {list(LENGTH_PREFIXES)}, got {length_prefix!r}")
    tpdu = data.get("tpdu", False)
    if not isinstance(tpdu, bool):
        raise DialectError("'tpdu' must be true or false")
    mac_fields = data.get("mac_fields", ["64", "128"])
    if not isinstance(mac_fields, list) or not all(isinstance(m, str) for m in mac_fields):
        raise DialectError("'mac_fields' must be a list of field ids as strings")
    mtis = data.get("mtis", [])
    if not isinstance(mtis, list) or not all(isinstance(m, str) for m in mtis):
        raise DialectError("'mtis' must be a list of 4-digit strings")
    raw_fields = data["fields"]
    if not isinstance(raw_fields, Mapping):
        raise DialectError("'fields' must be an object of field id -> field spec")
    spec: dict[str, dict[str, Any]] = {}
    formats: dict[str, str] = {}
    for fid, entry in raw_fields.items():
        if not isinstance(entry, Mapping):
            raise DialectError(f"field {fid!r}: spec must be an object")
        unknown = set(entry) - _JSON_FIELD_KEYS
        if unknown:
            raise DialectError(f"field {fid!r}: unknown key(s) {sorted(unknown)}")
        entry_d = dict(entry)
        fmt = entry_d.pop("format", None)
        if fmt is not None:
            if not isinstance(fmt, str):
                raise DialectError(f"field {fid!r}: format must be a string")
            formats[str(fid)] = fmt
        spec[str(fid)] = entry_d
    if "h" in spec:
        raise DialectError("field 'h' is not supported; use \"tpdu\": true for a 5-byte TPDU header")
    return Dialect(
        name=name,
        spec=spec,
        formats=formats,
        length_prefix=cast(LengthPrefix, length_prefix),
        tpdu=tpdu,
        mac_fields=tuple(mac_fields),
        mtis=frozenset(mtis),
    )



# -- dialects as plugins ---------------------------------------------------------------
#
# kimia's own dialects are registered through ``kimia_register_dialects`` exactly as a plugin's
# are (this module is a built-in plugin: kimia.plugins.manager.BUILTIN_PLUGINS), and the host
# resolves ``--dialect <name>`` through every registered one; a JSON layout file still works.

#: The dialects kimia itself speaks.
BUILTIN_DIALECTS: Final[tuple[Dialect, ...]] = (KIMIA_V1,)


def spec_of(dialect: Dialect, description: str = "") -> DialectSpec:
    """A dialect as the plugin contract describes it (:class:`kimia.plugins.types.DialectSpec`)."""
    return DialectSpec(
        name=dialect.name,
        spec={fid: dict(fspec) for fid, fspec in dialect.spec.items() if fid != "h"},
        formats=dict(dialect.formats),
        length_prefix=dialect.length_prefix,
        tpdu=dialect.tpdu,
        mac_fields=tuple(dialect.mac_fields),
        mtis=tuple(sorted(dialect.mtis)),
        description=description,
    )


def dialect_of(spec: DialectSpec) -> Dialect:
    """The dialect a plugin's :class:`DialectSpec` describes, checked (:class:`DialectError` names
    what is wrong). A field's ``"format"`` may sit in its spec entry, as in a JSON layout file."""
    if not isinstance(spec, DialectSpec):
        raise DialectError(f"a registered dialect must be a DialectSpec, got {type(spec).__name__}")
    fields: dict[str, dict[str, Any]] = {}
    formats = dict(spec.formats)
    for fid, entry in spec.spec.items():
        if not isinstance(entry, Mapping):
            raise DialectError(f"{spec.name}: field {fid!r}: spec must be a mapping")
        entry_d = dict(entry)
        fmt = entry_d.pop("format", None)
        if fmt is not None:
            formats.setdefault(str(fid), fmt)
        fields[str(fid)] = entry_d
    if "h" in fields:
        raise DialectError(f"{spec.name}: field 'h' is not supported; use tpdu=True for a 5-byte TPDU header")
    try:
        return Dialect(name=spec.name, spec=fields, formats=formats, length_prefix=spec.length_prefix, tpdu=spec.tpdu,
                       mac_fields=tuple(spec.mac_fields), mtis=frozenset(spec.mtis))
    except DialectError as exc:
        raise DialectError(f"{spec.name}: {exc}") from None


@hookimpl
def kimia_register_dialects() -> list[DialectSpec]:
    """kimia's own dialects, registered as any plugin's are."""
    return [spec_of(KIMIA_V1, "kimia's own layout: ASCII MTI and numerics, binary bitmaps, 2-byte length prefix")]


def registered_dialects(pm: pluggy.PluginManager) -> dict[str, tuple[str, Dialect]]:
    """name → (plugin, dialect) of every dialect the plugins register, kimia's first. Two with one
    name, or a spec that is not a valid dialect, is a :class:`DialectError` naming the plugin."""
    found: dict[str, tuple[str, Dialect]] = {}
    for impl in pm.hook.kimia_register_dialects.get_hookimpls():  # in registration order: kimia's first
        specs = cast(list[DialectSpec], impl.function() or [])
        for spec in specs:
            try:
                dialect = dialect_of(spec)
            except DialectError as exc:
                raise DialectError(f"plugin {impl.plugin_name}: {exc}") from None
            if dialect.name in found:
                raise DialectError(f"plugins {found[dialect.name][0]} and {impl.plugin_name} both register a dialect"
                                   f" named {dialect.name!r}")
            found[dialect.name] = (impl.plugin_name, dialect)
    return found


def resolve_dialect(name_or_path: str | None, pm: pluggy.PluginManager) -> Dialect:
    """The dialect ``--dialect`` names: a registered dialect's name (``kimia-v1`` when None), else
    a JSON layout file (:func:`dialect_from_json`). :class:`DialectError` lists the known names."""
    known = registered_dialects(pm)
    name = name_or_path or KIMIA_V1.name
    if name in known:
        return known[name][1]
    if name.endswith(".json") or os.path.sep in name or os.path.exists(name):
        return dialect_from_json(name)
    raise DialectError(f"no dialect named {name!r}: the registered ones are {', '.join(sorted(known))},"
                       " or give a JSON layout file")
