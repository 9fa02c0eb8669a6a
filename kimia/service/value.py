"""Value operations on one member: points conversion, charges, vouchers bought, manual adjustments,
expiry sweeps, credit limits (V1–V5)."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import kimia._core as core
from kimia.errors import Rejected, reject
from kimia.service import audit
from kimia.service.host import Host
from kimia.service.requests import MAX_AMOUNT_RIAL, MemberRef
from kimia.service.requests import check_actor, check_amount, check_key
from kimia.service.requests import receipt_of, request_hash
from kimia.service.snapshot import load_member
from kimia.service.posting import OpRow, Post, Posting, Run
from kimia.service.sql import Tx
from kimia.service.clubs import conversion_settings
from kimia.service.ops import existing_answer
from kimia.service.members import member_key, member_ref_display, member_secrets, own_member, resolve_member

log = logging.getLogger(__name__)


def member_value_op(
    svc: Host,
    *,
    club_id: int,
    member: MemberRef | int | dict[str, Any],
    idem_key: str,
    kind: str,
    body: dict[str, Any],
    amount: int,
    decide: Callable[[Tx, dict[str, Any], int, int, int], core.Decision],
    audited: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    """An operation on one member's value decided by ``decide(tx, snapshot, op_id, now, root)``;
    with ``audited`` = (actor, action, reason) also a row of the audit log, in its transaction."""
    check_key(idem_key)
    body_hash = request_hash({"op": kind, **body, "member": member_key(svc, member)})
    ref = MemberRef.of(member)

    def decide_op(tx: Tx, run: Run) -> dict[str, Any] | Post:
        now = run.now
        root = svc.caches.root_club(tx, club_id)
        run.flush_if(keys=[(root, idem_key)])
        existing = existing_answer(tx, root, idem_key, body_hash, amount)
        if existing is not None:
            return existing
        member_id, member_club = resolve_member(svc, tx, root, ref)
        today = svc.caches.local_day(tx, root, now)
        snapshot = run.member_snapshot(member_id, lambda: load_member(
            tx, member_id, merchant_id=None, today=today, club_id=root, ledger_club=member_club))
        op_id = run.take_id()
        d = decide(tx, snapshot, op_id, now, root)
        receipt = receipt_of(d, snapshot, op_id)
        op = OpRow(op_id, root, idem_key, body_hash, kind, member_id, today, now, amount_rial=amount,
                   actor=audited[0] if audited is not None else None)
        then = None if audited is None else partial(_audit, svc, ref=ref, body=body, member_id=member_id, op_id=op_id, club=root,
                                                     audited=audited, now=now)
        return Post(receipt, [Posting(op, "done", receipt, d, member_club, voucher_codes=True, then=then)])

    answer: dict[str, Any] = svc.write(svc.posting(decide_op))
    return answer


def _audit(svc: Host, tx: Tx, *, ref: MemberRef | None, body: dict[str, Any], member_id: int, op_id: int, club: int,
           audited: tuple[str, str, str], now: int) -> None:
    """The audit row of a value operation: who, why, and the member as the operator named them
    (masked: a card by its last 4 digits, and any of the member's secrets quoted in the reason)."""
    actor, action, reason = audited
    named, secrets = member_ref_display(svc, ref)
    payload = {**body, "member": named, "member_id": member_id, "op_id": op_id}
    secrets += member_secrets(svc, tx, member_id, json.dumps([actor, reason, payload], ensure_ascii=False))
    audit.append(tx, club_id=club, actor=actor, action=action, reason=reason, at=now, secrets=secrets, payload=payload)


def convert_points(svc: Host, club_id: int, member: MemberRef | int | dict[str, Any], points: int, *, idem_key: str) -> dict[str, Any]:
    """Convert points to credit at the member's tier/group ratio (V1)."""
    check_amount(points, "points")

    def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
        return core.convert_points(conversion_settings(svc, tx, root), snapshot, op_id=op_id, now=now, points=points)

    return member_value_op(svc, club_id=club_id, member=member, idem_key=idem_key, kind="conversion",
                                 body={"member": str(member), "points": points}, amount=points, decide=decide)


def charge(
    svc: Host,
    club_id: int,
    member: MemberRef | int | dict[str, Any],
    *,
    idem_key: str,
    kind: str,
    amount_rial: int,
    source: dict[str, Any],
    actor: str,
    reason: str,
    expires_days: int | None = None,
    shared_wallet: bool = False,
) -> dict[str, Any]:
    """Charge credit: welfare from an organisation (V3), a gift card (V4), a credit-line repayment (V2): documented on ``Kimia.charge``, the public face of this function."""
    check_actor(actor, reason)
    check_amount(amount_rial, "amount_rial")
    if kind not in ("gift_credit", "welfare_credit", "virtual_credit", "credit_line"):
        raise reject("invalid_request", path="kind", detail="gift_credit, welfare_credit, virtual_credit or credit_line")

    def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
        account = f"member:{snapshot['member_id']}/{kind}"
        if shared_wallet:
            if snapshot.get("shared_group_id") is None:
                raise reject("invalid_request", path="shared_wallet", detail="the member has no shared wallet")
            account = f"group:{snapshot['shared_group_id']}/{kind}"
        return core.charge(snapshot, op_id=op_id, now=now, account=account, amount=amount_rial, source=source, expires_days=expires_days)

    body = {"member": str(member), "kind": kind, "amount": amount_rial, "source": source, "expires": expires_days}
    if shared_wallet:
        body["shared_wallet"] = True
    return member_value_op(svc, club_id=club_id, member=member, idem_key=idem_key, kind="charge",
                                 body=body, amount=amount_rial, decide=decide, audited=(actor, "charge", reason))


def charge_many(svc: Host, club_id: int, org_id: int, charges: list[tuple[int, int]], *, batch_key: str, actor: str, reason: str,
                kind: str = "welfare_credit", expires_days: int | None = None) -> list[dict[str, Any]]:
    """Closed-loop bulk charge of staff accounts by an organisation (V3): one operation per member,: documented on ``Kimia.charge_many``, the public face of this function."""
    check_actor(actor, reason)
    return [
        charge(svc, club_id, member_id, idem_key=f"{batch_key}:{member_id}", kind=kind, amount_rial=amount,
                    source={"type": "org", "id": org_id}, expires_days=expires_days, actor=actor,
                    reason=f"{reason} (batch {batch_key})")
        for member_id, amount in charges
    ]


def set_credit_limit(svc: Host, club_id: int, member_id: int, limit_rial: int, *, actor: str, reason: str) -> None:
    """Open or change a member's credit line (V2); audited."""
    check_amount(limit_rial, "limit_rial", allow_zero=True)
    check_actor(actor, reason)

    def work(tx: Tx) -> None:
        root = svc.caches.root_club(tx, club_id)
        own_member(svc, tx, root, member_id)
        account = f"member:{member_id}/credit_line"
        tx.execute(
            "INSERT INTO balances (club_id, account, owner, balance, credit_limit) VALUES (?,?,?,0,?)"
            " ON CONFLICT (club_id, account) DO UPDATE SET credit_limit = excluded.credit_limit",
            (root, account, f"member:{member_id}", limit_rial),
        )
        row = tx.one("SELECT balance FROM balances WHERE club_id = ? AND account = ?", (root, account))
        if row[0] < -limit_rial:
            raise reject("credit_limit_exceeded")
        audit.append(tx, club_id=root, actor=actor, action="set_credit_limit", reason=reason,
                     payload={"member_id": member_id, "limit_rial": limit_rial}, at=svc.clock())

    svc.write(work)


def buy_voucher(svc: Host, club_id: int, member: MemberRef | int | dict[str, Any], template_id: int, *, idem_key: str) -> dict[str, Any]:
    """Buy a voucher with points or credit (V5); the answer carries the voucher code."""

    def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
        row = tx.one("SELECT price_points, price_credit_rial, min_balance FROM voucher_templates WHERE id = ? AND club_id = ?", (template_id, root))
        if row is None:
            raise reject("unknown_voucher_template")
        price = {"template_id": template_id, "points": row[0], "credit_rial": row[1], "min_balance": row[2]}
        return core.buy_voucher(root, price, snapshot, op_id=op_id, now=now)

    return member_value_op(svc, club_id=club_id, member=member, idem_key=idem_key, kind="voucher",
                                 body={"member": str(member), "template": template_id}, amount=0, decide=decide)


def adjust(
    svc: Host,
    club_id: int,
    member: MemberRef | int | dict[str, Any],
    *,
    idem_key: str,
    account_kind: str,
    delta: int,
    actor: str,
    reason: str,
    expires_days: int | None = None,
) -> dict[str, Any]:
    """A manual adjustment by staff, with who and why in the audit log (the member named as: documented on ``Kimia.adjust``, the public face of this function."""
    check_actor(actor, reason)
    if not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_AMOUNT_RIAL:
        raise reject("amount_must_be_positive", path="delta")

    def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now: int, root: int) -> core.Decision:
        account = f"member:{snapshot['member_id']}/{account_kind}"
        return core.adjust(root, snapshot, op_id=op_id, now=now, account=account, delta=delta, expires_days=expires_days)

    return member_value_op(svc, club_id=club_id, member=member, idem_key=idem_key, kind="adjustment",
                                 body={"member": str(member), "account": account_kind, "delta": delta, "reason": reason},
                                 amount=abs(delta), decide=decide, audited=(actor, "adjust", reason))


def expire_sweep(svc: Host, club_id: int, *, actor: str) -> int:
    """Retire every expired lot of a club; returns how many members were swept: documented on ``Kimia.expire_sweep``, the public face of this function."""
    check_actor(actor)
    now = svc.clock()
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        owners = [o for (o,) in tx.all(
            "SELECT DISTINCT owner FROM lots WHERE club_id = ? AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= ?",
            (root, now))]
        members: list[int] = []
        for owner in owners:
            kind, _, number = owner.partition(":")
            if kind == "member":
                members.append(int(number))
            else:
                row = tx.one("SELECT id FROM members WHERE shared_wallet_id = ? ORDER BY id LIMIT 1", (int(number),))
                if row:
                    members.append(int(row[0]))

    def decide(tx: Tx, snapshot: dict[str, Any], op_id: int, now_: int, root_: int) -> core.Decision:
        return core.expire(root_, snapshot, op_id=op_id, now=now_)

    for member_id in members:
        member_value_op(svc, club_id=root, member=member_id, idem_key=f"expire:{member_id}:{now}", kind="expiry",
                              body={"member": member_id, "at": now}, amount=0, decide=decide)
    svc.write(partial(audit.append, club_id=root, actor=actor, action="expire_sweep", reason="lots past their expiry",
                       payload={"members_swept": len(members)}, at=now))
    return len(members)


