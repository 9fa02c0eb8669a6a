"""Built-in terminal operations, registered like any plugin's (``kimia_register_terminal_handlers``).

Processing codes (field 3, first two digits) used by kimia:

| MTI        | code | operation                                                   |
|------------|------|-------------------------------------------------------------|
| 0800       | —    | sign-on (70=001), sign-off (002), echo (301)                 |
| 0100       | 31   | balance inquiry                                             |
| 0100       | 00   | hold: fix the discount and reserve the credit before the bank sale |
| 0200       | 00   | purchase: earn and/or redeem                                |
| 0220       | 00   | completion advice of a hold (48 HR), with the bank sale's RRN (37) |
| 0200       | 20   | refund by the sale's RRN (48 OR), amount in field 4          |
| 0100       | 91   | enrol a member, or bind a card to a member (48 MK)           |
| 0400/0420  | any  | reversal of the original (field 90, else the same STAN)      |

Handlers run on a worker thread and call the blocking service; a purchase, the busiest, runs on
the event loop through the service's async call instead. The server owns framing, MAC, duplicates
by natural key and deadlines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kimia.errors import KimiaError
from kimia.identifiers import IdentifierError
from kimia.plugins.hookspecs import hookimpl
from kimia.service.api import Deadline, Kimia, MemberRef, PurchaseRequest
from kimia.service.context import TerminalContext
from kimia.terminal import tlv
from kimia.terminal.codec import Message

#: kimia's stable error codes → ISO 8583 response codes (field 39).
RESPONSE_FOR_ERROR: dict[str, str] = {
    "unknown_member": "14",
    "invalid_card_number_format": "14",
    "invalid_card_number_checksum": "14",
    "invalid_mobile": "14",
    "invalid_national_code_format": "14",
    "invalid_national_code_checksum": "14",
    "invalid_club_card": "14",
    "insufficient_balance": "51",
    "credit_limit_exceeded": "61",
    "budget_exhausted": "61",
    "lot_expired": "54",
    "voucher_not_active": "54",
    "credit_not_valid_at_merchant": "57",
    "points_redemption_not_allowed": "57",
    "below_threshold": "13",
    "voucher_not_valid_at_merchant": "57",
    "amount_must_be_positive": "13",
    "amount_too_large": "13",
    "basket_mismatch": "13",
    "exists_with_different_amount": "94",
    "exists_with_different_request": "94",
    "already_reversed": "12",
    "not_refundable": "12",
    "hold_not_pending": "12",
    "unknown_operation": "25",
    "nothing_to_reverse": "25",
    "refund_exceeds_purchase": "13",
    "service_unavailable": "91",
    "unknown_terminal": "03",
    "unknown_merchant": "03",
    "invalid_request": "30",
    "voucher_not_found": "14",
    "voucher_already_used": "05",
    "identifier_taken": "05",
}


def response_code_for(error: KimiaError | IdentifierError) -> str:
    return RESPONSE_FOR_ERROR.get(error.code, "05")


@dataclass
class TerminalRequest:
    """What a handler gets: the decoded request, its field-48 items and the terminal it came from."""

    message: Message
    items: list[tuple[str, str]]
    terminal: TerminalContext
    service: Kimia
    idem_key: str

    def tag(self, name: str) -> str | None:
        return tlv.tlv_get(self.items, name)

    def int_tag(self, name: str) -> int:
        value = self.tag(name)
        if value is None:
            return 0
        if not value.isdigit():
            raise KimiaError("invalid_request", f"Invalid request: tag {name} must be digits", "درخواست نامعتبر", name)
        return int(value)

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
            kind, value = tlv.parse_member_key(key)
            return MemberRef({"M": "mobile", "N": "national_code", "C": "club_card", "A": "account"}[kind], value)
        return None

    def amount(self) -> int:
        amount = self.message.amount_rial
        if amount is None:
            raise KimiaError("amount_must_be_positive", "The amount must be a positive number of rials", "مبلغ باید یک عدد مثبت به ریال باشد", "4")
        return amount

    def basket(self) -> list[dict[str, Any]]:
        lines = []
        for value in tlv.tlv_get_all(self.items, tlv.BL):
            line = tlv.BasketLine.parse(value)
            lines.append({"goods_id": line.goods_id, "group": line.group, "quantity": max(1, int(float(line.qty))), "amount_rial": line.amount_rial})
        return lines


@dataclass
class TerminalReply:
    response_code: str = "00"
    fields: dict[str, str | bytes] = field(default_factory=dict)
    items: list[tuple[str, str]] = field(default_factory=list)
    receipt: dict[str, Any] | None = None


Handle = Callable[[TerminalRequest], TerminalReply]
#: An operation that can run on the event loop itself: it gets the request's deadline to pass on.
AsyncHandle = Callable[[TerminalRequest, Deadline], Awaitable[TerminalReply]]


@dataclass(frozen=True)
class TerminalHandler:
    """A terminal operation: the request MTIs (first transmission form, e.g. "0200") and processing
    codes (two digits; "" for messages without field 3) it answers.

    ``handle`` runs on a worker thread and may block on the service. ``handle_async``, if given,
    is used instead and runs on the event loop: it must not block (use the service's ``*_async``
    calls), and it saves the request two thread hops."""

    name: str
    mtis: tuple[str, ...]
    processing_codes: tuple[str, ...]
    handle: Handle
    handle_async: AsyncHandle | None = None


def balance_block(credit_rial: int) -> str:
    """Field 54: one standard 20-character block, the credit balance: account type 10, amount type
    02 (available balance), currency 364 (rial), C/D and 12 digits."""
    sign = "C" if credit_rial >= 0 else "D"
    return f"1002364{sign}{abs(credit_rial):012d}"


def _rrn(op_id: int) -> str:
    return f"{op_id % 10**12:012d}"


def _receipt_reply(receipt: dict[str, Any], *, rrn: str | None = None) -> TerminalReply:
    """Fields and TLV items of an answered purchase-like operation; a pure function of the stored
    receipt, so an identical repeat gets the same bytes."""
    op_id = int(receipt.get("op_id", 0))
    items: list[tuple[str, str]] = [
        (tlv.BP, str(int(receipt.get("balance_points", 0)))),
        (tlv.BC, str(int(receipt.get("balance_credit_rial", 0)))),
    ]
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


def _purchase_request(req: TerminalRequest, *, channel: str) -> PurchaseRequest:
    return PurchaseRequest(
        idem_key=req.idem_key,
        merchant_id=req.terminal.merchant_id,
        member=req.member() or MemberRef("id", ""),
        amount_rial=req.amount(),
        basket=req.basket(),
        payment_method="card" if req.message.get_str("2") or req.message.get_str("35") else "cash",
        channel=channel,
        redeem_credit_rial=req.int_tag(tlv.RC),
        redeem_points=req.int_tag(tlv.RP),
        voucher_code=req.tag(tlv.VC),
        branch_id=req.terminal.branch_id,
        terminal_id=req.terminal.terminal_id,
        reference=req.message.rrn,
        transmission=req.message.transmission_datetime,
        local_time=req.message.local_time,
    )


def network(req: TerminalRequest) -> TerminalReply:
    code = req.message.get_str("70") or ""
    if code not in ("001", "002", "301"):
        return TerminalReply("12")
    return TerminalReply("00")


def balance_inquiry(req: TerminalRequest) -> TerminalReply:
    balances = req.service.member_balances(req.terminal.merchant_id, req.member())
    items = [(tlv.BP, str(balances["points"])), (tlv.BC, str(balances["credit_rial"]))]
    if balances.get("tier"):
        items.append((tlv.TR, str(balances["tier"])))
    items.append((tlv.RL, f"امتیاز: {balances['points']} — اعتبار: {balances['credit_rial']} ریال"))
    return TerminalReply("00", {"54": balance_block(int(balances["credit_rial"]))}, items)


def hold(req: TerminalRequest) -> TerminalReply:
    receipt = req.service.hold(_purchase_request(req, channel=req.terminal.kind))
    return _receipt_reply(receipt)


def purchase(req: TerminalRequest) -> TerminalReply:
    receipt = req.service.purchase(_purchase_request(req, channel=req.terminal.kind))
    return _receipt_reply(receipt, rrn=req.message.rrn)


async def purchase_async(req: TerminalRequest, deadline: Deadline) -> TerminalReply:
    receipt = await req.service.purchase_async(_purchase_request(req, channel=req.terminal.kind), deadline)
    return _receipt_reply(receipt, rrn=req.message.rrn)


def completion(req: TerminalRequest) -> TerminalReply:
    """An advice records what already happened (the bank sale), so it is not declined for business
    reasons: a problem (the hold was already reversed, say) is recorded for review and answered 00."""
    hold_id = req.int_tag(tlv.HR)
    try:
        receipt = req.service.complete_hold(hold_id, idem_key=req.idem_key, reference=req.message.rrn)
    except KimiaError as exc:
        if exc.code in ("service_unavailable", "exists_with_different_amount", "exists_with_different_request"):
            raise  # a timeout, or a duplicate key with other content (94): not a business problem
        req.service.record_for_review(
            req.terminal.merchant_id, "completion_advice_not_applied",
            {"hold_id": hold_id, "code": exc.code, "key": req.idem_key, "rrn": req.message.rrn},
        )
        return TerminalReply("00", {}, [(tlv.RL, "ثبت شد؛ برای بررسی ارسال شد")])
    return _receipt_reply(receipt, rrn=req.message.rrn)


def refund(req: TerminalRequest) -> TerminalReply:
    original = req.tag(tlv.OR)
    if not original:
        return TerminalReply("30")
    merchant = req.service.merchant_club(req.terminal.merchant_id)
    receipt = req.service.refund(idem_key=req.idem_key, reference=original, club_id=merchant, amount_rial=req.amount())
    return _receipt_reply(receipt, rrn=req.message.rrn)


def enrol(req: TerminalRequest) -> TerminalReply:
    """Enrol a new member with the card swiped (and mobile / national code), or bind the swiped
    card to the member named by MK."""
    club = req.service.merchant_club(req.terminal.merchant_id)
    pan = req.message.get_str("2")
    key = req.tag(tlv.MK)
    if key and pan:
        kind, value = tlv.parse_member_key(key)
        ref = MemberRef({"M": "mobile", "N": "national_code", "C": "club_card", "A": "account"}[kind], value)
        member_id = req.service.identify(club, ref)
        req.service.bind_identifier(club, member_id, "card", pan)
        return TerminalReply("00", {}, [(tlv.MK, f"A:{member_id}"), (tlv.RL, "کارت به عضویت متصل شد")])
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
        result = req.service.enroll(club, idem_key=req.idem_key, identifiers=identifiers, via="pos", merchant_id=req.terminal.merchant_id)
    except KimiaError as exc:
        if exc.code != "identifier_taken":
            raise
        # Already a member: answer with the existing membership rather than a refusal.
        kind, value = identifiers[0]
        member_id = req.service.identify(club, MemberRef(kind, value))
        return TerminalReply("00", {}, [(tlv.MK, f"A:{member_id}"), (tlv.RL, "قبلاً عضو شده‌اید")])
    return TerminalReply("00", {}, [(tlv.MK, f"A:{result['member_id']}"), (tlv.RL, "عضویت انجام شد")])


def original_key(req: TerminalRequest) -> str:
    """The natural key of the message a reversal cancels: from field 90 (original MTI and STAN),
    else the reversal's own STAN with the original MTI 0200 (0100 when a hold reference is given).
    The original's local date is the reversal's (field 13)."""
    m = req.message
    data = m.get_str("90")
    if data and len(data) >= 10 and data[:4].isdigit():
        mti, stan = data[:4], data[4:10]
    else:
        mti, stan = ("0100" if req.tag(tlv.HR) else "0200"), m.stan or ""
    return f"iso:{m.merchant_id}:{m.terminal_id}:{stan}:{m.local_date}:{mti}"


def reversal(req: TerminalRequest) -> TerminalReply:
    """Reversals are always acknowledged: the original is reversed, a hold cancelled, or an
    unknown original recorded as void so that it can never post if it arrives late."""
    req.service.reverse_by_key(req.terminal.merchant_id, original_key(req), idem_key=req.idem_key)
    return TerminalReply("00")


BUILTIN: tuple[TerminalHandler, ...] = (
    TerminalHandler("network", ("0800",), ("",), network),
    TerminalHandler("balance_inquiry", ("0100",), ("31",), balance_inquiry),
    TerminalHandler("hold", ("0100",), ("00",), hold),
    TerminalHandler("enrol", ("0100",), ("91",), enrol),
    TerminalHandler("purchase", ("0200",), ("00",), purchase, purchase_async),
    TerminalHandler("refund", ("0200",), ("20",), refund),
    TerminalHandler("completion", ("0220",), ("00",), completion),
    TerminalHandler("reversal", ("0400", "0420"), ("*",), reversal),
)


@hookimpl
def kimia_register_terminal_handlers() -> list[TerminalHandler]:
    return list(BUILTIN)
