"""Field 48 TLV tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimia.terminal.tlv import (
    BL,
    MK,
    RL,
    TAGS,
    BasketLine,
    TlvError,
    decode_tlv,
    encode_tlv,
    format_member_key,
    parse_member_key,
    tlv_get,
    tlv_get_all,
)


def test_simple_round_trip() -> None:
    items = [("MK", "M:+989121234567"), ("RP", "500")]
    raw = encode_tlv(items)
    assert raw == b"MK015M:+989121234567RP003500"
    assert decode_tlv(raw) == items


def test_persian_round_trip_counts_bytes() -> None:
    line = "امتیاز شما: ۱۲۵۰"  # 16 characters, 29 UTF-8 bytes
    assert len(line) == 16 and len(line.encode("utf-8")) == 29
    raw = encode_tlv([(RL, line), ("TR", "طلایی")])
    assert raw[:5] == b"RL029"
    assert raw[5:34].decode("utf-8") == line
    assert raw[34:39] == b"TR010"  # 5 letters x 2 bytes
    assert decode_tlv(raw) == [(RL, line), ("TR", "طلایی")]


def test_repeated_tags_keep_order() -> None:
    items = [(BL, "G1|dairy|1|100"), (RL, "خط ۱"), (BL, "G2||2.5|250"), (RL, "خط ۲"), (BL, "G3|x|1|1")]
    back = decode_tlv(encode_tlv(items))
    assert back == items
    assert tlv_get_all(back, BL) == ["G1|dairy|1|100", "G2||2.5|250", "G3|x|1|1"]
    assert tlv_get(back, RL) == "خط ۱"
    assert tlv_get(back, "VC") is None


def test_empty() -> None:
    assert encode_tlv([]) == b""
    assert decode_tlv(b"") == []


def test_empty_value_and_max_value() -> None:
    items = [("NT", ""), ("VC", "x" * 999)]
    raw = encode_tlv(items, max_bytes=2000)
    assert decode_tlv(raw) == items


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"MK", "truncated"),
        (b"MK01", "truncated"),
        (b"MK010abc", "truncated"),
        (b"MK003abcRP", "truncated"),
        (b"mk003abc", "bad_tag"),
        (b"M-003abc", "bad_tag"),
        (b"\xd8\xa7K003abc", "bad_tag"),
        (b"MK0a3abc", "bad_length"),
        (b"MK+03abc", "bad_length"),
        (b"MK 03abc", "bad_length"),
        (b"MK001\xd8", "bad_value"),  # cut in the middle of a Persian letter
        (b"MK003\xff\xfe\xfd", "bad_value"),
    ],
)
def test_decode_errors(raw: bytes, code: str) -> None:
    with pytest.raises(TlvError) as ei:
        decode_tlv(raw)
    assert ei.value.code == code


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(TlvError) as ei:
        decode_tlv("MK003abc")  # type: ignore[arg-type]
    assert ei.value.code == "bad_value"


def test_strict_rejects_unknown_tag() -> None:
    raw = b"ZZ001x"
    assert decode_tlv(raw) == [("ZZ", "x")]
    with pytest.raises(TlvError) as ei:
        decode_tlv(raw, strict=True)
    assert ei.value.code == "unknown_tag" and ei.value.tag == "ZZ"


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([("M", "x")], "bad_tag"),
        ([("mk", "x")], "bad_tag"),
        ([("MKX", "x")], "bad_tag"),
        ([("MK", "\ud800")], "bad_value"),
        ([("MK", 5)], "bad_value"),
        ([("MK", "x" * 1000)], "too_long"),
        ([("RL", "ب" * 500)], "too_long"),  # 1000 bytes
        ([("RL", "x" * 600), ("RL", "y" * 600)], "too_long"),  # total over 999
    ],
)
def test_encode_errors(items: list[tuple[str, str]], code: str) -> None:
    with pytest.raises(TlvError) as ei:
        encode_tlv(items)
    assert ei.value.code == code


def test_errors_do_not_leak_values() -> None:
    with pytest.raises(TlvError) as ei:
        decode_tlv(b"NC0100012345678MK")
    assert "0012345678" not in str(ei.value)


def test_tag_registry() -> None:
    expected = {"MK", "BL", "RP", "RC", "VC", "RL", "BP", "BC", "TR", "HR", "OR", "LG", "MB", "NC", "ST", "EX", "NT", "CU", "KE", "KC", "KV", "PN", "OT", "SN", "AD", "BK"}
    assert set(TAGS) == expected
    assert all(len(t) == 2 and meaning for t, meaning in TAGS.items())


def test_member_key() -> None:
    assert parse_member_key("M:+989121234567") == ("M", "+989121234567")
    assert parse_member_key("N:0012345678") == ("N", "0012345678")
    assert parse_member_key("A:acc:42") == ("A", "acc:42")
    assert format_member_key("C", "club-card") == "C:club-card"
    for bad in ("X:1", "M:", "M", ":1"):
        with pytest.raises(TlvError):
            parse_member_key(bad)
    with pytest.raises(TlvError):
        format_member_key("Z", "1")
    assert MK == "MK"


def test_basket_line() -> None:
    line = BasketLine.parse("G-1001|dairy|2|1500000")
    assert line == BasketLine("G-1001", "dairy", "2", 1_500_000)
    assert line.format() == "G-1001|dairy|2|1500000"
    assert BasketLine.parse("G2||1.250|0").qty == "1.250"
    for bad in ("G|x|1", "|x|1|1", "G|x|a|1", "G|x|1|-5", "G|x|۱|1", "G|x|1|1|extra"):
        with pytest.raises(TlvError):
            BasketLine.parse(bad)
    with pytest.raises(TlvError):
        BasketLine("a|b", "", "1", 1).format()


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2),
            st.text(max_size=40).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)),
        ),
        max_size=10,
    )
)
def test_round_trip_property(items: list[tuple[str, str]]) -> None:
    assert decode_tlv(encode_tlv(items, max_bytes=10_000)) == items


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_fuzz_only_tlv_error(raw: bytes) -> None:
    try:
        decode_tlv(raw)
    except TlvError:
        pass
