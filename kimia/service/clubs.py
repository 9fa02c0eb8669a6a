"""Clubs, merchants and terminals as operations see them: a club's settings and tree, its points
conversion, a merchant's club, a registered terminal."""

from __future__ import annotations

import json
import logging
from typing import Any

import kimia._core as core
from kimia import identifiers as ids
from kimia.errors import reject
from kimia.service import audit
from kimia.service.context import MerchantContext, TerminalContext
from kimia.service.host import Host
from kimia.service.requests import PurchaseRequest
from kimia.service.sql import Tx

log = logging.getLogger(__name__)


def find_terminal(svc: Host, terminal_code: str, merchant_code: str) -> TerminalContext:
    """A registered, active terminal (field 41 + 42), or ``unknown_terminal``."""
    with svc.reading() as tx:
        return svc.caches.terminal(tx, terminal_code.strip(), merchant_code.strip())


def record_for_review(svc: Host, merchant_id: int, action: str, payload: dict[str, Any]) -> None:
    """Record something an operator should look at (e.g. an advice that could not be applied)."""

    def work(tx: Tx) -> None:
        club = svc.caches.merchant(tx, merchant_id).root_club_id
        audit.append(tx, club_id=club, actor=f"terminal:{merchant_id}", action=action, reason="for review", payload=payload,
                     at=svc.clock())

    svc.write(work)


def merchant_club(svc: Host, merchant_id: int) -> int:
    """The club whose ledger a merchant belongs to; ``unknown_merchant`` for a deactivated one: documented on ``Kimia.merchant_club``, the public face of this function."""
    with svc.reading() as tx:
        merchant = svc.caches.merchant(tx, merchant_id)
    if not merchant.active:
        raise reject("unknown_merchant")
    return merchant.root_club_id


def club_settings(tx: Tx, club_id: int) -> dict[str, Any]:
    row = tx.one("SELECT settings FROM clubs WHERE id = ?", (club_id,))
    if row is None:
        raise reject("unknown_club")
    return row[0] if isinstance(row[0], dict) else json.loads(row[0] or "{}")


def conversion_settings(svc: Host, tx: Tx, root_club: int) -> dict[str, Any]:
    """The club's points → rial conversion settings (V1), as the core reads them."""
    conversion = {"club_id": root_club, **club_settings(tx, root_club).get("conversion", {})}
    if isinstance(conversion.get("by_group"), dict):
        # JSON object keys are strings; the core wants member-group ids.
        conversion["by_group"] = {int(k): v for k, v in conversion["by_group"].items()}
    return conversion


def purchase_conversion(svc: Host, tx: Tx, merchant: MerchantContext, req: PurchaseRequest) -> dict[str, Any] | None:
    """The conversion settings a purchase needs: only one that redeems points reads them."""
    return conversion_settings(svc, tx, merchant.root_club_id) if req.redeem_points > 0 else None


def club_tree(tx: Tx, root: int) -> list[int]:
    """A club and all its sub-clubs, at any depth."""
    clubs, frontier = [root], [root]
    while frontier and len(clubs) < 10_000:
        children = [c for (c,) in tx.all(f"SELECT id FROM clubs WHERE parent_id IN ({tx.placeholders(len(frontier))})", tuple(frontier))]
        clubs.extend(children)
        frontier = children
    return clubs


