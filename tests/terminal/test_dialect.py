"""Dialect tests: the default layout, JSON round trip, another PSP's layout, validation errors."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from kimia.terminal.codec import DecodeError, Message, decode, encode
from kimia.terminal.dialect import KIMIA_V1, Dialect, DialectError, dialect_from_json, dialect_to_json
from kimia.terminal.mac import sign_message, verify_message


def test_kimia_v1_layout() -> None:
    expected = {
        "2": ("n", 2, 19), "3": ("n", 0, 6), "4": ("n", 0, 12), "7": ("n", 0, 10), "11": ("n", 0, 6),
        "12": ("n", 0, 6), "13": ("n", 0, 4), "14": ("n", 0, 4), "22": ("n", 0, 3), "25": ("n", 0, 2),
        "35": ("z", 2, 37), "37": ("an", 0, 12), "38": ("an", 0, 6), "39": ("an", 0, 2),
        "41": ("ans", 0, 8), "42": ("ans", 0, 15), "48": ("b", 3, 999), "49": ("n", 0, 3),
        "52": ("b", 0, 8), "54": ("ans", 3, 120), "62": ("b", 3, 999), "64": ("b", 0, 8),
        "70": ("n", 0, 3), "90": ("n", 0, 42), "95": ("ans", 0, 42), "128": ("b", 0, 8),
    }  # fmt: skip
    assert set(KIMIA_V1.data_fields) == set(expected)
    for fid, (fmt, len_type, max_len) in expected.items():
        assert KIMIA_V1.formats[fid] == fmt, fid
        assert KIMIA_V1.spec[fid]["len_type"] == len_type, fid
        assert KIMIA_V1.spec[fid]["max_len"] == max_len, fid
    assert KIMIA_V1.spec["t"]["data_enc"] == "ascii" and KIMIA_V1.spec["t"]["max_len"] == 4
    assert KIMIA_V1.spec["p"]["data_enc"] == "b" and KIMIA_V1.spec["1"]["data_enc"] == "b"
    assert KIMIA_V1.spec["h"]["max_len"] == 0
    assert KIMIA_V1.length_prefix == "binary2" and not KIMIA_V1.tpdu
    assert KIMIA_V1.mac_fields == ("64", "128")
    assert {"0100", "0200", "0220", "0400", "0420", "0421", "0800"} <= KIMIA_V1.mtis
    assert KIMIA_V1.is_binary("48") and not KIMIA_V1.is_binary("4")
    assert "PAN" in KIMIA_V1.describe("2") and KIMIA_V1.describe("99") == "99"
    assert KIMIA_V1.prefix_len == 2 and KIMIA_V1.max_payload == 65535 and KIMIA_V1.header_len == 0


def test_dialect_is_immutable_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        KIMIA_V1.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        KIMIA_V1.spec["2"]["max_len"] = 5  # type: ignore[index]
    with pytest.raises(TypeError):
        KIMIA_V1.spec["5"] = {}  # type: ignore[index]
    hash(KIMIA_V1)


def test_constructor_copies_input() -> None:
    data = dialect_to_json(KIMIA_V1)
    spec = {fid: {k: v for k, v in e.items() if k != "format"} for fid, e in data["fields"].items()}
    formats = {fid: e["format"] for fid, e in data["fields"].items() if "format" in e}
    d = Dialect(name="copy", spec=spec, formats=formats)
    spec["2"]["max_len"] = 5
    assert d.spec["2"]["max_len"] == 19


def test_json_round_trip_dict_and_file(tmp_path: Path) -> None:
    data = dialect_to_json(KIMIA_V1)
    assert dialect_from_json(data) == KIMIA_V1
    path = tmp_path / "kimia.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    assert dialect_from_json(path) == KIMIA_V1
    assert dialect_from_json(str(path)) == KIMIA_V1
    assert dialect_to_json(dialect_from_json(path)) == data


# -- another PSP: ASCII-4 length, TPDU, BCD numerics, ASCII bitmap, Persian text field ------

PSP_JSON: dict[str, Any] = {
    "name": "acme-psp",
    "length_prefix": "ascii4",
    "tpdu": True,
    "mac_fields": ["64"],
    "fields": {
        "t": {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 2, "desc": "MTI (BCD)"},
        "p": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 16, "desc": "Bitmap (hex text)"},
        "2": {"format": "n", "data_enc": "b", "len_enc": "bcd", "len_type": 1, "max_len": 19,
              "len_count": "nibbles", "right_pad": "F", "desc": "PAN (BCD)"},
        "3": {"format": "n", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 6,
              "len_count": "nibbles", "desc": "Processing code (BCD)"},
        "4": {"format": "n", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 12,
              "len_count": "nibbles", "desc": "Amount (BCD)"},
        "11": {"format": "n", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 6,
               "len_count": "nibbles", "desc": "STAN (BCD)"},
        "35": {"format": "z", "data_enc": "b", "len_enc": "bcd", "len_type": 1, "max_len": 37,
               "len_count": "nibbles", "right_pad": "F", "desc": "Track 2 (BCD)"},
        "41": {"format": "ans", "data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 8},
        "44": {"format": "text", "data_enc": "utf-8", "len_enc": "ascii", "len_type": 2, "max_len": 99,
               "desc": "Additional response text (UTF-8)"},
        "64": {"format": "b", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8},
    },
}  # fmt: skip


def test_other_psp_dialect_round_trip() -> None:
    d = dialect_from_json(PSP_JSON)
    assert d.tpdu and d.length_prefix == "ascii4" and d.header_len == 5
    assert "1" not in d.spec and d.mtis == frozenset()
    msg = Message(
        "0200",
        {"2": "6037991234567893", "3": "000000", "4": "000001500000", "11": "000123",
         "35": "6037991234567893D2912101", "41": "T0000001", "44": "سلام دنیا"},
        tpdu=bytes.fromhex("6000010002"),
    )  # fmt: skip
    raw = encode(msg, d)
    assert raw[:5] == bytes.fromhex("6000010002")
    assert raw[5:7] == b"\x02\x00"  # BCD MTI
    assert raw[7:23] == b"7020000020900000"  # ASCII hex bitmap: 2 3 4 11 35 41 44
    assert decode(raw, d) == msg
    key = bytes(16)
    assert verify_message(sign_message(msg, d, key), d, key)


def test_other_psp_rejects_non_bcd_digits() -> None:
    d = dialect_from_json(PSP_JSON)
    raw = bytearray(encode(Message("0200", {"3": "000000", "11": "000123"}, tpdu=bytes.fromhex("6000010002")), d))
    raw[-1] = 0x2A  # STAN last byte "2A": not a decimal digit
    with pytest.raises(DecodeError) as ei:
        decode(bytes(raw), d)
    assert ei.value.code == "bad_field" and ei.value.field == "11"


def test_other_psp_ascii_bitmap_errors() -> None:
    d = dialect_from_json(PSP_JSON)
    tpdu = bytes.fromhex("6000010002")
    with pytest.raises(DecodeError) as ei:
        decode(tpdu + b"\x02\x00" + b"20000000000000ZZ", d)
    assert ei.value.code == "bad_bitmap"
    with pytest.raises(DecodeError) as ei:
        decode(tpdu + b"\x02\x00" + b"2000 00000000000", d)
    assert ei.value.code == "bad_bitmap"
    with pytest.raises(DecodeError) as ei:
        decode(tpdu + b"\x02\x00" + b"A000000000000000" + b"\x00" * 3, d)
    assert ei.value.code == "bad_bitmap" and ei.value.field == "1"  # no secondary bitmap in this dialect


# -- validation errors --------------------------------------------------------------------------


def _mutate(path: list[str], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(dialect_to_json(KIMIA_V1))
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (["name"], _DELETE, "'name'"),
        (["name"], "", "name"),
        (["name"], 5, "name"),
        (["fields"], _DELETE, "'fields'"),
        (["fields"], [], "fields"),
        (["surprise"], 1, "surprise"),
        (["length_prefix"], "binary4", "length_prefix"),
        (["tpdu"], "yes", "tpdu"),
        (["mac_fields"], "64", "mac_fields"),
        (["mac_fields"], ["63"], "'63'"),
        (["mac_fields"], ["64", "64"], "mac_fields"),
        (["mtis"], ["200"], "'200'"),
        (["mtis"], "0200", "mtis"),
        (["fields", "65"], {"format": "b", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8}, "65"),
        (["fields", "129"], {"format": "b", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8}, "129"),
        (["fields", "x"], {"format": "b", "data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 8}, "'x'"),
        (["fields", "02"], {"format": "n", "data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 2}, "'02'"),
        (["fields", "h"], {"data_enc": "b", "len_enc": "b", "len_type": 0, "max_len": 5}, "tpdu"),
        (["fields", "t"], _DELETE, "'t'"),
        (["fields", "p"], _DELETE, "'p'"),
        (["fields", "1"], _DELETE, "'1'"),
        (["fields", "t", "max_len"], 3, "field 't'"),
        (["fields", "t", "format"], "n", "field 't'"),
        (["fields", "p", "max_len"], 16, "field 'p'"),
        (["fields", "2", "format"], _DELETE, "format"),
        (["fields", "2", "format"], "numeric", "format"),
        (["fields", "2", "data_enc"], "no-such-codec", "data_enc"),
        (["fields", "2", "len_enc"], "nope", "len_enc"),
        (["fields", "2", "len_type"], 9, "len_type"),
        (["fields", "2", "len_type"], True, "len_type"),
        (["fields", "2", "max_len"], 100, "does not fit"),
        (["fields", "2", "max_len"], -1, "max_len"),
        (["fields", "2", "max_len"], 0, "max_len"),
        (["fields", "2", "max_len"], "19", "max_len"),
        (["fields", "2", "len_count"], "nibbles", "nibbles"),
        (["fields", "2", "len_count"], "bits", "len_count"),
        (["fields", "2", "left_pad"], "00", "left_pad"),
        (["fields", "2", "desc"], 5, "desc"),
        (["fields", "2", "maxlen"], 19, "maxlen"),
        (["fields", "2"], "n..19", "field '2'"),
        (["fields", "48", "format"], "ans", "format"),
        (["fields", "41", "format"], "b", "format 'b'"),
        (["fields", "64", "max_len"], 4, "mac field '64'"),
        (["fields", "64", "format"], "ans", "field '64'"),
        (["fields", "64"], _DELETE, "'64'"),
    ],
)
def test_validation_errors(path: list[str], value: Any, needle: str) -> None:
    with pytest.raises(DialectError) as ei:
        dialect_from_json(_mutate(path, value))
    assert needle in str(ei.value)


def test_validation_needs_a_data_field() -> None:
    data = dialect_to_json(KIMIA_V1)
    data["fields"] = {k: v for k, v in data["fields"].items() if k in ("t", "p")}
    data["mac_fields"] = []
    with pytest.raises(DialectError, match="at least one data field"):
        dialect_from_json(data)


def test_top_level_not_object() -> None:
    with pytest.raises(DialectError, match="JSON object"):
        dialect_from_json([])  # type: ignore[arg-type]


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DialectError, match="cannot read"):
        dialect_from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DialectError, match="not valid JSON") as ei:
        dialect_from_json(bad)
    assert str(bad) in str(ei.value)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"name": "x", "fields": {"t": {}}}), encoding="utf-8")
    with pytest.raises(DialectError, match="missing 'data_enc'") as ei:
        dialect_from_json(wrong)
    assert str(wrong) in str(ei.value)


def test_direct_constructor_validates() -> None:
    with pytest.raises(DialectError):
        Dialect(name="x", spec={"t": KIMIA_V1.spec["t"]}, formats={})
    with pytest.raises(DialectError, match="undefined field"):
        Dialect(name="x", spec=dict(KIMIA_V1.spec), formats={**KIMIA_V1.formats, "5": "n"})
    with pytest.raises(DialectError, match="length_prefix"):
        Dialect(name="x", spec=dict(KIMIA_V1.spec), formats=dict(KIMIA_V1.formats), length_prefix="x")  # type: ignore[arg-type]
