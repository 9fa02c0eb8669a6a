"""What a member's reader sees (SPEC M1-M5, CH2/CH3/CH5): the profile with masked identifiers,
balances per account, lots with their expiry, tier history, the history of operations with each
decision's explanation, lottery entries, and the member's referral code.

Every read is scoped by the *viewer's* root club (the caller's club tree), never by the member
alone: a club sharing members with the member's club through a meta-club (C3) sees the member,
but sees their value (balances, lots) only if the meta-club shares value too, and sees only the
operations and member groups of its own tree. The caller checks first that the viewer may read
the member at all (``kimia.web.api.endpoint.Ctx.member``); these functions narrow what they show.

Card numbers are never here: ``member_identifiers.display`` holds only a mask (a bank or club
card's last 4, a national code's first and last 3).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import kimia._core as core
from kimia import identifiers as ids
from kimia.errors import Phrase, reject
from kimia.service.host import Host
from kimia.service.members import shares_value
from kimia.service.sql import Tx

#: Operation kinds that are markers rather than something that happened to the member.
HIDDEN_KINDS = ("refusal", "timeout", "void")
#: Letters of a referral code: no 0/O, 1/I/L, so a code read aloud or typed from paper survives.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def member_row(svc: Host, tx: Tx, member_id: int) -> tuple[int, int]:
    """(the member's own club, their root club: the ledger their value lives in)."""
    row = tx.one("SELECT club_id FROM members WHERE id = ?", (member_id,))
    if row is None:
        raise reject("unknown_member", path="member_id")
    return int(row[0]), svc.caches.root_club(tx, int(row[0]))


def masked_identifiers(svc: Host, tx: Tx, member_id: int) -> list[dict[str, Any]]:
    """The member's identifiers as stored for display (cards masked), oldest first."""
    rows = tx.all("SELECT kind, display, created_at FROM member_identifiers WHERE member_id = ? ORDER BY id", (member_id,))
    return [{"kind": kind, "display": display, "created_at": int(at)} for kind, display, at in rows]


def profile(svc: Host, viewer_root: int, member_id: int) -> dict[str, Any]:
    """The member: name, account number, tier, the viewer's member groups they are in,
    identifiers (masked), how and when they enrolled."""
    with svc.reading() as tx:
        club_id, root = member_row(svc, tx, member_id)
        row = tx.one("SELECT name_fa, tier, manual_tier, enrolled_via, purchase_count, last_purchase_at, created_at, referrer_id"
                     " FROM members WHERE id = ?", (member_id,))
        assert row is not None
        groups = tx.all("SELECT g.id, g.club_id, g.name_fa FROM member_group_members m JOIN member_groups g ON g.id = m.group_id"
                        " WHERE m.member_id = ? ORDER BY g.id", (member_id,))
        visible_groups = [{"id": int(g), "name_fa": name} for g, club, name in groups if svc.caches.root_club(tx, int(club)) == viewer_root]
        identifiers = masked_identifiers(svc, tx, member_id)
    name_fa, tier, manual_tier, via, purchases, last_at, created_at, referrer_id = row
    account = next((i["display"] for i in identifiers if i["kind"] == "account"), None)
    return {"member_id": member_id, "club_id": club_id, "name_fa": name_fa, "account_number": account, "tier": tier,
            "manual_tier": manual_tier, "groups": visible_groups, "identifiers": identifiers, "enrolled_via": via,
            "purchase_count": int(purchases), "last_purchase_at": last_at, "created_at": int(created_at),
            "referred": referrer_id is not None and root == viewer_root}


def _owners(tx: Tx, member_id: int) -> list[str]:
    """The ledger owners whose value the member holds: themselves and their shared wallet."""
    row = tx.one("SELECT shared_wallet_id FROM members WHERE id = ?", (member_id,))
    wallet = row[0] if row is not None else None
    return [f"member:{member_id}"] + ([f"group:{wallet}"] if wallet is not None else [])


def balances(svc: Host, viewer_root: int, member_id: int) -> dict[str, Any]:
    """The member's accounts (their own and their shared wallet's) with each account's kind, unit
    and scope as the core names them, and the totals: points and credit held. A viewer that does
    not share value with the member's club sees no accounts."""
    with svc.reading() as tx:
        _, root = member_row(svc, tx, member_id)
        if not shares_value(svc, tx, viewer_root, root):
            return {"member_id": member_id, "points": 0, "credit_held_rial": 0, "accounts": []}
        owners = _owners(tx, member_id)
        rows = tx.all(f"SELECT account, owner, balance, credit_limit FROM balances WHERE club_id = ?"
                      f" AND owner IN ({tx.placeholders(len(owners))}) ORDER BY id", (root, *owners))
    accounts = []
    for account, owner, balance, limit in rows:
        info = core.account_info(account)
        accounts.append({"account": account, "kind": info.kind, "unit": info.unit, "scope": info.scope, "balance": int(balance),
                         "credit_limit": int(limit), "shared": owner != f"member:{member_id}", "credit_held": info.is_credit_held})
    points = sum(a["balance"] for a in accounts if a["unit"] == "point")
    held = sum(a["balance"] for a in accounts if a["credit_held"])
    return {"member_id": member_id, "points": points, "credit_held_rial": held, "accounts": accounts}


def lots(svc: Host, viewer_root: int, member_id: int, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """The member's open lots (something left in them), soonest to expire first as spending draws
    them (no expiry last), from ``offset``. A viewer that does not share value sees none."""
    with svc.reading() as tx:
        _, root = member_row(svc, tx, member_id)
        if not shares_value(svc, tx, viewer_root, root):
            return []
        owners = _owners(tx, member_id)
        rows = tx.all(
            f"SELECT id, owner, account, original, remaining, expires_at, pending_until FROM lots WHERE club_id = ?"
            f" AND owner IN ({tx.placeholders(len(owners))}) AND remaining > 0"
            " ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id LIMIT ? OFFSET ?",
            (root, *owners, limit, offset))
    return [{"lot_id": lot_id, "account": account, "kind": core.account_info(account).kind, "unit": core.account_info(account).unit,
             "original": int(original), "remaining": int(remaining), "expires_at": expires, "pending_until": pending,
             "shared": owner != f"member:{member_id}"}
            for lot_id, owner, account, original, remaining, expires, pending in rows]


def tier_history(svc: Host, member_id: int, *, before_id: int, limit: int) -> list[dict[str, Any]]:
    """The member's tier moves at period closes, newest first, before ``before_id`` (0: from the newest)."""
    with svc.reading() as tx:
        _, root = member_row(svc, tx, member_id)
        bound = " AND id < ?" if before_id else ""
        rows = tx.all(
            "SELECT id, period_end, from_tier, to_tier, reason, period_points, deducted_points FROM tier_history"
            f" WHERE member_id = ? AND club_id = ?{bound} ORDER BY id DESC LIMIT ?",
            (member_id, root, *([before_id] if before_id else []), limit))
    keys = ("id", "period_end", "from_tier", "to_tier", "reason", "period_points", "deducted_points")
    return [dict(zip(keys, row)) for row in rows]


def history(svc: Host, viewer_root: int, member_id: int, *, before_id: int, limit: int) -> list[dict[str, Any]]:
    """The member's operations in the viewer's club, newest first, before ``before_id`` (0: from
    the newest), each with its receipt's amounts and explanation in Persian and English."""
    bound = " AND id < ?" if before_id else ""
    with svc.reading() as tx:
        rows = tx.all(
            "SELECT id, kind, status, merchant_id, amount_rial, refunded_rial, original_op_id, created_at, response"
            f" FROM operations WHERE member_id = ? AND club_id = ? AND kind NOT IN (?, ?, ?){bound} ORDER BY id DESC LIMIT ?",
            (member_id, viewer_root, *HIDDEN_KINDS, *([before_id] if before_id else []), limit))
    return [_history_item(row) for row in rows]


def _history_item(row: tuple[Any, ...]) -> dict[str, Any]:
    op_id, kind, status, merchant_id, amount, refunded, original, created_at, response = row
    receipt = response if isinstance(response, dict) else json.loads(response or "{}")
    return {
        "op_id": int(op_id), "kind": kind, "status": status, "merchant_id": merchant_id, "original_op_id": original,
        "amount_rial": int(amount), "refunded_rial": int(refunded), "created_at": int(created_at),
        "discount_rial": int(receipt.get("discount_rial") or 0), "payable_rial": int(receipt.get("payable_rial") or 0),
        "credit_used_rial": int(receipt.get("credit_used_rial") or 0), "points_earned": int(receipt.get("points_earned") or 0),
        "points_redeemed": int(receipt.get("points_redeemed") or 0),
        "applied_rules": [str(r) for r in receipt.get("applied_rules") or []],
        "explanation_fa": [str(line) for line in receipt.get("explanation_fa") or []],
        "explanation_en": [str(line) for line in receipt.get("explanation_en") or []],
    }


def lottery_entries(svc: Host, viewer_root: int, member_id: int) -> list[dict[str, Any]]:
    """The member's entries per lottery (lottery id ascending): the lottery's name and state and
    whether the member won. A viewer sees lotteries of its own tree, and the rest of the member's
    ledger only if it shares value with the member's club."""
    with svc.reading() as tx:
        _, root = member_row(svc, tx, member_id)
        rows = tx.all("SELECT account, balance FROM balances WHERE club_id = ? AND owner = ? AND account LIKE ? AND balance > 0",
                      (root, f"member:{member_id}", f"member:{member_id}/lottery_entries@lottery:%"))
        found = []
        for account, entries in rows:
            lottery_id = int(str(core.account_info(account).scope).split(":")[1])
            lottery = tx.one("SELECT club_id, name_fa, status, drawn_at FROM lotteries WHERE id = ?", (lottery_id,))
            if lottery is None:
                continue
            lottery_root = svc.caches.root_club(tx, int(lottery[0]))
            if lottery_root != viewer_root and not shares_value(svc, tx, viewer_root, root):
                continue
            won = tx.all("SELECT rank, prize FROM lottery_winners WHERE lottery_id = ? AND member_id = ?", (lottery_id, member_id))
            found.append({"lottery_id": lottery_id, "name_fa": lottery[1], "status": lottery[2], "drawn_at": lottery[3],
                          "entries": int(entries), "won": [{"rank": int(r), "prize": p} for r, p in won]})
    return sorted(found, key=lambda e: int(e["lottery_id"]))


def referral_code(svc: Host, viewer_root: int, member_id: int) -> dict[str, Any]:
    """The member's referral code, made on first ask (one per member, unique in their club). Only
    the member's own club hands it out: a newcomer names it when enrolling in that club."""
    with svc.reading() as tx:
        _, root = member_row(svc, tx, member_id)
        found = tx.one("SELECT code, created_at FROM referral_codes WHERE member_id = ?", (member_id,))
    if root != viewer_root:
        raise reject("unknown_member", path="member_id")
    if found is not None:
        return {"member_id": member_id, "code": found[0], "created_at": int(found[1])}

    def make(tx: Tx) -> dict[str, Any]:
        now = svc.clock()
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if tx.one("SELECT 1 FROM referral_codes WHERE club_id = ? AND code = ?", (root, code)) is None:
                break
        # Two first asks at once: the second finds the first's row and answers with it.
        tx.execute("INSERT INTO referral_codes (member_id, club_id, code, created_at) VALUES (?,?,?,?)"
                   " ON CONFLICT (member_id) DO NOTHING", (member_id, root, code, now))
        row = tx.one("SELECT code, created_at FROM referral_codes WHERE member_id = ?", (member_id,))
        assert row is not None
        return {"member_id": member_id, "code": row[0], "created_at": int(row[1])}

    return svc.write(make)


def normalize_code(code: str) -> str:
    """A referral code as typed (Persian digits, lower case, spaces, dashes) in its stored form."""
    return "".join(ids.normalize_digits(code).split()).replace("-", "").upper()


def referrer_of_code(svc: Host, club_id: int, code: str, path: str = "referred_by_code") -> int:
    """The member of ``club_id``'s tree whose referral code ``code`` is; ``field_invalid`` at ``path`` otherwise."""
    wanted = normalize_code(code)
    with svc.reading() as tx:
        root = svc.caches.root_club(tx, club_id)
        row = tx.one("SELECT member_id FROM referral_codes WHERE club_id = ? AND code = ?", (root, wanted))
    if row is None:
        raise reject("field_invalid", path=path,
                     detail=Phrase("no member of this club has this referral code", "هیچ عضوی از این باشگاه چنین کد معرفی ندارد"))
    return int(row[0])
