"""Built-in terminal operations, registered like any plugin's (``kimia_register_terminal_operations``).

Processing codes (field 3, first two digits) used by kimia:

| MTI        | code | operation                                                   |
|------------|------|-------------------------------------------------------------|
| 0800       | —    | sign-on (70=001), sign-off (002), key change (161), echo (301) |
| 0100       | 31   | balance inquiry                                             |
| 0100       | 00   | hold: fix the discount and reserve the credit before the bank sale |
| 0200       | 00   | purchase: earn and/or redeem                                |
| 0220       | 00   | completion advice of a hold (48 HR), with the bank sale's RRN (37) |
| 0200       | 20   | refund by the sale's RRN (48 OR), amount in field 4          |
| 0100       | 91   | enrol a member, or bind a card to a member (48 MK, PN or OT) |
| 0100       | 92   | send the member a one-time code on their mobile (48 MK)      |
| 0400/0420  | any  | reversal of the original (field 90, else the same STAN); 95 partial |

The fields each operation requires are in :data:`BUILTIN` (``required``): one table, the same as the
document's. A missing one is answered 30 by the server before the handler runs.

Handlers run on a worker thread and call the blocking service; a purchase, the busiest, runs on
the event loop through the service's async call instead. The server owns framing, MAC, duplicates
by natural key and deadlines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from kimia.errors import KimiaError, reject
from kimia.identifiers import IdentifierError
from kimia.plugins.hookspecs import hookimpl
from kimia.plugins.types import TerminalInfo, TerminalOperation, TerminalReply, TerminalRequest
from kimia.service.api import Deadline, Kimia, MemberRef, PurchaseRequest
from kimia.service.context import TerminalContext
from kimia.service.verify import Proof
from kimia.terminal import tlv
from kimia.terminal.codec import Message
from kimia.terminal.response_codes import DEFAULT_RESPONSE, RESPONSE_FOR_ERROR

def response_code_for(error: KimiaError | IdentifierError) -> str:
    return RESPONSE_FOR_ERROR.get(error.code, DEFAULT_RESPONSE)


#: The largest id or integer a tag may carry: what a signed 64-bit SQL integer holds.
MAX_WIRE_INT = 2**63 - 1
_ASCII_DIGITS = frozenset("0123456789")


def _format_error(what: str) -> KimiaError:
    return reject("invalid_request", path=what, detail=what)


def wire_int(value: str, what: str, *, too_large: Callable[[], KimiaError] | None = None) -> int:
    """A non-negative integer sent by a terminal: ASCII digits only (``'²'`` and Persian digits pass
    ``str.isdigit()`` but are not numbers on the wire), at most :data:`MAX_WIRE_INT`, so it never
    overflows an SQL integer. Malformed → 30 (format error); too large → ``too_large`` if given
    (e.g. ``amount_too_large``, 13), else 30."""
    if not value or len(value) > 40 or not set(value) <= _ASCII_DIGITS:
        raise _format_error(f"{what} must be ASCII digits")
    number = int(value)
    if number > MAX_WIRE_INT:
        raise too_large() if too_large else _format_error(f"{what} is larger than {MAX_WIRE_INT}")
    return number


def amount_too_large() -> KimiaError:
    return reject("amount_too_large", path="48")


def member_ref(key: str) -> MemberRef:
    """The member an ``MK`` value names. ``A:<id>`` must be ASCII digits; an id beyond what the
    database can hold names no member (14), as an unknown id does."""
    kind, value = tlv.parse_member_key(key)
    if kind == "A":
        if not set(value) <= _ASCII_DIGITS or len(value) > 40:
            raise _format_error("member key A: needs ASCII digits")
        if int(value) > MAX_WIRE_INT or int(value) == 0:
            raise reject("unknown_member", path="MK")
    return MemberRef({"M": "mobile", "N": "national_code", "C": "club_card", "A": "account"}[kind], value)


class _Fields(Mapping[str, str]):
    """A message's fields as text, read when asked (a purchase never builds the whole map)."""

    def __init__(self, message: Message) -> None:
        self._message = message

    def __getitem__(self, fid: str) -> str:
        value = self._message.get_str(fid) if fid in self._message.fields else None
        if value is None:
            raise KeyError(fid)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._message.fields)

    def __len__(self) -> int:
        return len(self._message.fields)


class HostRequest(TerminalRequest):
    """The request as kimia's own operations get it: the plugin's view (kimia.plugins.types)
    plus the decoded message and the service itself, which only built-in operations touch."""

    def __init__(self, message: Message, items: list[tuple[str, str]], terminal: TerminalContext, service: Kimia, idem_key: str,
                 *, mac_key: bytes | None = None) -> None:
        info = TerminalInfo(terminal.terminal_id, terminal.merchant_id, terminal.branch_id, terminal.kind)
        super().__init__(message.original_mti, (message.processing_code or "")[:2], _Fields(message), items, info, idem_key,
                         service.plugin_services)
        self.message = message
        #: The terminal as the host knows it (its keys): for kimia's own key change only.
        self.host = terminal
        self.service = service
        #: The MAC key the request was authenticated under (None on a host allowing unkeyed terminals).
        self.mac_key = mac_key

    def int_tag(self, name: str, *, too_large: Callable[[], KimiaError] | None = None) -> int:
        """An integer tag (0 when absent); see :func:`wire_int`."""
        value = self.tag(name)
        if value is None:
            return 0
        return wire_int(value, f"tag {name}", too_large=too_large)

    def member(self) -> MemberRef | None:
        """The member: bank card (field 2, or track 2 before the separator), else the MK tag."""
        pan = self.message.get_str("2")
        if not pan:
            track2 = self.message.get_str("35")
            if track2:
                pan = track2.replace("D", "=").split("=", 1)[0]
        if pan:
            return MemberRef("card", pan)
        key = self.tag(tlv.MK)
        if key:
            return member_ref(key)
        return None

    def proof(self) -> Proof:
        """What the request offers as proof that the member is there: 48 PN (club PIN), 48 OT
        (one-time code). A card in 2/35 is the third proof: the service sees it in the member."""
        return Proof(pin=self.tag(tlv.PN), otp=self.tag(tlv.OT))

    def amount(self) -> int:
        # Field 4 is required wherever this is called (checked by the server) and the codec lets
        # only ASCII digits through, 12 at most: always a bounded integer.
        amount = self.message.amount_rial
        if amount is None:
            raise _format_error("field 4 is missing")
        return amount

    def basket(self) -> list[dict[str, Any]]:
        lines = []
        for value in tlv.tlv_get_all(self.items, tlv.BL):
            line = tlv.BasketLine.parse(value)
            lines.append({"goods_id": line.goods_id, "group": line.group, "quantity": max(1, int(float(line.qty))), "amount_rial": line.amount_rial})
        return lines


def host_request(handle: Callable[[HostRequest], TerminalReply]) -> Callable[[TerminalRequest], TerminalReply]:
    """A built-in operation as the contract types it: the host always builds a HostRequest."""
    def run(request: TerminalRequest) -> TerminalReply:
        assert isinstance(request, HostRequest)
        return handle(request)

    run.__name__ = handle.__name__
    return run


def balance_block(credit_rial: int) -> str:
    """Field 54: one standard 20-character block, the credit balance: account type 10, amount type
    02 (available balance), currency 364 (rial), C/D and 12 digits."""
    sign = "C" if credit_rial >= 0 else "D"
    return f"1002364{sign}{abs(credit_rial):012d}"


def balance_items(points: int, credit_rial: int, tier: object) -> list[tuple[str, str]]:
    """The balance tags, one definition for every answer that carries them (0110, 0210, 0230):
    BP the member's points; BC the member's credit in rials, all of it (own accounts and shared
    wallet, wherever it may be spent; a credit line is not credit held); TR the member's tier, when
    they have one."""
    items = [(tlv.BP, str(points)), (tlv.BC, str(credit_rial))]
    if tier:
        items.append((tlv.TR, str(tier)))
    return items


def _rrn(op_id: int) -> str:
    return f"{op_id % 10**12:012d}"


def _receipt_reply(receipt: dict[str, Any], *, rrn: str | None = None) -> TerminalReply:
    """Fields and TLV items of an answered purchase-like operation; a pure function of the stored
    receipt, so an identical repeat gets the same bytes."""
    op_id = int(receipt.get("op_id", 0))
    items = balance_items(int(receipt.get("balance_points", 0)), int(receipt.get("balance_credit_rial", 0)), receipt.get("tier"))
    if receipt.get("credit_used_rial"):
        items.append((tlv.RC, str(int(receipt["credit_used_rial"]))))
    if int(receipt.get("points_redeemed", 0)) > 0:
        # The points actually redeemed (the purchase may need fewer than RP asked for).
        items.append((tlv.RP, str(int(receipt["points_redeemed"]))))
    if receipt.get("hold_id") and receipt.get("status") == "held":
        items.append((tlv.HR, str(int(receipt["hold_id"]))))
    for line in receipt.get("explanation_fa", [])[:6]:
        items.append((tlv.RL, str(line)[:120]))
    payable = int(receipt.get("payable_rial", 0))
    discount = int(receipt.get("discount_rial", 0))
    items.append((tlv.RL, f"تخفیف: {discount} ریال — قابل پرداخت: {payable} ریال"))
    fields: dict[str, str | bytes] = {"38": f"{op_id % 10**6:06d}", "54": balance_block(int(receipt.get("balance_credit_rial", 0)))}
    fields["37"] = rrn or str(receipt.get("rrn") or _rrn(op_id))
    if receipt.get("transmission"):
        # A repeat is answered with the first answer's bytes, fields 7 and 12 included.
        fields["7"] = str(receipt["transmission"])
    if receipt.get("local_time"):
        fields["12"] = str(receipt["local_time"])
    return TerminalReply("00", fields, items, receipt)


def _purchase_request(req: HostRequest, *, channel: str) -> PurchaseRequest:
    return PurchaseRequest(
        idem_key=req.idem_key,
        merchant_id=req.terminal.merchant_id,
        member=req.member() or MemberRef("id", ""),
        amount_rial=req.amount(),
        basket=req.basket(),
        payment_method="card" if req.message.get_str("2") or req.message.get_str("35") else "cash",
        channel=channel,
        redeem_credit_rial=req.int_tag(tlv.RC, too_large=amount_too_large),
        redeem_points=req.int_tag(tlv.RP),
        voucher_code=req.tag(tlv.VC),
        branch_id=req.terminal.branch_id,
        terminal_id=req.terminal.terminal_id,
        reference=req.message.rrn,
        transmission=req.message.transmission_datetime,
        local_time=req.message.local_time,
        # A refusal is kept under the request's key: a captured request replayed later is refused
        # again, never decided anew (docs/terminal-protocol.md, section 8).
        remember_refusal=True,
        proof=req.proof(),
    )


def network(req: HostRequest) -> TerminalReply:
    code = req.message.get_str("70") or ""
    if code == "161":
        return key_change(req)
    if code not in ("001", "002", "301"):
        return TerminalReply("12")
    return TerminalReply("00")


def key_change(req: HostRequest) -> TerminalReply:
    """0800 with 70=161: a new working MAC key, wrapped (RFC 3394) under the key this request was
    MAC'd with, in 48 KE, with its check value KC and version KV. The answer is signed with the
    old key; the terminal's next messages use the new one. A terminal without a key has nothing to
    wrap a key under: 12 (keys are loaded with ``kimia terminal set-key``)."""
    from kimia.terminal.registry import change_key

    if req.mac_key is None:
        return TerminalReply("12", reason="key_change_without_key")
    m = req.message
    change = change_key(req.service, (m.terminal_id or "").strip(), (m.merchant_id or "").strip(), req.host, req.mac_key)
    items = [(tlv.KE, change.wrapped.hex().upper()), (tlv.KC, change.kcv), (tlv.KV, str(change.version))]
    return TerminalReply("00", {}, items, reason=None)


def balance_inquiry(req: HostRequest) -> TerminalReply:
    """BP, BC and TR mean what they mean in every answer (see :func:`balance_items`); CU, the credit
    usable at this merchant now, is this answer's own."""
    balances = req.service.member_balances(req.terminal.merchant_id, req.member())
    credit = int(balances["credit_total_rial"])
    items = balance_items(int(balances["points"]), credit, balances.get("tier"))
    items.append((tlv.CU, str(int(balances["credit_rial"]))))
    items.append((tlv.RL, f"امتیاز: {balances['points']} — اعتبار قابل استفاده: {balances['credit_rial']} ریال"))
    return TerminalReply("00", {"54": balance_block(credit)}, items)


def hold(req: HostRequest) -> TerminalReply:
    receipt = req.service.hold(_purchase_request(req, channel=req.terminal.kind))
    return _receipt_reply(receipt)


def purchase(req: HostRequest) -> TerminalReply:
    receipt = req.service.purchase(_purchase_request(req, channel=req.terminal.kind))
    return _receipt_reply(receipt, rrn=req.message.rrn)


async def purchase_async(request: Any, deadline: Deadline) -> TerminalReply:
    req: HostRequest = request
    receipt = await req.service.purchase_async(_purchase_request(req, channel=req.terminal.kind), deadline)
    return _receipt_reply(receipt, rrn=req.message.rrn)


def _unknown_hold() -> KimiaError:
    return reject("unknown_operation", path="HR")


def completion(req: HostRequest) -> TerminalReply:
    """An advice records what already happened (the bank sale), so it is not declined for business
    reasons: a problem (the hold was already reversed, or a hold reference no hold can have) is
    recorded for review and answered 00. Only an unreadable advice is refused (30)."""
    try:
        hold_id = req.int_tag(tlv.HR, too_large=_unknown_hold)
        receipt = req.service.complete_hold(req.terminal.merchant_id, hold_id, idem_key=req.idem_key, reference=req.message.rrn,
                                            terminal_id=req.terminal.terminal_id)
    except KimiaError as exc:
        if exc.code in ("service_unavailable", "exists_with_different_amount", "exists_with_different_request", "invalid_request"):
            raise  # a timeout, a duplicate key with other content (94) or an unreadable HR (30)
        req.service.record_for_review(
            req.terminal.merchant_id, "completion_advice_not_applied",
            {"hold": req.tag(tlv.HR), "code": exc.code, "key": req.idem_key, "rrn": req.message.rrn},
        )
        return TerminalReply("00", {}, [(tlv.RL, "ثبت شد؛ برای بررسی ارسال شد")])
    return _receipt_reply(receipt, rrn=req.message.rrn)


def refund(req: HostRequest) -> TerminalReply:
    original = req.tag(tlv.OR)
    if not original:
        return TerminalReply("30")
    # Only this merchant's own sales are found by their RRN (another's answers 25).
    receipt = req.service.refund(req.terminal.merchant_id, idem_key=req.idem_key, reference=original, amount_rial=req.amount(),
                                 terminal_id=req.terminal.terminal_id)
    return _receipt_reply(receipt, rrn=req.message.rrn)


def _account_key(req: HostRequest, member_id: int) -> str:
    """The member's ``MK`` as answered: ``A:`` and their random account number (never the
    sequential member id)."""
    return f"A:{req.service.account_number(member_id) or ''}"


def enrol(req: HostRequest) -> TerminalReply:
    """Enrol a new member with the card swiped (and mobile / national code), or bind the swiped
    card to the member named by MK (with the member's PIN or one-time code, as their club asks).

    An identifier that already belongs to a member is refused (05) without naming the member:
    enrolment is not a way to look members up."""
    club = req.service.merchant_club(req.terminal.merchant_id)
    pan = req.message.get_str("2")
    key = req.tag(tlv.MK)
    if key and pan:
        bound = req.service.bind_identifier(club, member_ref(key), "card", pan, idem_key=req.idem_key, proof=req.proof(),
                                            merchant_id=req.terminal.merchant_id, terminal_id=req.terminal.terminal_id)
        return TerminalReply("00", {}, [(tlv.MK, _account_key(req, int(bound["member_id"]))), (tlv.RL, "کارت به عضویت متصل شد")])
    identifiers: list[tuple[str, str]] = []
    if pan:
        identifiers.append(("card", pan))
    if req.tag(tlv.MB):
        identifiers.append(("mobile", req.tag(tlv.MB) or ""))
    if req.tag(tlv.NC):
        identifiers.append(("national_code", req.tag(tlv.NC) or ""))
    if not identifiers:
        return TerminalReply("30")
    try:
        result = req.service.enroll(club, idem_key=req.idem_key, identifiers=identifiers, via="pos", merchant_id=req.terminal.merchant_id,
                                    actor=f"terminal:{req.terminal.terminal_id}")
    except KimiaError as exc:
        if exc.code != "identifier_taken":
            raise
        return TerminalReply("05", {}, [(tlv.RL, "این شناسه قبلاً ثبت شده است")], reason=exc.code)
    return TerminalReply("00", {}, [(tlv.MK, _account_key(req, int(result["member_id"]))), (tlv.RL, "عضویت انجام شد")])


def request_code(req: HostRequest) -> TerminalReply:
    """Send the member (card in 2/35, else 48 MK) a one-time code on their mobile; the terminal
    then sends it in 48 OT with the purchase, hold or card binding it proves."""
    club = req.service.merchant_club(req.terminal.merchant_id)
    sent = req.service.request_code(club, req.member())
    return TerminalReply("00", {}, [(tlv.RL, f"کد یکبار مصرف به {sent['mobile']} ارسال شد")])


#: Tehran's offset from GMT (field 7 is GMT, field 13 local; Iran keeps no daylight saving time).
TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
#: How far field 7 (GMT transmission time) may be from the host's clock, by default: a request
#: outside the window is refused (63) before any operation runs, so a captured request cannot be
#: replayed later (its field 7 is covered by the MAC).
FRESHNESS_S = 600


def _nearest(candidates: list[dt.datetime], now: dt.datetime) -> dt.datetime | None:
    return min(candidates, key=lambda when: abs((when - now).total_seconds()), default=None)


def _in_years(month: int, day: int, clock: tuple[int, int, int], around: dt.datetime) -> dt.datetime | None:
    """The date-time (month, day, clock) nearest to ``around``, in its year or the one before or
    after: the wire sends no year (29 February counts only in a leap year)."""
    found = []
    for year in (around.year - 1, around.year, around.year + 1):
        try:
            found.append(dt.datetime(year, month, day, *clock, tzinfo=around.tzinfo))
        except ValueError:
            continue
    return _nearest(found, around)


def transmission_time(message: Message, now_s: int) -> dt.datetime | None:
    """Field 7 (MMDDhhmmss, GMT) as a date-time, its year the one nearest the host's clock; None
    when absent or not a date."""
    sent = message.transmission_datetime
    if not sent or len(sent) != 10 or not set(sent) <= _ASCII_DIGITS:
        return None
    now = dt.datetime.fromtimestamp(now_s, dt.timezone.utc)
    return _in_years(int(sent[:2]), int(sent[2:4]), (int(sent[4:6]), int(sent[6:8]), int(sent[8:10])), now)


def is_stale(message: Message, now_s: int, window_s: float = FRESHNESS_S) -> bool:
    """Whether a request's field 7 is more than ``window_s`` from the host's clock (or is no date).
    A request without field 7 is not stale here: it is refused as a format error (30)."""
    if message.transmission_datetime is None:
        return False
    sent = transmission_time(message, now_s)
    return sent is None or abs(sent.timestamp() - now_s) > window_s


def dated(local_mmdd: str, today: dt.date) -> str:
    """A local date sent without its year (field 13, MMDD) as YYYYMMDD: the year that puts it
    nearest to the host's date (a terminal's date is a day off at most around midnight)."""
    if len(local_mmdd) != 4 or not set(local_mmdd) <= _ASCII_DIGITS:
        raise _format_error("field 13 is not a date")
    around = dt.datetime(today.year, today.month, today.day)
    when = _in_years(int(local_mmdd[:2]), int(local_mmdd[2:]), (0, 0, 0), around)
    if when is None:
        raise _format_error("field 13 is not a date")
    return f"{when.year:04d}{local_mmdd}"


def idempotency_key(message: Message, now_s: int) -> str:
    """The operation key of a terminal request: merchant, terminal, STAN, local date **with its
    year** (the same STAN and MMDD a year later is another transaction) and the message class.
    A network message (no field 13) posts nothing: its key is only its STAN."""
    key = message.duplicate_key()
    if key is None:
        return f"iso:network:{message.stan}"
    mid, tid, stan, mmdd, mti = key
    today = dt.datetime.fromtimestamp(now_s, TEHRAN).date()
    return f"iso:{mid}:{tid}:{stan}:{dated(mmdd, today)}:{mti}"


def _local_date_of(transmission: str, today: dt.date) -> str:
    """The Tehran date (YYYYMMDD) of a GMT transmission date-time (MMDDhhmmss) from field 90. The
    year is not sent: this year's, unless that date is still to come (then it was last year's: a
    reversal sent on 1 January for a sale of 31 December)."""
    month, day = int(transmission[:2]), int(transmission[2:4])
    hh, mm, ss = int(transmission[4:6]), int(transmission[6:8]), int(transmission[8:10])
    for year in (today.year, today.year - 1):
        try:
            sent = dt.datetime(year, month, day, hh, mm, ss, tzinfo=dt.timezone.utc)
        except ValueError:
            continue  # 29 February of a common year, or no such date at all
        local = sent.astimezone(TEHRAN).date()
        if local <= today + dt.timedelta(days=1):
            return f"{local.year:04d}{local.month:02d}{local.day:02d}"
    raise _format_error("field 90 holds no valid transmission date and time")


def original_keys(req: HostRequest) -> tuple[str, str]:
    """The natural key of the message a reversal cancels, as a switch matches it from field 90:
    the original's MTI and STAN, and its local date (with its year) from the original transmission
    date-time (GMT, converted to Tehran time), at the reversal's own terminal and merchant. The
    acquirer and forwarding ids must be zeros (kimia's terminals send no 32/33), else no original
    matches (25). Without field 90 (or with a zero date-time) the reversal's own STAN and date name
    it, with MTI 0200 (0100 when a hold reference HR is given).

    Second, the same key as kimia wrote it before keys had a year (``MMDD``), so that a reversal
    still finds an original posted before the upgrade."""
    m = req.message
    data = m.get_str("90")
    today = dt.datetime.fromtimestamp(req.service.clock(), TEHRAN).date()
    mti, stan = ("0100" if req.tag(tlv.HR) else "0200"), m.stan or ""
    date = dated(m.local_date or "", today)
    if data:  # n42, all digits (checked by the codec)
        mti, stan, sent, ids = data[:4], data[4:10], data[10:20], data[20:]
        mti = mti[:3] + {"1": "0", "3": "2"}.get(mti[3], mti[3])  # a repeat's original is its first form
        if ids.strip("0"):
            raise reject("unknown_operation", path="90")
        if sent.strip("0"):
            date = _local_date_of(sent, today)
    prefix = f"iso:{m.merchant_id}:{m.terminal_id}:{stan}:"
    return f"{prefix}{date}:{mti}", f"{prefix}{date[4:]}:{mti}"


def original_key(req: HostRequest) -> str:
    """The reversal's original key (see :func:`original_keys`)."""
    return original_keys(req)[0]


def replacement_amount(req: HostRequest) -> int | None:
    """Field 95's actual transaction amount (its first 12 digits): what the sale comes to after a
    partial reversal. None (reverse it all) when 95 is absent or that amount is zero."""
    data = req.message.get_str("95")
    if not data:
        return None
    actual = data[:12]
    amount = wire_int(actual, "field 95 actual amount")
    return amount or None


def reversal(req: HostRequest) -> TerminalReply:
    """Reversals are acknowledged: the original is reversed (in part, with field 95), a hold
    cancelled, or an unknown original recorded as void so that it can never post if it arrives
    late. Field 4 is the original's amount, as ISO 8583 has it; it does not say how much to reverse."""
    key, legacy = original_keys(req)
    req.service.reverse_by_key(req.terminal.merchant_id, key, idem_key=req.idem_key,
                               replacement_rial=replacement_amount(req), legacy_key=legacy, terminal_id=req.terminal.terminal_id)
    return TerminalReply("00")


#: Every request except the network 0800 carries these (12 and 13 date it: 13 is part of the key).
COMMON: tuple[str, ...] = ("7", "11", "12", "13", "41", "42")
#: A money request also names its processing code, amount and currency (364).
MONEY: tuple[str, ...] = (*COMMON, "3", "4", "49")

def _op(name: str, mtis: tuple[str, ...], codes: tuple[str, ...], handle: Callable[[HostRequest], TerminalReply], *,
        required: tuple[str, ...], handle_async: Callable[[Any, Any], Awaitable[TerminalReply]] | None = None) -> TerminalOperation:
    return TerminalOperation(name, mtis, codes, host_request(handle), handle_async, required=required)


BUILTIN: tuple[TerminalOperation, ...] = (
    _op("network", ("0800",), ("",), network, required=("7", "11", "41", "42", "70")),
    _op("balance_inquiry", ("0100",), ("31",), balance_inquiry, required=(*COMMON, "3")),
    _op("hold", ("0100",), ("00",), hold, required=MONEY),
    _op("enrol", ("0100",), ("91",), enrol, required=(*COMMON, "3")),
    _op("request_code", ("0100",), ("92",), request_code, required=(*COMMON, "3")),
    _op("purchase", ("0200",), ("00",), purchase, handle_async=purchase_async, required=MONEY),
    _op("refund", ("0200",), ("20",), refund, required=MONEY),
    _op("completion", ("0220",), ("00",), completion, required=(*MONEY, "37")),
    _op("reversal", ("0400", "0420"), ("*",), reversal, required=MONEY),
)


@hookimpl
def kimia_register_terminal_operations() -> list[TerminalOperation]:
    return list(BUILTIN)
