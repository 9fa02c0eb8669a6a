"""Attendance on the card reader (processing code 93; docs/terminal-protocol.md, *Attendance*).

- ``0100/93`` registers a person at the terminal's merchant: 48 ``ST`` the staff code (or the
  staff card in 2/35 when ``ST`` is absent), 48 ``SN`` the name. Answer 48 ``SN`` and an ``RL``
  «ثبت شد: نام». A code already registered there is ``staff_code_taken`` (05).
- ``0200/93`` clocks a person in or out: 48 ``ST`` (or the card), 48 ``AD`` ``I`` or ``O``.
  Answer 48 ``SN``, ``AD`` and ``RL`` lines with the name and the local time in Persian digits.
  ``unknown_staff`` (14), ``already_clocked_in`` / ``not_clocked_in`` (05).

Both write under the request's natural key (``request.idem_key``): a repeat is answered from what
the first wrote, the same bytes, and writes nothing.
"""

from __future__ import annotations

from kimia.plugins.types import MerchantInfo, Refusal, TerminalOperation, TerminalReply, TerminalRequest
from kimia.web.panel import fmt

from . import store

#: Every request except the network 0800 carries these, and field 3 names the operation.
REQUIRED = ("3", "7", "11", "12", "13", "41", "42")


def _code(request: TerminalRequest) -> str:
    """The staff code: 48 ST, else the card swiped (2, or the PAN of track 2 in 35)."""
    value = request.tag("ST")
    if not value:
        value = request.field("2")
    if not value:
        track2 = request.field("35")
        if track2:
            value = track2.replace("D", "=").split("=", 1)[0]
    return store.clean_code(value, "ST", wire=True)


def _merchant(request: TerminalRequest) -> MerchantInfo:
    return request.services.merchant(request.terminal.merchant_id)


def _actor(request: TerminalRequest) -> str:
    return f"terminal:{request.terminal.terminal_id}"


def register(request: TerminalRequest) -> TerminalReply:
    code = _code(request)
    name = store.clean_name(request.tag("SN"), "SN", wire=True)
    staff = store.register(request.services, _merchant(request), code=code, name=name, idem_key=request.idem_key,
                           actor=_actor(request))
    return TerminalReply("00", {}, [("SN", staff.name), ("RL", f"ثبت شد: {staff.name}"[:120]),
                                    ("RL", fmt.digits(f"کد کارمندی: {store.masked(code)}", "fa"))])


def clock(request: TerminalRequest) -> TerminalReply:
    code = _code(request)
    wire = (request.tag("AD") or "").strip().upper()
    if wire not in ("I", "O"):
        raise Refusal("invalid_request", path="AD", detail="AD is I (in) or O (out)")
    merchant = _merchant(request)
    record = store.clock(request.services, merchant, code=code, direction="in" if wire == "I" else "out", source="terminal",
                         idem_key=request.idem_key, actor=_actor(request), terminal_id=request.terminal.terminal_id, path="ST")
    offset = request.services.utc_offset_min(merchant.club_id)
    when = fmt.jdatetime(record.at, offset, "fa")
    word = "ورود" if record.direction == "in" else "خروج"
    return TerminalReply("00", {}, [("SN", record.staff_name), ("AD", wire), ("RL", record.staff_name[:120]),
                                    ("RL", f"{word}: {when}")])


OPERATIONS = (
    TerminalOperation("attendance_register", ("0100",), ("93",), register, required=REQUIRED),
    TerminalOperation("attendance_clock", ("0200",), ("93",), clock, required=REQUIRED),
)
