"""Cardholder verification (kimia.service.verify) as operations use it: what a spend needs, PIN and
one-time-code checks counted in the writer, codes sent and PINs set."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from kimia.errors import KimiaError, reject
from kimia.service import audit, verify
from kimia.service.host import Host
from kimia.service.requests import MemberRef, PurchaseRequest
from kimia.service.requests import spends
from kimia.service.proofs import prove
from kimia.service.posting import Run
from kimia.service.sql import Tx
from kimia.service.verify import Proof
from kimia.service.clubs import club_settings
from kimia.service.members import member_root_club, resolve_member

log = logging.getLogger(__name__)


def verify_spend(svc: Host, req: PurchaseRequest) -> None:
    """A purchase or hold that spends the member's value (credit or points) needs the proof
    their club asks for; earning needs none. Raises ``verification_required``,
    ``pin_incorrect``, ``pin_locked`` or ``otp_invalid``."""
    if not spends(req):
        return
    with svc.reading() as tx:
        needed = verification_needed(svc, tx, req)
    if needed is not None:
        prove(svc, *needed, req.proof or Proof())


async def verify_spend_async(svc: Host, req: PurchaseRequest) -> None:
    """``_verify_spend`` for the event loop. What is needed is read in the writer's queue, so
    purchases keep their order (a club that asks for nothing costs one queued read); only a
    PIN or code to check goes to a worker thread (a PIN check is slow on purpose)."""
    if not spends(req):
        return
    needed = await svc.writer.submit_async(svc.posting(partial(_needed_in_run, svc, req)))
    if isinstance(needed, KimiaError):
        raise needed
    if needed is not None:
        member_id, member_club, accepted = needed
        await asyncio.get_running_loop().run_in_executor(None, partial(prove, svc, member_id, member_club, accepted, req.proof or Proof()))


def _needed_in_run(svc: Host, req: PurchaseRequest, tx: Tx, run: Run) -> tuple[int, int, tuple[str, ...]] | None:
    """``verification_needed`` read in the writer's run (queued with the postings, not between
    them), after whatever of the run its key depends on."""
    run.flush_if(keys=[(svc.caches.merchant(tx, req.merchant_id).root_club_id, req.idem_key)])
    return verification_needed(svc, tx, req)


def verification_needed(svc: Host, tx: Tx, req: PurchaseRequest) -> tuple[int, int, tuple[str, ...]] | None:
    """(member id, member's club, proofs accepted) when the spend needs a PIN or a code; None
    when it needs nothing (the club asks for nothing, a card was read at the counter, or the
    request is a repeat: it gets the stored answer, and a used code must not refuse it).
    Raises ``verification_required`` when no accepted proof is offered."""
    ref = MemberRef.of(req.member)
    merchant = svc.caches.merchant(tx, req.merchant_id)
    if tx.one("SELECT 1 FROM operations WHERE club_id = ? AND idem_key = ?", (merchant.root_club_id, req.idem_key)):
        return None
    member_id, member_club = resolve_member(svc, tx, merchant.root_club_id, ref)
    accepted = verify.policy(club_settings(tx, member_club), "redeem")
    card_present = ref is not None and ref.kind == "card" and req.channel in ("pos", "pcpos")
    if not accepted or ("card_present" in accepted and card_present):
        return None
    proof = req.proof or Proof()
    if not (("pin" in accepted and proof.pin) or ("otp" in accepted and proof.otp)):
        raise reject("verification_required", path="proof", accepted=" / ".join(accepted))
    return member_id, member_club, accepted


def request_code(svc: Host, club_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
    """Send the member a one-time code on their mobile (through ``svc.notifier``); it proves
    they are there for one spend or card binding within a few minutes. At most one code a
    minute per member."""
    ref = MemberRef.of(member)
    code = verify.new_code()

    def work(tx: Tx) -> dict[str, Any] | KimiaError:
        now = svc.clock()
        root = svc.caches.root_club(tx, club_id)
        member_id, member_club = resolve_member(svc, tx, root, ref)
        mobile = tx.one("SELECT display FROM member_identifiers WHERE member_id = ? AND kind = 'mobile' ORDER BY id LIMIT 1", (member_id,))
        if mobile is None:
            return reject("no_mobile")
        last = tx.one("SELECT MAX(created_at) FROM member_codes WHERE member_id = ?", (member_id,))
        if last is not None and last[0] is not None and int(last[0]) > now - verify.CODE_INTERVAL_S:
            return reject("code_too_soon")
        tx.execute("INSERT INTO member_codes (club_id, member_id, code_hash, expires_at, attempts, used_at, created_at)"
                   " VALUES (?,?,?,?,0,NULL,?)",
                   (member_club, member_id, verify.code_hash(svc.card_key, member_id, code), now + verify.CODE_TTL_S, now))
        return {"member_id": member_id, "club_id": member_club, "mobile": str(mobile[0]), "expires_in_s": verify.CODE_TTL_S}

    sent = svc.writer.submit(work)
    if isinstance(sent, KimiaError):
        raise sent
    minutes = verify.CODE_TTL_S // 60
    svc.notifier.send(club_id=sent["club_id"], mobile=sent["mobile"],
                       text_fa=f"کد تأیید باشگاه: {code} (تا {minutes} دقیقه معتبر است)",
                       text_en=f"Club verification code: {code} (valid {minutes} minutes)")
    mobile = sent["mobile"]
    return {"sent": True, "mobile": mobile[:4] + "*" * max(0, len(mobile) - 6) + mobile[-2:], "expires_in_s": sent["expires_in_s"]}


def set_pin(svc: Host, club_id: int, member: MemberRef | int | dict[str, Any], pin: str, *, actor: str, reason: str = "") -> None:
    """Set (or replace) a member's club PIN; audited, the PIN itself never stored or logged: documented on ``Kimia.set_pin``, the public face of this function."""
    ref = MemberRef.of(member)
    pin_hash = verify.hash_pin(pin)

    def work(tx: Tx) -> None:
        now = svc.clock()
        root = svc.caches.root_club(tx, club_id)
        member_id, member_club = resolve_member(svc, tx, root, ref)
        if tx.one("SELECT 1 FROM member_pins WHERE member_id = ?", (member_id,)) is None:
            tx.execute("INSERT INTO member_pins (member_id, club_id, pin_hash, failures, locked_until, updated_at) VALUES (?,?,?,0,0,?)",
                       (member_id, member_club, pin_hash, now))
        else:
            tx.execute("UPDATE member_pins SET pin_hash = ?, failures = 0, locked_until = 0, updated_at = ? WHERE member_id = ?",
                       (pin_hash, now, member_id))
        audit.append(tx, club_id=member_club, actor=actor, action="set_pin", reason=reason, payload={"member_id": member_id}, at=now)

    svc.write(work)


