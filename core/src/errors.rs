//! Stable result codes with English and Persian message templates: the one catalogue of every
//! code kimia can raise, the core's and the Python layers' (service, identifiers, terminal, CLI,
//! store) alike. Python reads it through `kimia._core.error_catalogue()`.
//!
//! A rejection is plain data: a snake_case `code`, the `path` of the offending
//! field when there is one, and named parameters that fill the templates.
//!
//! **Precedence.** The catalogue is written in precedence order, most fundamental first (as
//! TigerBeetle orders its result codes): kimia itself broken, then its setup, then the request's
//! shape, then capacity, then a retry that does not match, then who and what the request names,
//! then the caller's authority, then the state of what it names, and last the business refusals
//! (balances, budgets) and the ledger's own invariants. A code's precedence is its place in the
//! list (1 = most fundamental). Where one check can find several faults, it reports the one that
//! comes first here (`kimia.errors.most_fundamental`), and checks run in this order.

use std::fmt;

/// Which part of kimia owns (first raises) a code; the core's own are listed by `error_codes()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Core,
    Service,
    Identifiers,
    Terminal,
    Cli,
    Store,
    Web,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Core => "core",
            Origin::Service => "service",
            Origin::Identifiers => "identifiers",
            Origin::Terminal => "terminal",
            Origin::Cli => "cli",
            Origin::Store => "store",
            Origin::Web => "web",
        }
    }
}

/// One code of the catalogue. Its precedence is its place in `CATALOGUE` (1 = most fundamental).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorSpec {
    pub code: &'static str,
    pub origin: Origin,
    pub en: &'static str,
    pub fa: &'static str,
    /// Why no test can raise this code, for the few that no input reaches; empty otherwise.
    pub unreachable: &'static str,
}

/// Builds `CATALOGUE` from one list: `code: Origin, "English", "Persian" [, unreachable "why"];`.
/// The code is an identifier, so a typo or a duplicate cannot hide in a string.
macro_rules! catalogue {
    ($($code:ident : $origin:ident, $en:literal, $fa:literal $(, unreachable $why:literal)?;)*) => {
        /// Every code in precedence order, most fundamental first.
        pub const CATALOGUE: &[ErrorSpec] = &[$(ErrorSpec {
            code: stringify!($code),
            origin: Origin::$origin,
            en: $en,
            fa: $fa,
            unreachable: concat!("" $(, $why)?),
        },)*];
    };
}

catalogue! {
    // --- 1. kimia itself is broken ---
    internal_error: Core, "Internal error: kimia used the unlisted error code {code}", "خطای داخلی: کیمیا کد خطای فهرست‌نشدهٔ {code} را به کار برد",
        unreachable "raised only when kimia's own code names a code the catalogue lacks, which the catalogue tests forbid";
    server_error: Web, "kimia could not answer this request (the fault is logged); retry with the same Idempotency-Key",
        "کیمیا نتوانست به این درخواست پاسخ دهد (خطا ثبت شد)؛ با همان کلید یکتایی دوباره تلاش کنید";
    // --- 2. kimia's setup: keys, database schema and roles ---
    card_key_missing: Service, "KIMIA_CARD_HASH_KEY is not set: kimia will not hash card numbers with the development key outside development (set the key, or KIMIA_DEV_MODE=1 for a demo)",
        "KIMIA_CARD_HASH_KEY تنظیم نشده است: کیمیا بیرون از محیط توسعه شماره کارت‌ها را با کلید توسعه هش نمی‌کند (کلید را تنظیم کنید، یا برای دمو KIMIA_DEV_MODE=1)";
    card_key_weak: Service, "A card hash key must be at least {min_length} characters and not the development key", "کلید هش کارت باید دست‌کم {min_length} نویسه باشد و کلید توسعه نباشد";
    terminal_kek_missing: Terminal, "The terminal key-encryption key (KIMIA_TERMINAL_KEK or KIMIA_TERMINAL_KEK_FILE) is missing or wrong: {detail}",
        "کلید رمزگذاری کلیدهای پایانه (KIMIA_TERMINAL_KEK یا KIMIA_TERMINAL_KEK_FILE) تنظیم نشده یا نادرست است: {detail}";
    invalid_setting: Service, "The setting {name} is not valid: {detail}", "تنظیم {name} معتبر نیست: {detail}";
    database_error: Cli, "The database could not be used ({detail})", "پایگاه داده قابل استفاده نیست ({detail})";
    not_initialized: Cli, "kimia's tables are not there ({detail}); run `kimia init` first", "جدول‌های کیمیا وجود ندارند ({detail})؛ ابتدا دستور kimia init را اجرا کنید";
    schema_outdated: Cli, "The database is at revision {current}, the code needs {head}; run `kimia init`", "نسخه پایگاه داده ({current}) قدیمی است و کد به نسخه {head} نیاز دارد؛ دستور kimia init را اجرا کنید";
    not_postgresql: Cli, "SQLite has no roles: the database file's permissions are the control (kimia creates it 0600 in a 0700 directory; run every kimia process as the one OS user that owns it; docs/operations.md, File permissions (SQLite))",
        "SQLite نقش ندارد: مجوزهای فایل پایگاه داده (۰۶۰۰) کنترل دسترسی است";
    reset_not_supported: Cli, "--reset deletes an SQLite file; it is refused for other databases", "گزینه --reset فقط پایگاه داده SQLite را پاک می‌کند و برای پایگاه‌های دیگر مجاز نیست";
    bad_role_name: Store, "{role} is not a role name kimia accepts: use lower-case letters, digits and _", "نام نقش {role} معتبر نیست: فقط حروف کوچک لاتین، رقم و _";
    role_missing: Store, "There is no role {role}: CREATE ROLE {role} LOGIN PASSWORD '...' first", "نقش {role} وجود ندارد؛ ابتدا آن را بسازید";
    role_too_strong: Store, "{role} is a superuser (or bypasses row security): no grant can restrict it", "نقش {role} ابرکاربر است و هیچ مجوزی محدودش نمی‌کند";
    role_owns_tables: Store, "{role} is (or is a member of) {owner}, which owns kimia's tables: it could drop the append-only triggers; use a role of its own",
        "نقش {role} مالک جدول‌ها است (یا عضو {owner})؛ یک نقش جداگانه بسازید";
    grants_incomplete: Store, "The grants did not take: {detail}", "مجوزها اعمال نشدند: {detail}";
    // --- 3. the request's shape: its key, its amounts, its other fields, the rules and identifiers it carries ---
    invalid_input: Core, "Invalid input: {detail}", "ورودی نامعتبر: {detail}";
    missing_idempotency_key: Service, "An idempotency key is required", "کلید یکتایی لازم است";
    amount_must_be_positive: Core, "The amount must be a positive whole number (for an adjustment, a non-zero one)", "مبلغ باید عددی صحیح و مثبت باشد (برای اصلاح موجودی، غیرصفر)";
    amount_too_large: Core, "The amount is larger than the allowed limit", "مبلغ از سقف مجاز بیشتر است";
    invalid_request: Service, "Invalid request: {detail}", "درخواست نامعتبر: {detail}";
    invalid_json: Web, "The body is not valid JSON: {detail}", "بدنهٔ درخواست JSON معتبر نیست: {detail}";
    field_required: Web, "This field is required", "این فیلد الزامی است";
    field_invalid: Web, "This field is not valid: {detail}", "این فیلد معتبر نیست: {detail}";
    request_too_large: Web, "The request is larger than {limit_bytes} bytes", "درخواست از {limit_bytes} بایت بزرگ‌تر است";
    invalid_cursor: Web, "The cursor is not one this list gave", "نشانگر صفحه معتبر نیست";
    // web codes (request shape): helpers add theirs below this line
    password_too_weak: Web, "A password needs at least {min_length} characters and must not be the user name", "گذرواژه باید دست‌کم {min_length} نویسه داشته باشد و با نام کاربری یکی نباشد";
    invalid_date: Cli, "Not a valid {calendar} date (YYYY-MM-DD)", "تاریخ {calendar} معتبر نیست (YYYY-MM-DD)";
    rule_invalid_json: Core, "The rule set is not valid: {detail}", "مجموعه قوانین معتبر نیست: {detail}";
    rule_too_many: Core, "A rule set may hold at most {limit} rules", "مجموعه قوانین حداکثر {limit} قانون می‌تواند داشته باشد";
    rule_set_bad_value: Core, "Invalid value in the rule set: {detail}", "مقدار نامعتبر در مجموعه قوانین: {detail}";
    rule_duplicate_id: Core, "Rule id {rule} is used twice", "شناسه قانون «{rule}» تکراری است";
    rule_bad_value: Core, "Invalid value in rule {rule}: {detail}", "مقدار نامعتبر در قانون «{rule}»: {detail}";
    rule_bad_date: Core, "Invalid date {date} in rule {rule}", "تاریخ «{date}» در قانون «{rule}» وجود ندارد";
    rule_empty_effects: Core, "Rule {rule} has no effect", "قانون «{rule}» هیچ اثری ندارد";
    rule_bad_funding: Core, "Funding shares of rule {rule} must add up to 10000 basis points", "سهم‌های تأمین هزینه قانون «{rule}» باید روی هم ۱۰٬۰۰۰ واحد پایه (صد درصد) شود";
    rule_unknown_set: Core, "Rule {rule} names merchant set {set}, which is not defined", "قانون «{rule}» به مجموعه پذیرندگان {set} اشاره دارد که تعریف نشده است";
    rule_unknown_stacking_group: Core, "Rule {rule} names stacking group {group}, which is not defined", "قانون «{rule}» به گروه ترکیب «{group}» اشاره دارد که تعریف نشده است";
    invalid_tier_config: Core, "Invalid tier configuration: {detail}", "پیکربندی طبقات نامعتبر است: {detail}";
    invalid_national_code_format: Identifiers, "National code must be 10 digits.", "کد ملی باید ۱۰ رقم باشد.";
    invalid_national_code_checksum: Identifiers, "National code is not valid.", "کد ملی معتبر نیست.";
    // 16 is the right guidance for Iranian cards even though 13-19 digits are accepted.
    invalid_card_number_format: Identifiers, "Card number must be 16 digits.", "شماره کارت باید ۱۶ رقم باشد.";
    invalid_card_number_checksum: Identifiers, "Card number is not valid.", "شماره کارت معتبر نیست.";
    invalid_sheba_format: Identifiers, "Sheba number must be IR followed by 24 digits.", "شماره شبا باید با IR شروع شود و پس از آن ۲۴ رقم داشته باشد.";
    invalid_sheba_checksum: Identifiers, "Sheba number is not valid.", "شماره شبا معتبر نیست.";
    invalid_mobile: Identifiers, "Mobile number is not a valid Iranian mobile number (e.g. 09121234567).", "شماره موبایل معتبر نیست (نمونه: ۰۹۱۲۱۲۳۴۵۶۷).";
    invalid_club_card: Identifiers, "Club card number must be 8 to 19 digits.", "شماره کارت باشگاه باید بین ۸ تا ۱۹ رقم باشد.";
    basket_mismatch: Core, "The basket lines add up to {basket}, not to the purchase amount {amount}", "جمع اقلام سبد {basket} است و با مبلغ خرید {amount} برابر نیست";
    // --- 4. capacity: retry later with the same key ---
    overloaded: Service, "The service is busy: too many operations are waiting; retry shortly with the same key",
        "سرویس پرمشغله است: تراکنش‌های در صف بیش از حد است؛ کمی بعد با همان کلید دوباره تلاش کنید";
    service_unavailable: Service, "The service could not finish in time; retry with the same key", "سرویس در زمان مقرر پاسخ نداد؛ با همان کلید دوباره تلاش کنید";
    rate_limited: Web, "Too many requests for this key; retry in {retry_after_s} seconds", "درخواست‌های این کلید بیش از حد مجاز است؛ {retry_after_s} ثانیهٔ دیگر دوباره تلاش کنید";
    idempotency_in_progress: Web, "A request with this Idempotency-Key is still being answered; retry shortly with the same key",
        "درخواستی با همین کلید یکتایی هنوز در حال پاسخ است؛ کمی بعد با همان کلید دوباره تلاش کنید";
    // --- 5. a retry that does not match the first request ---
    exists_with_different_amount: Service, "This idempotency key was used for a different amount", "این کلید یکتایی قبلاً با مبلغ دیگری استفاده شده است";
    exists_with_different_request: Service, "This idempotency key was used for a different request", "این کلید یکتایی قبلاً برای درخواست دیگری استفاده شده است";
    // --- 6. who and what the request names ---
    unauthenticated: Web, "An API key is needed: send Authorization: Bearer <key>", "کلید API لازم است: Authorization: Bearer <key> را بفرستید";
    api_key_invalid: Web, "The API key is not valid (unknown, revoked or expired)", "کلید API معتبر نیست (ناشناخته، باطل‌شده یا منقضی)";
    not_found: Web, "There is no {what} here", "چنین {what}ی اینجا وجود ندارد";
    method_not_allowed: Web, "{method} is not allowed here", "روش {method} اینجا مجاز نیست";
    // web codes (what the request names): helpers add theirs below this line
    login_taken: Web, "This user name is already taken", "این نام کاربری قبلاً گرفته شده است";
    terminal_taken: Service, "Terminal {terminal_code} of merchant id {merchant_code} is already registered", "پایانهٔ {terminal_code} با شناسهٔ پذیرندهٔ {merchant_code} قبلاً ثبت شده است";
    unknown_club: Service, "No such club", "چنین باشگاهی وجود ندارد";
    unknown_merchant: Service, "No such merchant in this club", "چنین پذیرنده‌ای در این باشگاه وجود ندارد";
    unknown_terminal: Service, "This terminal is not registered", "این پایانه ثبت نشده است";
    foreign_reference: Service, "{kind} {id} is not part of this club", "{kind} با شناسهٔ {id} متعلق به این باشگاه نیست";
    unknown_member: Service, "No member is known by this identifier", "عضوی با این شناسه یافت نشد";
    unknown_account: Core, "Unknown account {account}", "حساب ناشناخته: {account}";
    unknown_operation: Service, "No such operation", "چنین تراکنشی یافت نشد";
    unknown_voucher_template: Service, "No such voucher offer", "چنین پیشنهاد ووچری وجود ندارد";
    voucher_not_found: Core, "No such voucher", "چنین ووچری وجود ندارد";
    unknown_lottery: Service, "No such lottery", "چنین قرعه‌کشی‌ای وجود ندارد";
    no_rules: Cli, "Club {club} has no published rule set", "باشگاه {club} هیچ مجموعه قانون منتشرشده‌ای ندارد";
    // the extras (kimia/extras): what their requests name
    unknown_staff: Service, "No staff member has the code {staff} at this merchant", "کارمندی با کد {staff} در این فروشگاه ثبت نشده است";
    unknown_category: Service, "There is no category {category} here", "دسته‌ای با نام {category} تعریف نشده است";
    unknown_booking: Service, "No such booking", "چنین نوبتی وجود ندارد";
    unknown_slot: Service, "No such time slot", "چنین زمانی برای نوبت وجود ندارد";
    unknown_delivery: Service, "No such notification delivery", "چنین ارسال پیامی وجود ندارد";
    // --- 7. the caller's authority ---
    forbidden: Web, "This key may not {action}", "این کلید اجازهٔ {action} را ندارد";
    // web codes (authority): helpers add theirs below this line
    login_failed: Web, "The user name or password is not correct, or the account is disabled", "نام کاربری یا گذرواژه درست نیست یا حساب غیرفعال است";
    login_throttled: Web, "Too many sign-in attempts; try again in {retry_after_s} seconds", "تلاش‌های ورود بیش از حد بوده است؛ {retry_after_s} ثانیهٔ دیگر دوباره تلاش کنید";
    session_expired: Web, "Your session has ended; sign in again", "نشست شما به پایان رسیده است؛ دوباره وارد شوید";
    csrf_failed: Web, "This form has expired or did not come from this site; reload the page and try again", "این فرم منقضی شده یا از این سایت نیامده است؛ صفحه را دوباره بارگذاری و دوباره تلاش کنید";
    role_forbidden: Web, "Your role may not {action}", "نقش شما اجازهٔ {action} را ندارد";
    actor_required: Service, "A manual or bulk value operation needs the person or job that ran it (actor)",
        "عملیات دستی یا گروهی روی ارزش باید انجام‌دهنده (شخص یا کار زمان‌بندی‌شده) را ثبت کند";
    reason_required: Service, "A manual action needs a reason", "برای اقدام دستی ذکر دلیل لازم است";
    verification_required: Service, "Spending this member's value needs proof that the member is there: {accepted}", "برای استفاده از موجودی این عضو، تأیید دارنده لازم است: {accepted}";
    pin_locked: Service, "Too many wrong PINs: the PIN is locked for a while", "رمز عضو به دلیل تلاش‌های نادرست موقتاً قفل است";
    pin_incorrect: Service, "The PIN is not correct", "رمز عضو درست نیست";
    otp_invalid: Service, "The one-time code is not valid (wrong, used or expired)", "کد یکبار مصرف نامعتبر است (نادرست، استفاده‌شده یا منقضی)";
    no_mobile: Service, "This member has no mobile number to send a code to", "برای این عضو شماره موبایلی ثبت نشده است";
    code_too_soon: Service, "A code was sent a moment ago; wait before asking again", "کد چند لحظه پیش ارسال شد؛ کمی صبر کنید";
    // the extras (kimia/extras): the state of what a request names
    staff_code_taken: Service, "The staff code {staff} is already registered at this merchant", "کد کارمندی {staff} قبلاً در این فروشگاه ثبت شده است";
    already_clocked_in: Service, "{name} is already clocked in (since {since})", "ورود {name} از {since} ثبت شده است";
    not_clocked_in: Service, "{name} is not clocked in", "ورودی برای {name} ثبت نشده است";
    category_exists: Service, "The category {category} already exists", "دستهٔ {category} از قبل وجود دارد";
    slot_taken: Service, "This time slot is already booked", "این زمان قبلاً رزرو شده است";
    slot_unavailable: Service, "This time slot cannot be booked ({why})", "این زمان قابل رزرو نیست ({why})";
    booking_not_cancellable: Service, "This booking can no longer be cancelled: cancellations close {hours} hours before it", "این نوبت دیگر لغوشدنی نیست: لغو تا {hours} ساعت پیش از نوبت ممکن است";
    booking_state: Service, "This booking is {state}; it cannot be {action}", "این نوبت در وضعیت «{state}» است و «{action}» برای آن ممکن نیست";
    delivery_not_retryable: Service, "Only a failed delivery can be sent again", "فقط ارسال ناموفق را می‌توان دوباره فرستاد";
    template_invalid: Service, "The message template is not valid: {detail}", "قالب پیام درست نیست: {detail}";
    wrong_member: Core, "The decision belongs to another member", "این تصمیم متعلق به عضو دیگری است";
    // --- 8. the state of what the request names ---
    identifier_taken: Service, "This identifier already belongs to another member", "این شناسه متعلق به عضو دیگری است";
    not_refundable: Service, "This operation cannot be refunded or reversed", "این تراکنش قابل برگشت نیست";
    already_reversed: Service, "This operation was already reversed", "این تراکنش قبلاً برگشت خورده است";
    hold_not_pending: Service, "This hold is no longer pending", "این رزرو دیگر در انتظار نیست";
    nothing_to_reverse: Core, "There is nothing left to refund or reverse", "چیزی برای برگشت باقی نمانده است";
    refund_exceeds_purchase: Core, "The refund is larger than what is left of the purchase", "مبلغ برگشت از باقی‌مانده خرید بیشتر است";
    period_close_unfinished: Service, "The close of the tier period ending at {period_end} is unfinished; run that close again to finish it first",
        "بستن دوره طبقه‌بندی منتهی به {period_end} نیمه‌کاره مانده است؛ ابتدا همان را دوباره اجرا کنید تا کامل شود";
    period_already_closed: Service, "The tier period ending at {period_end} is already closed; a new period must end after it",
        "دوره طبقه‌بندی منتهی به {period_end} قبلاً بسته شده است؛ دوره جدید باید پس از آن پایان یابد";
    period_end_in_future: Cli, "The period end is in the future", "پایان دوره در آینده است";
    period_too_short: Cli, "Club {club} closed a period less than a day earlier ({last}); use --force to close another",
        "باشگاه {club} کمتر از یک روز پیش ({last}) دوره‌ای را بسته است؛ برای بستن دوباره از --force استفاده کنید";
    lottery_not_open: Service, "This lottery is not open", "این قرعه‌کشی باز نیست";
    seed_mismatch: Service, "The revealed seed does not match the committed hash", "بذر اعلام‌شده با هش ثبت‌شده مطابقت ندارد";
    no_entries: Service, "The lottery has no entries", "قرعه‌کشی هیچ شرکت‌کننده‌ای ندارد";
    // --- 9. business refusals: what the member may do with their value ---
    conversion_not_allowed: Core, "Points cannot be converted to credit for this member", "تبدیل امتیاز به اعتبار برای این عضو مجاز نیست";
    points_redemption_not_allowed: Core, "Points cannot be used to pay for a purchase for this member", "پرداخت خرید با امتیاز برای این عضو مجاز نیست";
    credit_not_valid_at_merchant: Core, "This credit cannot be spent at this merchant", "این اعتبار در این پذیرنده قابل استفاده نیست";
    voucher_already_used: Core, "This voucher has already been used", "این ووچر قبلاً استفاده شده است";
    voucher_not_active: Core, "This voucher is not valid now", "این ووچر در این زمان معتبر نیست";
    voucher_not_valid_at_merchant: Core, "This voucher cannot be used at this merchant", "این ووچر در این پذیرنده قابل استفاده نیست";
    below_threshold: Core, "At least {threshold} is needed for this", "برای این کار حداقل {threshold} لازم است";
    lot_expired: Core, "The credit or points being used have expired", "اعتبار یا امتیاز مورد استفاده منقضی شده است";
    lot_not_found: Core, "A lot used by this operation no longer exists", "بخشی از اعتبار مورد استفاده دیگر وجود ندارد";
    insufficient_balance: Core, "Not enough balance in {account}: needs {needed}, has {available}", "موجودی {account} کافی نیست: نیاز {needed}، موجود {available}";
    credit_limit_exceeded: Core, "The credit line limit would be exceeded", "سقف خط اعتباری رد می‌شود";
    budget_exhausted: Core, "The budget {budget} of rule {rule} is exhausted", "بودجه «{budget}» قانون «{rule}» تمام شده است";
    // --- 10. the ledger's own invariants (a decision the core must never produce) ---
    decision_unbalanced: Core, "A journal entry does not sum to zero", "یک سند حسابداری تراز نیست";
}

/// (code, English template, Persian template) of the core's own codes, in precedence order.
pub const ERRORS: &[(&str, &str, &str)] = &core_errors();

const CORE_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < CATALOGUE.len() {
        if matches!(CATALOGUE[i].origin, Origin::Core) {
            n += 1;
        }
        i += 1;
    }
    n
};

const fn core_errors() -> [(&'static str, &'static str, &'static str); CORE_COUNT] {
    let mut out = [("", "", ""); CORE_COUNT];
    let (mut i, mut n) = (0, 0);
    while i < CATALOGUE.len() {
        let spec = CATALOGUE[i];
        if matches!(spec.origin, Origin::Core) {
            out[n] = (spec.code, spec.en, spec.fa);
            n += 1;
        }
        i += 1;
    }
    out
}

/// The catalogue entry of `code`, if it is listed.
pub fn spec(code: &str) -> Option<&'static ErrorSpec> {
    CATALOGUE.iter().find(|s| s.code == code)
}

/// Place of `code` in the precedence order (1 = most fundamental); `None` if it is not listed.
pub fn precedence(code: &str) -> Option<usize> {
    CATALOGUE.iter().position(|s| s.code == code).map(|i| i + 1)
}

/// Why a rule did or did not give something; shown to members and merchants, so worded as a
/// receipt would say it (an offer, not a "rule applied").
pub const EXPLANATIONS: &[(&str, &str, &str)] = &[
    ("applied", "{rule}: {effects}", "{rule}: {effects}"),
    ("budget_partial", "{rule}: {effects}, all that was left of its budget", "{rule}: {effects}، یعنی همهٔ باقی‌ماندهٔ بودجهٔ این طرح"),
    ("not_in_scope", "\"{rule}\" does not apply at this shop", "طرح «{rule}» شامل این فروشگاه نمی‌شود"),
    ("outside_validity", "\"{rule}\" is not running at this time", "طرح «{rule}» در این زمان برقرار نیست"),
    ("condition_failed", "\"{rule}\" does not apply: {condition}", "طرح «{rule}» شامل این خرید نمی‌شود: {condition}"),
    ("lost_to_better_rule", "\"{rule}\" was not given: the better offer \"{winner}\" was", "به جای طرح «{rule}»، طرح بهتر «{winner}» اعمال شد"),
    ("after_first_match", "\"{rule}\" was not given: \"{winner}\" came first", "طرح «{rule}» اعمال نشد، چون طرح «{winner}» پیش از آن اعمال شد"),
    ("budget_exhausted", "\"{rule}\" has used up its budget", "بودجهٔ طرح «{rule}» تمام شده است"),
    ("nothing_to_give", "\"{rule}\" gives nothing on this purchase", "طرح «{rule}» برای این خرید چیزی به همراه ندارد"),
];

/// Why a condition did not hold, for "does not apply" lines. `{nth}` is an ordinal ("6th", "ششمین").
pub const CONDITIONS: &[(&str, &str, &str)] = &[
    ("merchant", "only at certain shops", "فقط در فروشگاه‌های مشخصی برقرار است"),
    ("merchant_group", "only at certain kinds of shop", "فقط در گروه‌های مشخصی از فروشگاه‌ها برقرار است"),
    ("branch", "only at certain branches", "فقط در شعبه‌های مشخصی برقرار است"),
    ("club", "only in certain clubs", "فقط در باشگاه‌های مشخصی برقرار است"),
    ("goods", "only for certain goods, and this purchase has none of them", "فقط برای کالاهای مشخصی است و این خرید هیچ‌یک از آن‌ها را ندارد"),
    ("goods_group", "only for certain kinds of goods, and this purchase has none of them", "فقط برای گروه‌های مشخصی از کالاهاست و این خرید کالایی از آن‌ها ندارد"),
    ("member_group", "only for certain groups of members", "فقط برای گروه‌های مشخصی از اعضاست"),
    ("tier", "only for members of certain levels", "فقط برای اعضای سطح‌های مشخصی است"),
    ("days_since_last_purchase", "it depends on the days since your last purchase", "به فاصلهٔ زمانی از آخرین خرید شما بستگی دارد"),
    ("spend_in_window", "it depends on what you spent recently", "به مبلغ خریدهای اخیر شما بستگی دارد"),
    ("purchases_in_window", "it depends on how many purchases you made recently", "به تعداد خریدهای اخیر شما بستگی دارد"),
    ("points_held", "it depends on the points you hold", "به امتیازی که دارید بستگی دارد"),
    ("date_range", "it is not running on this date", "در این تاریخ برقرار نیست"),
    ("hour_range", "it is not running at this hour", "در این ساعت برقرار نیست"),
    ("weekdays", "it is not running on this day of the week", "در این روز هفته برقرار نیست"),
    ("amount", "it is not for a purchase of this amount", "برای خریدی با این مبلغ نیست"),
    ("nth_purchase", "only every {nth} purchase gets it", "فقط هر {nth} خرید شامل آن می‌شود"),
    ("first_purchase", "only a first purchase gets it", "فقط برای اولین خرید است"),
    ("payment_method", "it is not for this way of paying", "برای این روش پرداخت نیست"),
    ("channel", "it is not for purchases made this way", "برای خرید از این راه نیست"),
    ("all", "not all of its conditions are met", "همهٔ شرط‌های آن برقرار نیست"),
    ("any", "none of its conditions is met", "هیچ‌یک از شرط‌های آن برقرار نیست"),
    ("not", "it excludes this purchase", "این خرید از آن مستثناست"),
];

/// A rejection: nothing was decided or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError {
    pub code: &'static str,
    /// Dotted path of the offending field, e.g. `rules[3].effects[0].percent_bp`.
    pub path: Option<String>,
    pub params: Vec<(&'static str, String)>,
    /// Persian wording of params that are phrases (a `detail`), so a Persian message holds no
    /// English; params without an entry here are values, written with Persian digits.
    pub params_fa: Vec<(&'static str, String)>,
}

/// Params that name something the user wrote (a rule id, a group name): quoted as they are in
/// Persian, never re-written with Persian digits.
const LITERAL_PARAMS: &[&str] = &["rule", "group", "budget"];

impl CoreError {
    /// A rejection with a catalogue code. An unlisted code is a programming error: debug builds
    /// panic, release builds report `internal_error` naming the code, so no caller ever sees a code
    /// the catalogue (and so the docs, the terminal's table and Python's `ErrorCode`) lacks.
    pub fn new(code: &'static str) -> Self {
        debug_assert!(spec(code).is_some(), "unlisted error code {code}");
        match spec(code) {
            Some(listed) => CoreError { code: listed.code, path: None, params: Vec::new(), params_fa: Vec::new() },
            None => CoreError { code: "internal_error", path: None, params: vec![("code", code.to_string())], params_fa: Vec::new() },
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// A param that is a phrase: its English and its Persian wording.
    pub fn with_text(mut self, name: &'static str, en: impl Into<String>, fa: impl Into<String>) -> Self {
        self.params.push((name, en.into()));
        self.params_fa.push((name, fa.into()));
        self
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn message(&self, lang: Lang) -> String {
        let template = spec(self.code).map_or(self.code, |listed| match lang {
            Lang::En => listed.en,
            Lang::Fa => listed.fa,
        });
        match lang {
            Lang::En => {
                let params: Vec<(&'static str, String)> = self.params.iter().map(|(n, v)| (*n, en_value(n, v))).collect();
                fill(template, &params)
            }
            Lang::Fa => {
                let params: Vec<(&'static str, String)> = self
                    .params
                    .iter()
                    .map(|(name, value)| match self.params_fa.iter().find(|(n, _)| n == name) {
                        Some((_, fa)) => (*name, fa.clone()),
                        None => (*name, fa_value(name, value)),
                    })
                    .collect();
                fill(template, &params)
            }
        }
    }
}

/// A param as English shows it: amounts with thousands separators.
fn en_value(name: &str, value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) if !LITERAL_PARAMS.contains(&name) => crate::explain::en_amount(n),
        _ => value.to_string(),
    }
}

/// A param as Persian shows it: numbers in Persian digits with the Persian thousands separator,
/// account names in words, names the user chose as they are.
fn fa_value(name: &str, value: &str) -> String {
    if LITERAL_PARAMS.contains(&name) {
        return value.to_string();
    }
    if name == "account" {
        return crate::explain::fa_account(value);
    }
    match value.parse::<i64>() {
        Ok(n) => crate::explain::fa_amount(n),
        Err(_) => crate::explain::persian_digits(value),
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message(Lang::En))?;
        if let Some(path) = &self.path {
            write!(f, " (at {path})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CoreError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fa,
}

pub fn lookup(table: &[(&'static str, &'static str, &'static str)], code: &str, lang: Lang) -> Option<&'static str> {
    table.iter().find(|(c, _, _)| *c == code).map(|(_, en, fa)| match lang {
        Lang::En => *en,
        Lang::Fa => *fa,
    })
}

/// Fill `{name}` placeholders; unknown placeholders stay as they are.
pub fn fill<S: AsRef<str>>(template: &str, params: &[(&'static str, S)]) -> String {
    let mut out = template.to_string();
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value.as_ref());
    }
    out
}

/// The core's own error codes, in precedence order (`CATALOGUE` lists every layer's).
pub fn error_codes() -> Vec<&'static str> {
    ERRORS.iter().map(|(c, _, _)| *c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_messages_and_is_unique() {
        let catalogue: Vec<(&str, &str, &str)> = CATALOGUE.iter().map(|s| (s.code, s.en, s.fa)).collect();
        for table in [&catalogue[..], ERRORS, EXPLANATIONS, CONDITIONS] {
            let mut seen = std::collections::HashSet::new();
            for (code, en, fa) in table {
                assert!(seen.insert(*code), "duplicate {code}");
                assert!(!en.is_empty() && !fa.is_empty());
                assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            }
        }
        let e = CoreError::new("insufficient_balance").with("account", "member:1/points").with("needed", 5).with("available", 3);
        assert_eq!(e.message(Lang::En), "Not enough balance in member:1/points: needs 5, has 3");
        assert_eq!(e.message(Lang::Fa), "موجودی امتیاز کافی نیست: نیاز ۵، موجود ۳");
        let e = CoreError::new("insufficient_balance").with("account", "credit").with("needed", 150_000).with("available", 2_500);
        assert_eq!(e.message(Lang::En), "Not enough balance in credit: needs 150,000, has 2,500");
        assert_eq!(e.message(Lang::Fa), "موجودی اعتبار کافی نیست: نیاز ۱۵۰٬۰۰۰، موجود ۲٬۵۰۰");
    }

    #[test]
    fn the_core_table_is_the_catalogue_s_core_part_in_order() {
        let core: Vec<&str> = CATALOGUE.iter().filter(|s| s.origin == Origin::Core).map(|s| s.code).collect();
        assert_eq!(error_codes(), core);
        assert_eq!(precedence("internal_error"), Some(1));
        assert!(precedence("amount_must_be_positive") < precedence("invalid_request"));
        assert!(precedence("invalid_request") < precedence("unknown_member"));
        assert!(precedence("unknown_member") < precedence("insufficient_balance"));
        assert_eq!(precedence("no_such_code"), None);
        for spec in CATALOGUE {
            assert_eq!(placeholders(spec.en), placeholders(spec.fa), "{}", spec.code);
        }
    }

    fn placeholders(template: &str) -> Vec<&str> {
        let mut names: Vec<&str> = template.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every code literally passed to `CoreError::new` in the crate is listed (the codes chosen at run time,
    /// `CoreError::new(code)`, are checked by `new` itself and by the Python catalogue tests).
    #[test]
    fn every_literal_code_in_the_crate_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![dir];
        let mut seen = 0;
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("CoreError::new(\"").skip(1) {
                let code = piece.split('"').next().unwrap();
                assert!(spec(code).is_some() || code == "no_such_code", "{}: unlisted code {code}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 30, "the scan found only {seen} codes");
    }

    /// Release builds turn an unlisted code into `internal_error`; debug builds stop at once.
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "unlisted error code no_such_code"))]
    fn an_unlisted_code_is_refused() {
        let e = CoreError::new("no_such_code");
        assert_eq!(e.code, "internal_error");
        assert_eq!(e.message(Lang::En), "Internal error: kimia used the unlisted error code no_such_code");
    }
}
