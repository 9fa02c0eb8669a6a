"""How the panel writes numbers, money and dates for people, and reads what they type.

Persian pages use Persian digits (۰-۹) and the Arabic thousands separator (٬); English pages
Latin digits and commas. Amounts are integer rials everywhere in kimia; a person may choose to
read them in tomans (a rial is a tenth of a toman; the choice is a cookie, the stored value never
changes). Dates are Jalali in the club's time zone, in both languages.

What people type is read leniently: Persian and Arabic-Indic digits become Latin ones; Arabic yeh
and kaf (ي ك) become Persian (ی ک); a Jalali date may be written 1405/09/15, ۱۴۰۵-۹-۱۵ and so on.
"""

from __future__ import annotations

import datetime as dt

from kimia import _core as core
from kimia.errors import KimiaError, Phrase, reject

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_LATIN = str.maketrans(PERSIAN_DIGITS + ARABIC_DIGITS, "0123456789" * 2)
_TO_PERSIAN = str.maketrans("0123456789", PERSIAN_DIGITS)
#: Arabic letters people type for Persian ones, and the zero-width joiners of careless copies.
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "\u200d": None, "\u0640": None})
_CALENDAR = Phrase("Jalali", "شمسی")
JALALI_MONTHS_FA = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
JALALI_MONTHS_EN = ("Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar", "Mehr", "Aban", "Azar", "Dey",
                    "Bahman", "Esfand")


def latin_digits(text: str) -> str:
    return text.translate(_TO_LATIN)


def normalize(text: str) -> str:
    """What a person typed, made comparable: Latin digits, Persian yeh and kaf, single spaces."""
    return " ".join(latin_digits(text).translate(_LETTERS).split())


def digits(text: object, lang: str) -> str:
    """``text`` with Persian digits on a Persian page."""
    value = str(text)
    return value.translate(_TO_PERSIAN) if lang == "fa" else value


def number(value: int, lang: str) -> str:
    """An integer with thousands separators in the page's digits."""
    grouped = f"{value:,}"
    return digits(grouped.replace(",", "٬"), lang) if lang == "fa" else grouped


def money(amount_rial: int, lang: str, *, toman: bool = False) -> str:
    """An amount for people: rials, or tomans when the reader chose them (a rial amount that is
    not whole tomans shows its tenth)."""
    if toman:
        whole, tenth = divmod(abs(amount_rial), 10)
        shown = number(whole, lang) + (("٫" if lang == "fa" else ".") + digits(tenth, lang) if tenth else "")
        unit = "تومان" if lang == "fa" else "tomans"
        return f"{'-' if amount_rial < 0 else ''}{shown} {unit}"
    return f"{number(amount_rial, lang)} {'ریال' if lang == 'fa' else 'rials'}"


def local_time(ts: int, utc_offset_min: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone(dt.timedelta(minutes=utc_offset_min)))


def jalali(day: dt.date) -> tuple[int, int, int]:
    y, m, d = core.gregorian_to_jalali(day.year, day.month, day.day)
    return int(y), int(m), int(d)


def jdate(ts: int, utc_offset_min: int, lang: str) -> str:
    """A moment's Jalali date, 1405/09/15, in the page's digits."""
    y, m, d = jalali(local_time(ts, utc_offset_min).date())
    return digits(f"{y:04d}/{m:02d}/{d:02d}", lang)


def jdatetime(ts: int, utc_offset_min: int, lang: str) -> str:
    """A moment's Jalali date and local time, 1405/09/15 14:05."""
    local = local_time(ts, utc_offset_min)
    return f"{jdate(ts, utc_offset_min, lang)} {digits(f'{local.hour:02d}:{local.minute:02d}', lang)}"


def jday_label(day: dt.date, lang: str) -> str:
    """A day as a chart's axis reads it: 15 Azar."""
    _, m, d = jalali(day)
    months = JALALI_MONTHS_FA if lang == "fa" else JALALI_MONTHS_EN
    return f"{digits(d, lang)} {months[m - 1]}"


def parse_jdate(text: str, path: str = "date") -> dt.date:
    """A Jalali date a person typed (1405/09/15, ۱۴۰۵-۰۹-۱۵, 1405.9.15) as a Gregorian date;
    ``invalid_date`` at ``path`` otherwise."""
    cleaned = latin_digits(text.strip()).replace("-", "/").replace(".", "/")
    parts = cleaned.split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise reject("invalid_date", path=path, calendar=_CALENDAR)
    y, m, d = (int(p) for p in parts)
    if not (1300 <= y <= 1500 and 1 <= m <= 12 and 1 <= d <= (31 if m <= 6 else 30)):
        raise reject("invalid_date", path=path, calendar=_CALENDAR)
    try:
        gy, gm, gd = core.jalali_to_gregorian(y, m, d)
    except KimiaError:  # 30 Esfand of a common year
        raise reject("invalid_date", path=path, calendar=_CALENDAR) from None
    day = dt.date(int(gy), int(gm), int(gd))
    if jalali(day) != (y, m, d):  # 30 Esfand of a common year
        raise reject("invalid_date", path=path, calendar=_CALENDAR)
    return day


def day_start(day: dt.date, utc_offset_min: int) -> int:
    """Unix seconds of a local day's midnight in the club's time zone."""
    tz = dt.timezone(dt.timedelta(minutes=utc_offset_min))
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
