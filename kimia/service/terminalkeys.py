"""Terminal MAC keys at rest: encrypted under a key-encryption key (KEK) that never enters the database.

The KEK is the operator's, held as an HSM would hold it: ``KIMIA_TERMINAL_KEK`` (hex) or
``KIMIA_TERMINAL_KEK_FILE`` (a file holding the hex, readable by kimia's user only), 16, 24 or 32
bytes (AES-128/192/256). With neither, ``KIMIA_DEV_MODE=1`` allows a fixed development KEK (demos
and tests only: it is in this source file, so it protects nothing); otherwise any use of a terminal
key fails with ``terminal_kek_missing``.

A stored key (``terminals.mac_key_enc``) is ``k1:<KEK id>:<hex of nonce ‖ AES-GCM ciphertext>``,
with the terminal's ids (41, 42) as associated data, so a stored key cannot be moved to another
terminal. The KEK id is the check value of the KEK, so ``rotate-kek`` knows what each row is under.

Check values (KCV) are the first 3 bytes of AES-ECB(key, 16 zero bytes), as hex (the classic
ANSI X9.24 check value, computed with AES): they identify a key without revealing it.

Nothing here logs a key; :class:`UnwrappedKey` keeps its bytes out of ``repr``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from kimia.errors import KimiaError, reject
from kimia.settings import parse as parse_setting

__all__ = ["KEK_ENV", "KEK_FILE_ENV", "Kek", "kcv", "load_kek", "unwrap", "wrap", "wrap_for_terminal"]

KEK_ENV = "KIMIA_TERMINAL_KEK"
KEK_FILE_ENV = "KIMIA_TERMINAL_KEK_FILE"
DEV_MODE_ENV = "KIMIA_DEV_MODE"
_FORMAT = "k1"
#: The development KEK (KIMIA_DEV_MODE=1 only): public, so it protects nothing.
_DEV_KEK = hashlib.sha256(b"kimia development terminal KEK: not for production").digest()


def kcv(key: bytes) -> str:
    """The key's check value: the first 3 bytes of AES-ECB(key, zero block), upper-case hex."""
    encryptor = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()  # noqa: S305 - one block, a check value
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()


def _kek_error(detail: str) -> KimiaError:
    return reject("terminal_kek_missing", path=KEK_ENV, detail=detail)


@dataclass(frozen=True)
class Kek:
    """A key-encryption key; ``kid`` (its check value) names it in stored keys."""

    key: bytes = field(repr=False)
    kid: str = ""

    @classmethod
    def of(cls, key: bytes) -> Kek:
        if len(key) not in (16, 24, 32):
            raise _kek_error("a KEK is 16, 24 or 32 bytes (32, 48 or 64 hex digits)")
        return cls(bytes(key), kcv(key))

    @classmethod
    def from_hex(cls, text: str) -> Kek:
        try:
            return cls.of(bytes.fromhex(text.strip()))
        except ValueError:
            raise _kek_error("not hexadecimal") from None

    @classmethod
    def from_file(cls, path: str | Path) -> Kek:
        try:
            return cls.from_hex(Path(path).read_text(encoding="ascii"))
        except OSError as exc:
            raise _kek_error(f"cannot read {path}: {exc.strerror}") from None


def load_kek() -> Kek:
    """The KEK of the settings (read afresh each time: a rotated KEK takes effect without a restart)."""
    text = os.environ.get(KEK_ENV, "").strip()
    if text:
        return Kek.from_hex(text)
    path = os.environ.get(KEK_FILE_ENV, "").strip()
    if path:
        return Kek.from_file(path)
    if parse_setting("dev_mode", os.environ.get(DEV_MODE_ENV, "")):  # read as kimia.settings reads it
        return Kek.of(_DEV_KEK)
    raise _kek_error("not set (KIMIA_DEV_MODE=1 allows the development KEK, for demos and tests only)")


def _aad(terminal_code: str, merchant_code: str) -> bytes:
    return f"kimia-terminal-mac-key|{terminal_code.strip()}|{merchant_code.strip()}".encode()


def wrap(kek: Kek, key: bytes, terminal_code: str, merchant_code: str) -> str:
    """``key`` encrypted under ``kek`` for storage, bound to the terminal's ids."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(kek.key).encrypt(nonce, bytes(key), _aad(terminal_code, merchant_code))
    return f"{_FORMAT}:{kek.kid}:{(nonce + sealed).hex()}"


def seal(kek: Kek, data: bytes, aad: str) -> str:
    """Any secret encrypted under ``kek`` for storage, bound to ``aad`` (a plugin's sealed value)."""
    nonce = secrets.token_bytes(12)
    return f"{_FORMAT}:{kek.kid}:{(nonce + AESGCM(kek.key).encrypt(nonce, data, aad.encode())).hex()}"


def unseal(kek: Kek, stored: str, aad: str) -> bytes:
    """The clear bytes of :func:`seal`'s output; ``terminal_kek_missing`` if under another KEK or altered."""
    parts = stored.split(":")
    if len(parts) != 3 or parts[0] != _FORMAT or parts[1] != kek.kid:
        raise _kek_error("a sealed value is not under the settings' KEK")
    blob = bytes.fromhex(parts[2])
    try:
        return AESGCM(kek.key).decrypt(blob[:12], blob[12:], aad.encode())
    except InvalidTag:
        raise _kek_error("a sealed value does not decrypt (altered, or sealed for another purpose)") from None


def kek_id_of(stored: str) -> str:
    """The id of the KEK a stored key is under."""
    parts = stored.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == _FORMAT else ""


def unwrap(kek: Kek, stored: str, terminal_code: str, merchant_code: str) -> bytes:
    """The clear key of a stored one; ``terminal_kek_missing`` when it is under another KEK or altered."""
    parts = stored.split(":")
    if len(parts) != 3 or parts[0] != _FORMAT:
        raise _kek_error("a stored terminal key is not in the k1 format")
    if parts[1] != kek.kid:
        raise _kek_error(f"a terminal key is under KEK {parts[1]}, the settings give KEK {kek.kid}")
    blob = bytes.fromhex(parts[2])
    try:
        return AESGCM(kek.key).decrypt(blob[:12], blob[12:], _aad(terminal_code, merchant_code))
    except InvalidTag:
        raise _kek_error("a stored terminal key does not decrypt (altered, or moved from another terminal)") from None


def wrap_for_terminal(current: bytes, new: bytes) -> bytes:
    """A new working key encrypted under the terminal's current key for the 0810 answer of a key
    change: AES key wrap (RFC 3394), which also lets the terminal check it arrived intact."""
    return aes_key_wrap(bytes(current), bytes(new))

