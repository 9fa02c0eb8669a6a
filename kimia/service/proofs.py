"""Proofs that a member is there (kimia.service.verify): a PIN checked against its hash, a one-time
code against the newest one sent; each outcome counted in the writer, so a lockout holds across
processes."""

from __future__ import annotations

import hmac

from kimia.errors import KimiaError, reject
from kimia.service import verify
from kimia.service.host import Host
from kimia.service.sql import Tx
from kimia.service.verify import Proof

def prove(svc: Host, member_id: int, club_id: int, accepted: tuple[str, ...], proof: Proof) -> None:
    """Accept the first proof offered that the club accepts, or raise."""
    if not accepted:
        return
    if "pin" in accepted and proof.pin:
        check_pin(svc, member_id, proof.pin)
        return
    if "otp" in accepted and proof.otp:
        check_code(svc, member_id, proof.otp)
        return
    raise reject("verification_required", path="proof", accepted=" / ".join(accepted))


def check_pin(svc: Host, member_id: int, pin: str) -> None:
    """The PIN against its scrypt hash (computed here, outside the writer: it is slow on
    purpose); the outcome is counted in the writer, so a lockout holds across processes."""
    now = svc.clock()
    with svc.reading() as tx:
        row = tx.one("SELECT pin_hash, locked_until FROM member_pins WHERE member_id = ?", (member_id,))
    if row is None:
        raise reject("pin_incorrect", path="pin")
    if int(row[1]) > now:
        raise reject("pin_locked", path="pin")
    right = verify.pin_matches(pin, str(row[0]))

    def work(tx: Tx) -> KimiaError | None:
        state = tx.one(tx.lock("SELECT failures, locked_until FROM member_pins WHERE member_id = ?"), (member_id,))
        if state is None or int(state[1]) > now:
            return reject("pin_locked", path="pin")
        if right:
            if state[0]:
                tx.execute("UPDATE member_pins SET failures = 0 WHERE member_id = ?", (member_id,))
            return None
        failures = int(state[0]) + 1
        locked = now + verify.PIN_LOCK_S if failures >= verify.PIN_MAX_FAILURES else 0
        tx.execute("UPDATE member_pins SET failures = ?, locked_until = ? WHERE member_id = ?",
                   (0 if locked else failures, locked, member_id))
        return reject("pin_locked" if locked else "pin_incorrect", path="pin")

    outcome = svc.writer.submit(work)
    if isinstance(outcome, KimiaError):
        raise outcome


def check_code(svc: Host, member_id: int, code: str) -> None:
    """The member's newest one-time code: unexpired, unused, tried fewer than the limit; used
    up when it matches, a try counted when it does not."""
    now = svc.clock()
    offered = verify.code_hash(svc.card_key, member_id, code)

    def work(tx: Tx) -> KimiaError | None:
        row = tx.one(tx.lock("SELECT id, code_hash, expires_at, attempts, used_at FROM member_codes WHERE member_id = ?"
                             " ORDER BY id DESC LIMIT 1"), (member_id,))
        if row is None or row[4] is not None or int(row[2]) <= now or int(row[3]) >= verify.CODE_MAX_ATTEMPTS:
            return reject("otp_invalid", path="otp")
        if not hmac.compare_digest(str(row[1]), offered):
            tx.execute("UPDATE member_codes SET attempts = attempts + 1 WHERE id = ?", (row[0],))
            return reject("otp_invalid", path="otp")
        tx.execute("UPDATE member_codes SET used_at = ? WHERE id = ?", (now, row[0]))
        return None

    outcome = svc.writer.submit(work)
    if isinstance(outcome, KimiaError):
        raise outcome
