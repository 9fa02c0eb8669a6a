"""The member directory: identifiers in normal form, resolution across clubs sharing members,
enrolment, binding, balances, and the secrets an audit row must mask."""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Sequence
from typing import Any

import kimia._core as core
from kimia import identifiers as ids
from kimia.errors import Rejected, reject
from kimia.service import audit, search_keys, verify
from kimia.service.cardkeys import HASHED_KINDS
from kimia.service.context import MerchantContext
from kimia.service.host import Host
from kimia.service.requests import MemberRef, PurchaseRequest
from kimia.service.requests import actor_of, check_key, local_day
from kimia.service.requests import request_hash, spends
from kimia.service.snapshot import load_member
from kimia.service.posting import OpRow, Post, Posting, Run
from kimia.service.sql import Tx
from kimia.service.verify import Proof
from kimia.service.clubs import club_settings
from kimia.service.ops import existing_answer, finish_op, new_op
from kimia.service.proofs import prove

log = logging.getLogger(__name__)

#: The largest id a member can have (the databases' BIGINT).
MAX_MEMBER_ID = 2**63 - 1


def member_key(svc: Host, member: MemberRef | int | dict[str, Any] | None) -> list[str]:
    """A member reference in normal form (a card as its keyed hash), for idempotency hashes."""
    ref = MemberRef.of(member)
    if ref is None:
        raise reject("unknown_member")
    if ref.kind == "id":
        return ["id", ids.normalize_digits(ref.value)]
    return [ref.kind, normalize_identifier(svc, ref.kind, ref.value)[0]]


def normalize_identifier(svc: Host, kind: str, value: str) -> tuple[str, str]:
    """(lookup, display) for an identifier; card numbers become a keyed hash and a mask: documented on ``Kimia.normalize_identifier``, the public face of this function."""
    try:
        return _normalize_identifier(svc, kind, value)
    except ids.IdentifierError as exc:
        raise Rejected(exc.code, exc.message_en, exc.message_fa, exc.field or kind) from None


def _normalize_identifier(svc: Host, kind: str, value: str) -> tuple[str, str]:
    if kind == "card":
        pan = ids.validate_card_number(value)
        return svc.card_keys.hash(kind, pan), ids.mask_card(pan)
    if kind == "mobile":
        mobile = ids.normalize_mobile(value)
        return mobile, mobile
    if kind == "national_code":
        code = ids.validate_national_code(value)
        return code, code[:3] + "****" + code[-3:]
    if kind == "club_card":
        card = ids.validate_club_card(value)
        return svc.card_keys.hash(kind, card), ids.mask_club_card(card)
    if kind == "account":
        account = ids.normalize_digits(value)
        if not account.isdigit() or not 1 <= len(account) <= 20:
            raise reject("invalid_request", path="account", detail="an account number is 1 to 20 digits")
        return account, account
    raise reject("invalid_request", path="kind", detail=f"unknown identifier kind {kind!r}")


def stored_forms(svc: Host, kind: str, value: str) -> list[tuple[str, str | None]]:
    """Every (lookup, key id) under which an identifier may be stored, the current form first:
    a card under each key this process holds (kimia.service.cardkeys), anything else as is."""
    lookup, _ = normalize_identifier(svc, kind, value)
    if kind not in HASHED_KINDS:
        return [(lookup, None)]
    canonical = ids.validate_card_number(value) if kind == "card" else ids.validate_club_card(value)
    return svc.card_keys.lookups(kind, canonical)


def find_identifier(svc: Host, tx: Tx, clubs: Sequence[int], kind: str, forms: list[tuple[str, str | None]]) -> tuple[int, int] | None:
    """(member id, club) of an identifier stored in any of ``forms`` in one of ``clubs``. In a
    write, a card found under an older key (or none) is re-hashed under the current key."""
    lookups = [lookup for lookup, _ in forms]
    rows = tx.all(
        f"SELECT id, member_id, club_id, lookup, key_id FROM member_identifiers WHERE kind = ?"
        f" AND lookup IN ({tx.placeholders(len(lookups))}) AND club_id IN ({tx.placeholders(len(clubs))})",
        (kind, *lookups, *clubs),
    )
    if not rows:
        return None
    row = min(rows, key=lambda r: lookups.index(r[3]))
    current, current_id = forms[0]
    if tx.writing and kind in HASHED_KINDS and (row[3], row[4]) != (current, current_id):
        tx.execute("UPDATE member_identifiers SET lookup = ?, key_id = ? WHERE id = ?", (current, current_id, row[0]))
    return int(row[1]), int(row[2])


def member_ref_display(svc: Host, ref: MemberRef | None) -> tuple[str, list[tuple[str, str]]]:
    """How an audit row names the member an operator referred to, and the (value, mask) pairs
    that must never reach the row in clear."""
    if ref is None or ref.kind == "id":
        return (f"id:{ref.value}" if ref else ""), []
    lookup, display = normalize_identifier(svc, ref.kind, ref.value)
    if ref.kind in HASHED_KINDS or ref.kind == "national_code":
        canonical = ids.normalize_digits(ref.value)
        return f"{ref.kind}:{display}", [(canonical, display)]
    return f"{ref.kind}:{display}", []


def member_secrets(svc: Host, tx: Tx, member_id: int, text: str) -> list[tuple[str, str]]:
    """(value, mask) of the member's club cards and national codes quoted in ``text`` (say, in
    the reason an operator typed): a club card is recognised by its hash, as it is stored."""
    stored = tx.all("SELECT kind, lookup, display FROM member_identifiers WHERE member_id = ? AND kind IN ('club_card', 'national_code')",
                    (member_id,))
    if not stored:
        return []
    found = [(lookup, display) for kind, lookup, display in stored if kind == "national_code"]
    club_cards = {lookup: display for kind, lookup, display in stored if kind == "club_card"}
    for run in audit.digit_runs(text):
        for lookup, _ in svc.card_keys.lookups("club_card", run):
            if lookup in club_cards:
                found.append((run, club_cards[lookup]))
    return found


def shares_value(svc: Host, tx: Tx, club_a: int, club_b: int) -> bool:
    """Whether two clubs are in a meta-club that shares value (C3)."""
    if club_a == club_b:
        return True
    key = ("shares_value", (min(club_a, club_b), max(club_a, club_b)))
    cached = svc.caches.get(key)
    if cached is not None:
        return bool(cached)
    row = tx.one(
        "SELECT 1 FROM meta_club_members a JOIN meta_club_members b ON a.meta_club_id = b.meta_club_id"
        " JOIN meta_clubs m ON m.id = a.meta_club_id WHERE a.club_id = ? AND b.club_id = ? AND m.share_value = ?",
        (club_a, club_b, True),
    )
    return bool(svc.caches.put(key, row is not None))


def check_cross_club_spend(svc: Host, tx: Tx, member_club: int, merchant_club: int, req: PurchaseRequest) -> None:
    """A member of another club (met through a meta-club) may earn here, but may spend their
    club's credit or points here only if the meta-club shares value."""
    spends = "redeem_credit_rial" if req.redeem_credit_rial > 0 else "redeem_points" if req.redeem_points > 0 else None
    if spends is not None and not shares_value(svc, tx, member_club, merchant_club):
        raise reject("credit_not_valid_at_merchant", path=spends)


def clubs_sharing_members(svc: Host, tx: Tx, root_club: int) -> list[int]:
    """The club itself plus clubs sharing members with it through a meta-club (C3)."""
    cached = svc.caches.get(("sharing", root_club))
    if cached is not None:
        return list(cached)
    rows = tx.all(
        "SELECT DISTINCT b.club_id FROM meta_club_members a JOIN meta_club_members b ON a.meta_club_id = b.meta_club_id"
        " JOIN meta_clubs m ON m.id = a.meta_club_id WHERE a.club_id = ? AND m.share_members = ?",
        (root_club, True),
    )
    return list(svc.caches.put(("sharing", root_club), [root_club] + [c for (c,) in rows if c != root_club]))


def resolve_member(svc: Host, tx: Tx, root_club: int, ref: MemberRef | None) -> tuple[int, int]:
    """(member_id, member's root club) for a reference, searching clubs that share members."""
    if ref is None:
        raise reject("unknown_member")
    clubs = clubs_sharing_members(svc, tx, root_club)
    marks = tx.placeholders(len(clubs))
    if ref.kind == "id":
        if not ref.value.isdigit() or int(ref.value) > MAX_MEMBER_ID:  # past BIGINT: no such member (not an SQL error)
            raise reject("unknown_member")
        row = tx.one(f"SELECT id, club_id FROM members WHERE id = ? AND club_id IN ({marks})", (int(ref.value), *clubs))
        if row is None:
            row = tx.one("SELECT id, club_id FROM members WHERE id = ?", (int(ref.value),))
            if row is None or svc.caches.root_club(tx, row[1]) not in clubs:
                raise reject("unknown_member")
        return int(row[0]), svc.caches.root_club(tx, row[1])
    forms = stored_forms(svc, ref.kind, ref.value)
    found = find_identifier(svc, tx, clubs, ref.kind, forms)
    if found is None and ref.kind == "account" and verify.member_id_refs(club_settings(tx, root_club)):
        # A development club may still name members by their (sequential, guessable) member id.
        return resolve_member(svc, tx, root_club, MemberRef("id", forms[0][0]))
    if found is None:
        raise reject("unknown_member")
    return found


def identify(svc: Host, club_id: int, member: MemberRef | int | dict[str, Any]) -> int:
    """The member id known by an identifier in a club (or a club sharing members with it)."""
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        return resolve_member(svc, tx, root, MemberRef.of(member))[0]


def enroll(
    svc: Host,
    club_id: int,
    *,
    idem_key: str,
    identifiers: list[tuple[str, str]],
    name_fa: str = "",
    referrer: MemberRef | int | dict[str, Any] | None = None,
    groups: list[int] | None = None,
    via: str = "api",
    merchant_id: int | None = None,
    shared_wallet_id: int | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Enrol a member (at a POS, in the panel, through the app or API: M1–M3): documented on ``Kimia.enroll``, the public face of this function."""
    idem_key = check_key(idem_key)
    if via not in ("pos", "panel", "app", "web", "api"):
        raise reject("invalid_request", path="via", detail="via is pos, panel, app, web or api")
    normalized = [(kind, *normalize_identifier(svc, kind, value)) for kind, value in identifiers]
    forms = [stored_forms(svc, kind, value) for kind, value in identifiers]
    body = {"op": "enroll", "club": club_id, "ids": [(k, l) for k, l, _ in normalized], "name": name_fa,
            "referrer": str(referrer), "groups": groups or [], "via": via}
    body_hash = request_hash(body)
    ref = MemberRef.of(referrer)

    def decide(tx: Tx, run: Run) -> dict[str, Any] | Post:
        now = run.now
        if merchant_id is not None and not svc.caches.merchant(tx, merchant_id).active:
            raise reject("unknown_merchant")  # a deactivated merchant enrols no one
        root = svc.caches.root_club(tx, club_id)
        run.flush_if(keys=[(root, idem_key)])
        existing = existing_answer(tx, root, idem_key, body_hash, 0)
        if existing is not None:
            return existing
        check_enrolment_refs(svc, tx, club_id, root, groups or [], merchant_id, shared_wallet_id)
        for (kind, _, _), stored in zip(normalized, forms):
            if find_identifier(svc, tx, [root], kind, stored) is not None:
                raise reject("identifier_taken", path=kind)
        referrer_id = resolve_member(svc, tx, root, ref)[0] if ref is not None else None
        rows = list(normalized)
        key_ids = [stored[0][1] for stored in forms]
        if not any(kind == "account" for kind, _, _ in rows):
            number = new_account_number(svc, tx, root)
            rows.append(("account", number, number))
            key_ids.append(None)
        op = OpRow(run.take_id(), root, idem_key, body_hash, "enroll", None, svc.caches.local_day(tx, root, now), now,
                   merchant_id=merchant_id, actor=actor)
        answer: dict[str, Any] = {}

        def insert(tx: Tx) -> None:
            """The member's rows, once the enrolment is sealed (its answer filled in)."""
            row = tx.one(
                "INSERT INTO members (club_id, name_fa, tier, referrer_id, shared_wallet_id, enrolled_by_merchant_id,"
                " enrolled_via, purchase_count, last_purchase_at, period_points, grace_used, frozen_until, manual_tier,"
                " created_at) VALUES (?,?,NULL,?,?,?,?,0,NULL,0,0,0,NULL,?) RETURNING id",
                (club_id, name_fa, referrer_id, shared_wallet_id, merchant_id, via, now),
            )
            op.member_id = int(row[0])
            tx.executemany(
                "INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at, key_id) VALUES (?,?,?,?,?,?,?)",
                [(root, op.member_id, kind, lookup, display, now, key) for (kind, lookup, display), key in zip(rows, key_ids)],
            )
            tx.executemany("INSERT INTO member_group_members (group_id, member_id) VALUES (?,?)", [(g, op.member_id) for g in groups or []])
            search_keys.write_words(tx, root, op.member_id, name_fa, replace=False)
            answer.update({"member_id": op.member_id, "identifiers": [{"kind": k, "display": d} for k, _, d in rows], "op_id": op.id})
            svc.announce(tx, "kimia_member_enrolled", club_id=root, member_id=op.member_id, via=via)
            svc.emit(tx, "member.enrolled", club_id=root, key=f"member:{op.member_id}", member_id=op.member_id,
                     payload={"member_id": op.member_id, "member_club_id": club_id, "via": via, "merchant_id": merchant_id,
                              "name": name_fa, "op_id": op.id})

        return Post(answer, [Posting(op, "done", answer, then=insert)])

    enrolled: dict[str, Any] = svc.write(svc.posting(decide))
    return enrolled


def new_account_number(svc: Host, tx: Tx, root: int) -> str:
    """A random 12-digit account number, free in the club: how a member is named on the wire
    (``MK`` ``A:``) without a guessable sequential id."""
    while True:
        number = str(10**11 + secrets.randbelow(9 * 10**11))
        if tx.one("SELECT 1 FROM member_identifiers WHERE club_id = ? AND kind = 'account' AND lookup = ?", (root, number)) is None:
            return number


def account_number(svc: Host, member_id: int) -> str | None:
    """The member's account number (``MK`` ``A:<number>``), if they have one."""
    with svc.reading() as tx:
        row = tx.one("SELECT lookup FROM member_identifiers WHERE member_id = ? AND kind = 'account' ORDER BY id LIMIT 1", (member_id,))
    return str(row[0]) if row else None


def bind_identifier(
    svc: Host,
    club_id: int,
    member: MemberRef | int | dict[str, Any],
    kind: str,
    value: str,
    *,
    idem_key: str | None = None,
    proof: Proof | None = None,
    actor: str | None = None,
    merchant_id: int | None = None,
    terminal_id: int | None = None,
) -> dict[str, Any]:
    """Bind another identifier (e.g: documented on ``Kimia.bind_identifier``, the public face of this function."""
    lookup, display = normalize_identifier(svc, kind, value)
    forms = stored_forms(svc, kind, value)
    ref = MemberRef.of(member)
    idem_key = check_key(idem_key or f"bind:{secrets.token_hex(12)}")
    body_hash = request_hash({"op": "bind", "club": club_id, "member": member_key(svc, ref), "kind": kind, "lookup": lookup})
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        member_id, member_club = resolve_member(svc, tx, root, ref)
        accepted = verify.policy(club_settings(tx, member_club), "bind")
    if member_club != root:
        raise reject("unknown_member")  # a member of another club (met through a meta-club) is not bound here
    if actor is None:
        prove(svc, member_id, member_club, accepted, proof or Proof())

    def work(tx: Tx) -> dict[str, Any]:
        now = svc.clock()
        existing = existing_answer(tx, root, idem_key, body_hash, 0)
        if existing is not None:
            return existing
        own_member(svc, tx, root, member_id)
        owner = find_identifier(svc, tx, [root], kind, forms)
        response = {"member_id": member_id, "kind": kind, "display": display}
        if owner is not None:
            if owner[0] != member_id:
                raise reject("identifier_taken", path=kind)
            return response  # already theirs: nothing changes
        tx.execute(
            "INSERT INTO member_identifiers (club_id, member_id, kind, lookup, display, created_at, key_id) VALUES (?,?,?,?,?,?,?)",
            (root, member_id, kind, forms[0][0], display, now, forms[0][1]),
        )
        op_id = new_op(svc, tx, club_id=root, idem_key=idem_key, body_hash=body_hash, kind="bind", member_id=member_id,
                             merchant_id=merchant_id, terminal_id=terminal_id, actor=actor, now=now)
        response = {**response, "op_id": op_id}
        finish_op(svc, tx, op_id, "done", response, None)
        who = actor or actor_of(merchant_id, terminal_id, None) or "member"
        audit.append(tx, club_id=root, actor=who, action="bind_identifier", reason="operator" if actor else "cardholder verified",
                     payload={"member_id": member_id, "kind": kind, "display": display, "op_id": op_id}, at=now,
                     secrets=[(value, display)])
        return response

    return svc.write(work)


def own_member(svc: Host, tx: Tx, root: int, member_id: int, path: str = "member_id") -> None:
    """Refuse a member id that is not of the club ``root`` (or one of its sub-clubs) as unknown."""
    row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
    if row is None or svc.caches.root_club(tx, int(row[0])) != root:
        raise reject("unknown_member", path=path)


def check_enrolment_refs(svc: Host, tx: Tx, club_id: int, root: int, groups: list[int], merchant_id: int | None,
                          shared_wallet_id: int | None) -> None:
    """The club, member groups, enrolling merchant and shared wallet of an enrolment must all be
    of one club's tree: else a member would join another club's group or wallet."""
    if svc.caches.root_club(tx, club_id) != root:
        raise reject("unknown_club")
    for i, group in enumerate(groups):
        found = tx.one("SELECT club_id FROM member_groups WHERE id = ?", (group,))
        if found is None or svc.caches.root_club(tx, int(found[0])) != root:
            raise reject("foreign_reference", path=f"groups[{i}]", kind="member group", id=group)
    if merchant_id is not None and svc.caches.merchant(tx, merchant_id).root_club_id != root:
        raise reject("foreign_reference", path="merchant_id", kind="merchant", id=merchant_id)
    if shared_wallet_id is not None:
        found = tx.one("SELECT club_id FROM shared_wallets WHERE id = ?", (shared_wallet_id,))
        if found is None or svc.caches.root_club(tx, int(found[0])) != root:
            raise reject("foreign_reference", path="shared_wallet_id", kind="shared wallet", id=shared_wallet_id)


def member_balances(svc: Host, merchant_id: int, member: MemberRef | int | dict[str, Any] | None) -> dict[str, Any]:
    """Points, and credit spendable at this merchant, of the member (a balance inquiry)."""
    with svc.reading() as tx:
        merchant = svc.caches.merchant(tx, merchant_id)
        member_id, member_club = resolve_member(svc, tx, merchant.root_club_id, MemberRef.of(member))
        snapshot = load_member(tx, member_id, merchant_id=merchant_id, today=local_day(svc.clock(), merchant.utc_offset_min), club_id=member_club, lots="credit",
                               ledger_club=member_club)
        if member_club != merchant.root_club_id and not shares_value(svc, tx, member_club, merchant.root_club_id):
            snapshot["lots"] = []
            snapshot["accounts"] = [a for a in snapshot["accounts"] if core.account_info(a["account"]).kind != "credit_line"]
        book = svc.caches.rulebook(tx, merchant.root_club_id, now=svc.clock())
    # What the member can spend here and what they hold, as the core counts them at a purchase
    # and on a receipt (balance_credit_rial).
    holder = core.Member(snapshot)
    spendable = book.spendable_credit(holder, merchant_id=merchant_id, merchant_groups=list(merchant.groups), now=svc.clock())
    return {"member_id": member_id, "points": holder.points, "credit_rial": spendable, "credit_total_rial": holder.credit_held_rial,
            "tier": snapshot["tier"]}


def member_root_club(svc: Host, tx: Tx, member_id: int) -> int:
    row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
    if row is None:
        raise reject("unknown_member")
    return svc.caches.root_club(tx, int(row[0]))
