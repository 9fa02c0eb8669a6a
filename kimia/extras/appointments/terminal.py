"""The appointments extra at the terminal (processing code 96; docs/terminal-protocol.md,
*Appointments*): ``0100/96`` looks a booking up by its code (48 ``BK``) and ``0200/96`` checks
the member in. Only the booking's merchant's terminals find it; another's code is 25
(``unknown_booking``). A check-in is written once per request key: a repeat is answered as the
first was."""

from __future__ import annotations

from typing import Any

from kimia.extras.appointments import store
from kimia.plugins.types import Db, Refusal, TerminalOperation, TerminalReply, TerminalRequest
from kimia.web.panel import fmt

CODE = "96"
BK = "BK"
RL = "RL"
REQUIRED = ("3", "7", "11", "12", "13", "41", "42")
STATE_FA = {key: pair[0] for key, pair in store.STATE_WORDS.items()}


def _code(request: TerminalRequest) -> str:
    value = request.tag(BK)
    if value is None or value == "":
        raise Refusal("invalid_request", path="BK", detail=("48 BK (the booking code) is required", "کد نوبت (48 BK) لازم است"))
    if len(value) != 6 or not value.isascii() or not value.isdigit():
        raise Refusal("invalid_request", path="BK", detail=("a booking code is 6 ASCII digits", "کد نوبت شش رقم لاتین است"))
    return value


def _lines(services: Any, row: tuple[Any, ...], offset: int) -> list[tuple[str, str]]:
    """The receipt lines of a booking: who, what, when, its state (Persian)."""
    member = services.member(int(row[16]), int(row[4]))
    when = fmt.jdatetime(int(row[5]), offset, "fa")
    return [(BK, str(row[8])), (RL, f"نوبت: {member.name or 'عضو'}"[:120]), (RL, f"خدمت: {row[17]}"[:120]),
            (RL, f"زمان: {when}"[:120]), (RL, f"وضعیت: {STATE_FA.get(str(row[7]), str(row[7]))}"[:120])]


def _booking_here(request: TerminalRequest) -> Any:
    """The booking BK names at this terminal's merchant (another merchant's is unknown here)."""
    code = _code(request)
    merchant = request.terminal.merchant_id
    row = request.services.read(lambda db: store.booking_by_code(db, merchant, code))
    if row is None:
        raise Refusal("unknown_booking", path="BK")
    return row


def lookup(request: TerminalRequest) -> TerminalReply:
    """0100/96: the booking named by BK at this terminal's merchant."""
    services = request.services
    row = _booking_here(request)
    return TerminalReply("00", {}, _lines(services, row, services.utc_offset_min(int(row[16]))))


def check_in(request: TerminalRequest) -> TerminalReply:
    """0200/96: check the member of booking BK in. A cancelled, missed or already checked-in booking
    is ``booking_state`` (12)."""
    services = request.services
    code, merchant = _code(request), request.terminal.merchant_id
    row = _booking_here(request)
    booking = int(row[0])
    lines = _lines(services, row, services.utc_offset_min(int(row[16])))
    actor = f"terminal:{request.terminal.terminal_id}"

    def work(db: Db) -> dict[str, Any]:
        def apply() -> dict[str, Any]:
            current = db.one("SELECT status FROM appointments_bookings WHERE id = ?", (booking,))
            assert current is not None
            state = str(current[0])
            if state not in store.LIVE:
                raise Refusal("booking_state", path="BK", state=store.pair(store.STATE_WORDS[state]),
                              action=store.pair(store.ACTION_WORDS["check_in"]))
            db.execute("UPDATE appointments_bookings SET status = 'checked_in', live_code = NULL, checked_in_at = ?,"
                       " checked_in_by = ? WHERE id = ?", (services.now(), actor, booking))
            done = [*lines[:-1], (RL, "وضعیت: حضور ثبت شد")]
            return {"booking_id": booking, "items": done}

        return store.once(db, request.idem_key, "terminal.check_in", {"code": code, "merchant_id": merchant}, apply, services.now())

    answer = services.write(work)
    return TerminalReply("00", {}, [(str(t), str(v)) for t, v in answer["items"]])


def operations() -> list[TerminalOperation]:
    return [
        TerminalOperation("appointments.lookup", ("0100",), (CODE,), lookup, required=REQUIRED),
        TerminalOperation("appointments.check_in", ("0200",), (CODE,), check_in, required=REQUIRED),
    ]
