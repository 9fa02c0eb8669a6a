"""The cash extra's terminal operations (docs/terminal-protocol.md, *Expenses and cash receipts*):

| MTI  | 3        | operation                                                            |
|------|----------|----------------------------------------------------------------------|
| 0200 | `94xxxx` | an expense: 4 the amount, 48 `EX` its category's code, `NT` a note     |
| 0200 | `95xxxx` | a cash receipt: 4 the amount, 48 `EX` an optional category, `NT` a note |

Approved (00) with Persian receipt lines (48 ``RL``): what was recorded and the day's totals; 37
is the entry's number. Refused: 13 for an amount of zero or above the limit, 12 for a category the
merchant does not have, 30 for an expense without ``EX``. A repeat (the same natural key) is
answered from the stored entry, byte for byte, and records nothing. A note (``NT``) longer than
200 characters is cut to 200.
"""

from __future__ import annotations

from kimia.extras.cash import book
from kimia.plugins.types import Refusal, TerminalOperation, TerminalReply, TerminalRequest

#: The tags of field 48 these operations read.
EX, NT, RL = "EX", "NT", "RL"
REQUIRED = ("3", "4", "7", "11", "12", "13", "41", "42", "49")


def _record(request: TerminalRequest, kind: str) -> TerminalReply:
    code = (request.tag(EX) or "").strip()
    if kind == "expense" and not code:
        raise Refusal("invalid_request", path=EX, detail=("an expense names its category in 48 EX", "هزینه باید دسته‌اش را در EX بیاورد"))
    services = request.services
    merchant = services.merchant(request.terminal.merchant_id)
    # A terminal cannot show a form error: a note longer than the book keeps is cut, not refused.
    note = " ".join((request.tag(NT) or "").split())[:book.MAX_NOTE]
    new = book.NewEntry(kind, request.amount_rial, category=code or None, note=note,
                        paths={"amount_rial": "4", "category": EX, "note": NT})
    wire = {key: value for key, value in (("7", request.field("7")), ("12", request.field("12"))) if value}
    entry = book.record(services, merchant, new, source="terminal", idem_key=request.idem_key,
                        actor=f"terminal:{request.terminal.terminal_id}", terminal_id=request.terminal.terminal_id, wire=wire)
    return reply(entry)


def reply(entry: book.Entry) -> TerminalReply:
    """The answer of a recorded entry: a pure function of the stored entry, so a repeat gets the
    first answer's bytes (its 7 and 12 included)."""
    answer = entry.answer
    fields: dict[str, str | bytes] = {"37": f"{entry.id % 10**12:012d}", "38": f"{entry.id % 10**6:06d}"}
    for key in ("7", "12"):
        if answer.get(key):
            fields[key] = str(answer[key])
    items = [(RL, str(line)[:120]) for line in answer.get("lines", [])]
    return TerminalReply("00", fields, items)


def expense(request: TerminalRequest) -> TerminalReply:
    return _record(request, "expense")


def cash_receipt(request: TerminalRequest) -> TerminalReply:
    return _record(request, "receipt")


OPERATIONS = [
    TerminalOperation("cash.expense", ("0200",), ("94",), expense, required=REQUIRED),
    TerminalOperation("cash.receipt", ("0200",), ("95",), cash_receipt, required=REQUIRED),
]
