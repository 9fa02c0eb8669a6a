"""Tests for kimia.identifiers.

Valid examples are computed (or re-verified) here with independent
implementations of the checksums, so the tests do not trust the module's own.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kimia.identifiers import (
    IDENTIFIER_ERRORS,
    IdentifierError,
    card_hash,
    club_card_hash,
    identifier_error_codes,
    key_id,
    mask_card,
    mask_club_card,
    mask_pans_in_text,
    normalize_digits,
    normalize_mobile,
    validate_card_number,
    validate_club_card,
    validate_national_code,
    validate_sheba,
)

# --- independent reference implementations ---------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to ``prefix``."""
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable")


def national_code_complete(prefix9: str) -> str:
    s = sum(int(prefix9[i]) * (10 - i) for i in range(9))
    r = s % 11
    return prefix9 + str(r if r < 2 else 11 - r)


def sheba_valid(sheba: str) -> bool:
    # Generic ISO 13616 with letter expansion, written differently from the
    # module (which hard-codes IR -> 1827).
    moved = sheba[4:] + sheba[:4]
    expanded = "".join(str(int(ch, 36)) for ch in moved)
    return int(expanded) % 97 == 1


def sheba_complete(bban: str) -> str:
    """Build a valid IR Sheba from the 22-digit BBAN."""
    check = 98 - int(bban + "182700") % 97
    return f"IR{check:02d}{bban}"


def to_persian(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def to_arabic(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def assert_error(exc: IdentifierError, code: str, field: str) -> None:
    assert exc.code == code
    assert exc.field == field
    assert (exc.message_en, exc.message_fa) == IDENTIFIER_ERRORS[code]
    assert exc.message_en and exc.message_fa
    assert str(exc) == f"{code}: {exc.message_en}"
    assert isinstance(exc, ValueError)


# --- fixtures of known values, checked against the references ---------------

VALID_NATIONAL_CODES = [
    national_code_complete("001234567"),  # 0012345679
    national_code_complete("123456789"),  # 1234567891
    national_code_complete("449999999"),
    national_code_complete("499370899"),
    "0000000116",  # remainder < 2 branch with leading zeros
]

VALID_PANS = [
    luhn_complete("603799123456789"),  # Melli BIN
    luhn_complete("627412000000000"),
    luhn_complete("610433987654321"),  # Mellat BIN
    "4111111111111111",  # well-known 16-digit test PAN
    "4222222222222",  # 13 digits
    "6011000990139424",
    luhn_complete("622126" + "0" * 12),  # 19 digits
]

PUBLISHED_SHEBA = "IR062960000000100324200001"


def test_reference_fixtures_are_what_we_think() -> None:
    assert VALID_NATIONAL_CODES[0] == "0012345679"
    assert VALID_NATIONAL_CODES[1] == "1234567891"
    assert all(luhn_valid(p) for p in VALID_PANS)
    assert [len(p) for p in VALID_PANS] == [16, 16, 16, 16, 13, 16, 19]
    assert sheba_valid(PUBLISHED_SHEBA)
    assert sheba_complete(PUBLISHED_SHEBA[4:]) == PUBLISHED_SHEBA


# --- normalize_digits ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("12 34-56", "123456"),
        ("12\u200c34", "1234"),  # ZWNJ
        ("\t12\n34\u00a056\u202f", "123456"),  # other whitespace incl. NBSP
        ("\u200f۱۲\u200e۳", "123"),  # bidi marks from copy-paste
        ("12\u201334\u221256", "123456"),  # en dash, minus sign
        ("IR۰۶", "IR06"),  # letters untouched
        ("", ""),
    ],
)
def test_normalize_digits(raw: str, expected: str) -> None:
    assert normalize_digits(raw) == expected


# --- national code -------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_NATIONAL_CODES)
def test_national_code_valid(code: str) -> None:
    assert validate_national_code(code) == code
    assert validate_national_code(to_persian(code)) == code
    assert validate_national_code(to_arabic(code)) == code
    assert validate_national_code(f" {code[:3]}-{code[3:9]}-{code[9]} ") == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345679", "0012345679"),  # 8 digits, left-padded
        ("۱۲۳۴۵۶۷۹", "0012345679"),
        ("012345679", "0012345679"),  # 9 digits
        ("116", None),  # too short even for padding
    ],
)
def test_national_code_padding(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(IdentifierError) as info:
            validate_national_code(raw)
        assert_error(info.value, "invalid_national_code_format", "national_code")
    else:
        assert validate_national_code(raw) == expected


def _bad_check(code: str) -> str:
    return code[:9] + str((int(code[9]) + 1) % 10)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "invalid_national_code_format"),
        ("", "invalid_national_code_format"),
        ("   ", "invalid_national_code_format"),
        ("1234567", "invalid_national_code_format"),  # 7 digits
        ("12345678901", "invalid_national_code_format"),  # 11 digits
        ("12345a7891", "invalid_national_code_format"),
        ("１２３４５６７８９１", "invalid_national_code_format"),  # full-width
        ("\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e\u096f\u0967", "invalid_national_code_format"),
        ("1234567892", "invalid_national_code_checksum"),
        (_bad_check(VALID_NATIONAL_CODES[2]), "invalid_national_code_checksum"),
        ("1111111111", "invalid_national_code_checksum"),  # passes mod-11
        ("0000000000", "invalid_national_code_checksum"),
        ("00000000", "invalid_national_code_checksum"),  # pads to all-zero
        ("۷۷۷۷۷۷۷۷۷۷", "invalid_national_code_checksum"),
    ],
)
def test_national_code_invalid(raw: str | None, code: str) -> None:
    with pytest.raises(IdentifierError) as info:
        validate_national_code(raw)
    assert_error(info.value, code, "national_code")


def test_same_digit_codes_would_pass_checksum() -> None:
    # Documents why they need an explicit rule.
    for d in "0123456789":
        assert national_code_complete(d * 9) == d * 10


def test_non_string_rejected_not_coerced() -> None:
    with pytest.raises(IdentifierError) as info:
        validate_national_code(12345679)  # type: ignore[arg-type]
    assert info.value.code == "invalid_national_code_format"


def test_field_override() -> None:
    with pytest.raises(IdentifierError) as info:
        validate_national_code("", field="father_national_code")
    assert info.value.field == "father_national_code"


# --- card number ---------------------------------------------------------------


@pytest.mark.parametrize("pan", VALID_PANS)
def test_card_valid(pan: str) -> None:
    assert validate_card_number(pan) == pan
    assert validate_card_number(to_persian(pan)) == pan
    grouped = " ".join(pan[i : i + 4] for i in range(0, len(pan), 4))
    assert validate_card_number(grouped) == pan
    assert validate_card_number(grouped.replace(" ", "-")) == pan


def _flip_last(pan: str) -> str:
    return pan[:-1] + str((int(pan[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "invalid_card_number_format"),
        ("", "invalid_card_number_format"),
        ("-- --", "invalid_card_number_format"),
        ("603799123456789", "invalid_card_number_checksum"),  # 15 digits, bad Luhn
        ("603799123456", "invalid_card_number_format"),  # 12 digits
        ("6" * 20, "invalid_card_number_format"),
        ("6037x91234567893", "invalid_card_number_format"),
        ("603799123456789³", "invalid_card_number_format"),  # superscript digit
        (_flip_last(VALID_PANS[0]), "invalid_card_number_checksum"),
        ("1234567890123456", "invalid_card_number_checksum"),
    ],
)
def test_card_invalid(raw: str | None, code: str) -> None:
    with pytest.raises(IdentifierError) as info:
        validate_card_number(raw)
    assert_error(info.value, code, "card_number")


def test_card_error_message_does_not_echo_pan() -> None:
    pan = _flip_last(VALID_PANS[0])
    with pytest.raises(IdentifierError) as info:
        validate_card_number(pan)
    text = " ".join([str(info.value), repr(info.value), info.value.message_fa])
    assert pan not in text
    assert pan[6:12] not in text


@pytest.mark.parametrize(
    ("pan", "masked", "with_bin"),
    [
        ("6037991234567893", "************7893", "603799******7893"),
        ("۶۰۳۷-۹۹۱۲-۳۴۵۶-۷۸۹۳", "************7893", "603799******7893"),
        ("4222222222222", "*********2222", "422222***2222"),
        ("6221260000000000000", "***************0000", "622126*********0000"),
        ("1234567890123456", "************3456", "123456******3456"),  # masking does not need Luhn
    ],
)
def test_mask_card(pan: str, masked: str, with_bin: str) -> None:
    """The last 4 only by default (what is stored and shown); the BIN only when asked for."""
    assert mask_card(pan) == masked
    assert mask_card(pan, keep_bin=True) == with_bin


def test_mask_club_card_keeps_the_last_4() -> None:
    assert mask_club_card("۱۲۳۴۵۶۷۸۹۰") == "******7890"
    with pytest.raises(IdentifierError):
        mask_club_card("1234")


def test_club_card_hash_is_keyed_and_apart_from_a_bank_card_hash() -> None:
    pan = VALID_PANS[0]
    assert club_card_hash(pan, KEY) != card_hash(pan, KEY)
    assert club_card_hash(pan, KEY) != club_card_hash(pan, b"other-key" * 4)
    assert club_card_hash("۱۲۳۴۵۶۷۸", KEY) == club_card_hash("12345678", KEY)
    assert len(key_id(KEY)) == 16 and key_id(KEY) != key_id(b"other-key" * 4)
    assert key_id(KEY).encode() not in KEY


def test_mask_pans_in_text_without_the_bin() -> None:
    assert mask_pans_in_text("card 6037991234567893 ok", keep_bin=False) == "card ************7893 ok"


@pytest.mark.parametrize("raw", ["", "123456789012", "abc"])
def test_mask_card_rejects_non_pan(raw: str) -> None:
    with pytest.raises(IdentifierError) as info:
        mask_card(raw)
    assert info.value.code == "invalid_card_number_format"


KEY = b"k" * 32


def test_card_hash_matches_hmac_sha256_of_normalised_pan() -> None:
    pan = VALID_PANS[0]
    expected = hmac.new(KEY, pan.encode(), hashlib.sha256).hexdigest()
    assert card_hash(pan, KEY) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_card_hash_stable_across_input_forms() -> None:
    pan = VALID_PANS[0]
    forms = [pan, to_persian(pan), f"{pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]}", f" {pan}\n"]
    assert len({card_hash(f, KEY) for f in forms}) == 1
    assert card_hash(pan, KEY) == card_hash(pan, KEY)


def test_card_hash_depends_on_key_and_pan() -> None:
    a, b = VALID_PANS[0], VALID_PANS[1]
    assert card_hash(a, KEY) != card_hash(a, b"other-key" * 4)
    assert card_hash(a, KEY) != card_hash(b, KEY)
    assert card_hash(a, KEY) != hashlib.sha256(a.encode()).hexdigest()


def test_card_hash_rejects_bad_input() -> None:
    with pytest.raises(IdentifierError) as info:
        card_hash(_flip_last(VALID_PANS[0]), KEY)
    assert info.value.code == "invalid_card_number_checksum"
    with pytest.raises(IdentifierError) as info:
        card_hash("", KEY)
    assert info.value.code == "invalid_card_number_format"
    with pytest.raises(ValueError, match="empty"):
        card_hash(VALID_PANS[0], b"")
    with pytest.raises(TypeError):
        card_hash(VALID_PANS[0], "text-key")  # type: ignore[arg-type]


STAN_LIKE = "1234567890123456"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pan=6037991234567893 ok", "pan=603799******7893 ok"),
        ("6037991234567893", "603799******7893"),
        ("a:4111111111111111,b:4222222222222;", "a:411111******1111,b:422222***2222;"),
        (f"stan={STAN_LIKE}", f"stan={STAN_LIKE}"),  # fails Luhn: untouched
        ("ts=20240101123000", "ts=20240101123000"),  # 14 digits, fails Luhn
        ("short 603799123456", "short 603799123456"),  # 12 digits
        ("twenty 60379912345678930000", "twenty 60379912345678930000"),  # run too long
        ("card ۶۰۳۷۹۹۱۲۳۴۵۶۷۸۹۳ fa", "card 603799******7893 fa"),
        ("card 6037 9912 3456 7893.", "card 603799******7893."),
        ("card 6037-9912-3456-7893.", "card 603799******7893."),
        ("no digits here", "no digits here"),
        ("", ""),
    ],
)
def test_mask_pans_in_text(text: str, expected: str) -> None:
    assert mask_pans_in_text(text) == expected


def test_stan_like_number_really_fails_luhn() -> None:
    assert len(STAN_LIKE) == 16 and not luhn_valid(STAN_LIKE)
    assert not luhn_valid("20240101123000")


# --- Sheba ---------------------------------------------------------------------

VALID_SHEBAS = [
    PUBLISHED_SHEBA,
    sheba_complete("0170000000100324200001"),
    sheba_complete("0560611828000000123456"),
    sheba_complete("0000000000000000000001"),
]


@pytest.mark.parametrize("sheba", VALID_SHEBAS)
def test_sheba_valid(sheba: str) -> None:
    assert sheba_valid(sheba)
    assert validate_sheba(sheba) == sheba
    assert validate_sheba(sheba.lower()) == sheba
    assert validate_sheba("ir" + to_persian(sheba[2:])) == sheba
    spaced = " ".join(sheba[i : i + 4] for i in range(0, len(sheba), 4))
    assert validate_sheba(spaced) == sheba
    assert validate_sheba(f"\u200f{spaced}\u200c") == sheba


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "invalid_sheba_format"),
        ("", "invalid_sheba_format"),
        ("062960000000100324200001", "invalid_sheba_format"),  # no IR
        ("DE062960000000100324200001", "invalid_sheba_format"),
        ("IR06296000000010032420000", "invalid_sheba_format"),  # 25 chars
        ("IR0629600000001003242000011", "invalid_sheba_format"),  # 27 chars
        ("IR06296000000010032420000A", "invalid_sheba_format"),
        ("IR072960000000100324200001", "invalid_sheba_checksum"),
        ("IR062960000000100324200002", "invalid_sheba_checksum"),
        ("IR000000000000000000000000", "invalid_sheba_checksum"),
    ],
)
def test_sheba_invalid(raw: str | None, code: str) -> None:
    with pytest.raises(IdentifierError) as info:
        validate_sheba(raw)
    assert_error(info.value, code, "sheba")


# --- mobile --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "9121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "+۹۸۹۱۲۱۲۳۴۵۶۷",
        "0912 123 4567",
        "0912-123-4567",
        "+98 912 123 4567",
        "+98 0912 123 4567",  # trunk zero kept after country code
    ],
)
def test_mobile_valid(raw: str) -> None:
    assert normalize_mobile(raw) == "+989121234567"


def test_mobile_other_operators() -> None:
    assert normalize_mobile("09901234567") == "+989901234567"
    assert normalize_mobile("09351234567") == "+989351234567"
    # A 10-digit national number that happens to start with 98.
    assert normalize_mobile("9812345678") == "+989812345678"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "+",
        "0912123456",  # too short
        "091212345678",  # too long
        "02112345678",  # Tehran landline
        "+12025550123",  # foreign
        "+9809121234567x",
        "009121234567",  # double trunk zero, no country code
        "98912123456",  # 98 + 9 digits
        "0098 8121234567",  # not a 9... mobile
        "0912+1234567",
    ],
)
def test_mobile_invalid(raw: str | None) -> None:
    with pytest.raises(IdentifierError) as info:
        normalize_mobile(raw)
    assert_error(info.value, "invalid_mobile", "mobile")


# --- club card -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678", "12345678"),
        ("۱۲۳۴ ۵۶۷۸", "12345678"),
        ("0000-1234-5678", "000012345678"),  # leading zeros kept
        ("1" * 19, "1" * 19),
    ],
)
def test_club_card_valid(raw: str, expected: str) -> None:
    assert validate_club_card(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "1234567", "1" * 20, "1234abcd", "１２３４５６７８"])
def test_club_card_invalid(raw: str | None) -> None:
    with pytest.raises(IdentifierError) as info:
        validate_club_card(raw)
    assert_error(info.value, "invalid_club_card", "club_card")


# --- error catalogue -------------------------------------------------------------

EXPECTED_CODES = {
    "invalid_national_code_format",
    "invalid_national_code_checksum",
    "invalid_card_number_format",
    "invalid_card_number_checksum",
    "invalid_sheba_format",
    "invalid_sheba_checksum",
    "invalid_mobile",
    "invalid_club_card",
}


def test_error_catalogue() -> None:
    codes = identifier_error_codes()
    assert set(codes) == EXPECTED_CODES == set(IDENTIFIER_ERRORS)
    assert len(codes) == len(set(codes))
    persian_letters = re.compile("[\u0600-\u06ff]")
    for code in codes:
        assert re.fullmatch(r"[a-z]+(?:_[a-z]+)*", code)
        en, fa = IDENTIFIER_ERRORS[code]
        assert en.isascii() and en.strip()
        assert persian_letters.search(fa), code


def test_error_pickles() -> None:
    err = IdentifierError("invalid_sheba_checksum", "payout_sheba")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.code, clone.field, clone.message_fa) == (
        err.code,
        err.field,
        err.message_fa,
    )
    assert str(clone) == str(err)


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        IdentifierError("no_such_code", "x")


# --- properties --------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_property_luhn_complete_pans_validate_and_mask(prefix: str) -> None:
    pan = luhn_complete(prefix)
    assert validate_card_number(pan) == pan
    assert validate_card_number(to_persian(pan)) == pan
    masked = mask_card(pan)
    assert len(masked) == 16
    assert masked[:12] == "*" * 12 and masked[-4:] == pan[-4:]
    with_bin = mask_card(pan, keep_bin=True)
    assert with_bin[:6] == pan[:6] and with_bin[6:12] == "******" and with_bin[-4:] == pan[-4:]
    assert mask_pans_in_text(f"x {pan} y") == f"x {with_bin} y"
    wrong = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    with pytest.raises(IdentifierError):
        validate_card_number(wrong)


def test_luhn_check_digit_completes_valid_card_numbers() -> None:
    from kimia.identifiers import luhn_check_digit

    for body in ("603799123456789", "627412000000000", "000000000000000"):
        assert validate_card_number(body + luhn_check_digit(body)) == body + luhn_check_digit(body)
    with pytest.raises(ValueError):
        luhn_check_digit("60379912345678x")


def test_installed_log_masking_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Item 7: nothing an operator passes reaches a log line in clear, whichever logger logs it."""
    import logging

    from kimia.identifiers import install_log_masking

    pan = "6037991234567893"
    before = logging.getLogRecordFactory()
    try:
        install_log_masking()
        install_log_masking()  # idempotent
        caplog.set_level(logging.INFO)
        logging.getLogger("kimia.anything").info("member by card %s, reason %r", pan, f"card {pan}")
        try:
            raise ValueError(f"no member with card {pan}")
        except ValueError:
            logging.getLogger("sqlalchemy.engine").exception("failed")
    finally:
        logging.setLogRecordFactory(before)
    assert pan not in caplog.text
    assert caplog.text.count("603799******7893") == 3
