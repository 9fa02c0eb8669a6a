"""AES-CMAC tests: RFC 4493 known answers, sign/verify, tamper detection."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from kimia.terminal.codec import DecodeError, Message, decode, encode
from kimia.terminal.dialect import KIMIA_V1, dialect_from_json, dialect_to_json
from kimia.terminal.mac import MacError, compute_mac, mac_field_for, sign_message, verify_mac, verify_message

RFC_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
KEY256 = bytes(range(32))

BASE = {
    "3": "000000",
    "4": "000001500000",
    "7": "0321083000",
    "11": "000123",
    "12": "083000",
    "13": "0321",
    "41": "T0000001",
    "42": "M00000000000001",
    "49": "364",
}


def test_rfc4493_empty_message() -> None:
    c = cmac.CMAC(algorithms.AES(RFC_KEY))
    c.update(b"")
    assert c.finalize() == bytes.fromhex("bb1d6929e95937287fa37d129b756746")
    assert compute_mac(b"", RFC_KEY) == bytes.fromhex("bb1d6929e9593728")


def test_rfc4493_one_block() -> None:
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert compute_mac(msg, RFC_KEY) == bytes.fromhex("070a16b46b4d4144")


def test_rfc4493_40_bytes() -> None:
    msg = bytes.fromhex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411"
    )
    assert compute_mac(msg, RFC_KEY) == bytes.fromhex("dfa66747de9ae630")


def test_verify_mac() -> None:
    mac = compute_mac(b"hello", KEY)
    assert verify_mac(b"hello", mac, KEY)
    assert not verify_mac(b"hellp", mac, KEY)
    assert not verify_mac(b"hello", mac[:7], KEY)
    assert not verify_mac(b"hello", bytes(8), KEY)
    assert not verify_mac(b"hello", mac, KEY256)


@pytest.mark.parametrize("key", [b"", b"x" * 8, b"x" * 15, b"x" * 24, b"x" * 33, "k" * 16])
def test_bad_keys(key: bytes) -> None:
    with pytest.raises(MacError) as ei:
        compute_mac(b"data", key)
    assert ei.value.code == "bad_key"


@pytest.mark.parametrize("key", [KEY, KEY256])
def test_sign_and_verify(key: bytes) -> None:
    msg = Message("0200", dict(BASE))
    raw = sign_message(msg, KIMIA_V1, key)
    assert verify_message(raw, KIMIA_V1, key)
    # the covered bytes are the message encoded with 8 zero MAC bytes, minus those 8 bytes
    placeholder = encode(Message("0200", {**BASE, "64": bytes(8)}), KIMIA_V1)
    assert raw[:-8] == placeholder[:-8]
    assert raw[-8:] == compute_mac(placeholder[:-8], key)


def test_wrong_key_fails() -> None:
    raw = sign_message(Message("0200", dict(BASE)), KIMIA_V1, KEY)
    assert not verify_message(raw, KIMIA_V1, bytes(16))


def test_every_tampered_byte_is_detected() -> None:
    raw = sign_message(Message("0200", dict(BASE)), KIMIA_V1, KEY)
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        try:
            ok = verify_message(bytes(tampered), KIMIA_V1, KEY)
        except DecodeError:
            continue  # no longer a well-formed message: answered 30, never approved
        assert not ok, f"tamper at byte {i} not detected"


def test_amount_change_is_detected() -> None:
    raw = sign_message(Message("0200", dict(BASE)), KIMIA_V1, KEY)
    tampered = raw.replace(b"000001500000", b"000009500000")
    assert tampered != raw
    assert not verify_message(tampered, KIMIA_V1, KEY)


def test_mac_in_128_with_secondary_fields() -> None:
    msg = Message("0420", {**BASE, "90": "020000012303210830000000000001100000000011"})
    assert mac_field_for(msg, KIMIA_V1) == "128"
    raw = sign_message(msg, KIMIA_V1, KEY)
    decoded = decode(raw, KIMIA_V1)
    assert "128" in decoded.fields and "64" not in decoded.fields
    assert verify_message(raw, KIMIA_V1, KEY)


def test_existing_mac_is_replaced() -> None:
    msg = Message("0200", {**BASE, "64": b"\xff" * 8})
    raw = sign_message(msg, KIMIA_V1, KEY)
    assert verify_message(raw, KIMIA_V1, KEY)
    assert msg.fields["64"] == b"\xff" * 8  # input not modified


def test_missing_or_misplaced_mac_fails() -> None:
    unsigned = encode(Message("0200", dict(BASE)), KIMIA_V1)
    assert not verify_message(unsigned, KIMIA_V1, KEY)
    # a MAC in 64 although the message has a secondary field
    both = encode(Message("0420", {**BASE, "90": "0" * 42, "64": bytes(8)}), KIMIA_V1)
    assert not verify_message(both, KIMIA_V1, KEY)
    # both 64 and 128
    signed = sign_message(Message("0420", {**BASE, "90": "0" * 42}), KIMIA_V1, KEY)
    decoded = decode(signed, KIMIA_V1)
    decoded.fields["64"] = bytes(8)
    assert not verify_message(encode(decoded, KIMIA_V1), KIMIA_V1, KEY)


def test_malformed_input_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        verify_message(b"garbage", KIMIA_V1, KEY)


def test_dialect_without_mac_fields() -> None:
    data = dialect_to_json(KIMIA_V1)
    data.update(name="no-mac", mac_fields=[])
    d = dialect_from_json(data)
    with pytest.raises(MacError) as ei:
        sign_message(Message("0200", dict(BASE)), d, KEY)
    assert ei.value.code == "no_mac_field"
    assert not verify_message(encode(Message("0200", dict(BASE)), d), d, KEY)
