"""Valid Iranian identifiers for made-up members and businesses: the n-th of a kind (tests, where a
number names the person) or drawn from a seeded random generator (the demo, where the same seed
gives the same people). Every value passes kimia.identifiers' validation."""

from __future__ import annotations

import random

from kimia.identifiers import luhn_check_digit, validate_card_number, validate_national_code, validate_sheba

#: Issuer prefixes (BIN) of Iranian banks, for generated card numbers.
CARD_BINS = ("603799", "589210", "627353", "610433", "603769", "627412", "622106", "502229", "636214", "621986")
#: Bank codes inside a Sheba (IR kk 0 bbb ...).
SHEBA_BANKS = ("017", "012", "018", "056", "057", "019", "016", "054")
MOBILE_PREFIXES = ("12", "13", "19", "35", "36", "01", "02", "21")

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def persian(text: str) -> str:
    """ASCII digits to Persian digits (how members type them in the app)."""
    return text.translate(PERSIAN_DIGITS)


def with_luhn(body: str) -> str:
    """``body`` and its Luhn check digit: a card number."""
    return body + luhn_check_digit(body)


def national_code_of(body: str) -> str:
    """A 9-digit ``body`` and its check digit (mod 11): a national code."""
    remainder = sum(int(body[i]) * (10 - i) for i in range(9)) % 11
    return body + str(remainder if remainder < 2 else 11 - remainder)


def sheba_of(bban: str) -> str:
    """IR + two ISO 13616 check digits + the 22-digit ``bban`` (mod 97 == 1)."""
    check = 98 - int(bban + "182700") % 97
    return f"IR{check:02d}{bban}"


# --- the n-th of a kind ------------------------------------------------------------------------


def card_number(n: int, bin_prefix: str = "603799") -> str:
    """The n-th valid (Luhn) 16-digit bank card number with the given BIN."""
    body = f"{bin_prefix}{n:09d}"
    assert len(body) == 15
    return with_luhn(body)


def bad_luhn_card(n: int) -> str:
    """A 16-digit card number whose check digit is wrong."""
    good = card_number(n)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def national_code(n: int) -> str:
    """The n-th valid 10-digit national code (never all the same digit)."""
    code = national_code_of(f"{(n * 7919 + 1234567) % 10**9:09d}")
    assert len(set(code)) > 1
    return code


def bad_national_code(n: int) -> str:
    good = national_code(n)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def mobile(n: int) -> str:
    """The n-th Iranian mobile number in local form, ``0912xxxxxxx``."""
    return f"0912{n % 10**7:07d}"


def club_card(n: int) -> str:
    """The n-th club (non-bank) card number, 12 digits."""
    return f"7700{n % 10**8:08d}"


def sheba(n: int) -> str:
    """The n-th valid Sheba (IBAN): IR, two check digits, 22 digits."""
    return sheba_of(f"0170000000{n % 10**12:012d}")


# --- drawn at random (seeded) --------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def make_card_number(rng: random.Random) -> str:
    return validate_card_number(with_luhn(rng.choice(CARD_BINS) + _digits(rng, 9)))


def make_national_code(rng: random.Random) -> str:
    while True:
        body = _digits(rng, 9)
        if len(set(body)) > 1:
            break
    return validate_national_code(national_code_of(body))


def make_sheba(rng: random.Random) -> str:
    """IR + two check digits + 0 + bank code + 18-digit account."""
    return validate_sheba(sheba_of("0" + rng.choice(SHEBA_BANKS) + _digits(rng, 18)))


def make_mobile(rng: random.Random) -> str:
    return "09" + rng.choice(MOBILE_PREFIXES) + _digits(rng, 7)


def make_club_card(rng: random.Random) -> str:
    return "9860" + _digits(rng, 12)


__all__ = [
    "bad_luhn_card",
    "bad_national_code",
    "card_number",
    "club_card",
    "make_card_number",
    "make_club_card",
    "make_mobile",
    "make_national_code",
    "make_sheba",
    "mobile",
    "national_code",
    "persian",
    "sheba",
]
