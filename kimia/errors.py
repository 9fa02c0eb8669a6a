"""kimia's errors: a stable snake_case code plus readable messages in English and Persian.

The Rust core raises these classes (``kimia._core`` imports this module when it rejects
something), so Python callers catch one family of exceptions whatever layer said no.
"""

from __future__ import annotations

from typing import Any


class KimiaError(Exception):
    """Base of every kimia rejection. Nothing was changed when one is raised."""

    def __init__(
        self,
        code: str,
        message_en: str,
        message_fa: str = "",
        path: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message_en, message_fa, path, params or {})
        self.code = code
        self.message_en = message_en
        self.message_fa = message_fa or message_en
        self.path = path
        self.params: dict[str, Any] = dict(params or {})

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return f"{self.code}: {self.message_en}{where}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the API and the panel."""
        return {
            "code": self.code,
            "message_en": self.message_en,
            "message_fa": self.message_fa,
            "path": self.path,
            "params": self.params,
        }


class RuleError(KimiaError):
    """A rule set that cannot be compiled; ``path`` names the offending field."""


class Rejected(KimiaError):
    """An operation the core refused (bad input, not enough balance, an exhausted budget, ...)."""


#: Codes raised by the Python layers (service, store, terminal, web), with English and Persian
#: templates. The core's own codes come from ``kimia._core.error_codes()``.
SERVICE_ERRORS: dict[str, tuple[str, str]] = {
    "unknown_club": ("No such club", "چنین باشگاهی وجود ندارد"),
    "unknown_merchant": ("No such merchant in this club", "چنین پذیرنده‌ای در این باشگاه وجود ندارد"),
    "unknown_terminal": ("This terminal is not registered", "این پایانه ثبت نشده است"),
    "unknown_member": ("No member is known by this identifier", "عضوی با این شناسه یافت نشد"),
    "unknown_operation": ("No such operation", "چنین تراکنشی یافت نشد"),
    "unknown_voucher_template": ("No such voucher offer", "چنین پیشنهاد ووچری وجود ندارد"),
    "unknown_lottery": ("No such lottery", "چنین قرعه‌کشی‌ای وجود ندارد"),
    "identifier_taken": ("This identifier already belongs to another member", "این شناسه متعلق به عضو دیگری است"),
    "no_identifier": ("Give at least one identifier (card, mobile, national code, club card or account)", "حداقل یک شناسه (کارت، موبایل، کد ملی، کارت باشگاه یا حساب) لازم است"),
    "exists_with_different_amount": ("This idempotency key was used for a different amount", "این کلید یکتایی قبلاً با مبلغ دیگری استفاده شده است"),
    "exists_with_different_request": ("This idempotency key was used for a different request", "این کلید یکتایی قبلاً برای درخواست دیگری استفاده شده است"),
    "missing_idempotency_key": ("An idempotency key is required", "کلید یکتایی لازم است"),
    "not_refundable": ("This operation cannot be refunded or reversed", "این تراکنش قابل برگشت نیست"),
    "already_reversed": ("This operation was already reversed", "این تراکنش قبلاً برگشت خورده است"),
    "hold_not_pending": ("This hold is no longer pending", "این رزرو دیگر در انتظار نیست"),
    "lottery_not_open": ("This lottery is not open", "این قرعه‌کشی باز نیست"),
    "seed_mismatch": ("The revealed seed does not match the committed hash", "بذر اعلام‌شده با هش ثبت‌شده مطابقت ندارد"),
    "no_entries": ("The lottery has no entries", "قرعه‌کشی هیچ شرکت‌کننده‌ای ندارد"),
    "period_already_closed": ("This tier period is already closed", "این دوره طبقه‌بندی قبلاً بسته شده است"),
    "period_close_unfinished": ("The close of the tier period ending at {period_end} is unfinished; run that close again to finish it first",
                                "بستن دوره طبقه‌بندی منتهی به {period_end} نیمه‌کاره مانده است؛ ابتدا همان را دوباره اجرا کنید تا کامل شود"),
    "reason_required": ("A manual action needs a reason", "برای اقدام دستی ذکر دلیل لازم است"),
    "actor_required": ("A manual or bulk value operation needs the person or job that ran it (actor)",
                       "عملیات دستی یا گروهی روی ارزش باید انجام‌دهنده (شخص یا کار زمان‌بندی‌شده) را ثبت کند"),
    "card_key_missing": ("KIMIA_CARD_HASH_KEY is not set: kimia will not hash card numbers with the development key outside"
                         " development (set the key, or KIMIA_DEV_MODE=1 for a demo)",
                         "KIMIA_CARD_HASH_KEY تنظیم نشده است: کیمیا بیرون از محیط توسعه شماره کارت‌ها را با کلید توسعه هش نمی‌کند"
                         " (کلید را تنظیم کنید، یا برای دمو KIMIA_DEV_MODE=1)"),
    "card_key_weak": ("A card hash key must be at least {min_length} characters and not the development key",
                      "کلید هش کارت باید دست‌کم {min_length} نویسه باشد و کلید توسعه نباشد"),
    "verification_required": ("Spending this member's value needs proof that the member is there: {accepted}",
                              "برای استفاده از موجودی این عضو، تأیید دارنده لازم است: {accepted}"),
    "pin_incorrect": ("The PIN is not correct", "رمز عضو درست نیست"),
    "pin_locked": ("Too many wrong PINs: the PIN is locked for a while", "رمز عضو به دلیل تلاش‌های نادرست موقتاً قفل است"),
    "otp_invalid": ("The one-time code is not valid (wrong, used or expired)", "کد یکبار مصرف نامعتبر است (نادرست، استفاده‌شده یا منقضی)"),
    "no_mobile": ("This member has no mobile number to send a code to", "برای این عضو شماره موبایلی ثبت نشده است"),
    "code_too_soon": ("A code was sent a moment ago; wait before asking again", "کد چند لحظه پیش ارسال شد؛ کمی صبر کنید"),
    "service_unavailable": ("The service could not finish in time; retry with the same key", "سرویس در زمان مقرر پاسخ نداد؛ با همان کلید دوباره تلاش کنید"),
    "invalid_request": ("Invalid request: {detail}", "درخواست نامعتبر: {detail}"),
    "overloaded": ("The service is busy: too many operations are waiting; retry shortly with the same key",
                   "سرویس پرمشغله است: تراکنش‌های در صف بیش از حد است؛ کمی بعد با همان کلید دوباره تلاش کنید"),
    "terminal_kek_missing": ("The terminal key-encryption key (KIMIA_TERMINAL_KEK or KIMIA_TERMINAL_KEK_FILE) is missing or wrong: {detail}",
                             "کلید رمزگذاری کلیدهای پایانه (KIMIA_TERMINAL_KEK یا KIMIA_TERMINAL_KEK_FILE) تنظیم نشده یا نادرست است: {detail}"),
    # Assembly (kimia.settings, kimia.app): a process that cannot start says why, before it changes anything.
    "invalid_setting": ("The setting {name} is not valid: {detail}", "تنظیم {name} معتبر نیست: {detail}"),
    "not_initialized": ("The database {where} has no kimia schema; run `kimia init` first",
                        "پایگاه داده {where} هنوز ساخته نشده است؛ ابتدا دستور kimia init را اجرا کنید"),
    "schema_outdated": ("The database is at revision {current}, the code needs {head}; run `kimia init`",
                        "نسخه پایگاه داده ({current}) قدیمی است و کد به {head} نیاز دارد؛ دستور kimia init را اجرا کنید"),
    # Tenancy: an id that names something of another club (or another club's merchant) is refused
    # as if it did not exist; the path names the field that carried it.
    "foreign_reference": ("{kind} {id} is not part of this club", "{kind} با شناسهٔ {id} متعلق به این باشگاه نیست"),
}


def reject(code: str, path: str | None = None, **params: Any) -> Rejected:
    """A ``Rejected`` for a service-level code, with both messages filled from ``params``."""
    en, fa = SERVICE_ERRORS[code]
    values = {k: str(v) for k, v in params.items()}
    return Rejected(code, en.format_map(_Keep(values)), fa.format_map(_Keep(values)), path, values)


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def error_codes() -> list[tuple[str, str, str]]:
    """Every rejection code kimia can give (core and service), with English and Persian templates."""
    from kimia import _core

    codes = list(_core.error_codes())
    codes.extend((code, en, fa) for code, (en, fa) in SERVICE_ERRORS.items())
    return codes
